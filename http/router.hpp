// router: the route tables of the chat and operator APIs. A route is a method, a pattern
// ("/api/channels/{id}/read": literal segments and `{name}` arguments) and a handler.
// A path that matches some route but not the method is 405 with an `Allow` header naming
// the methods its routes take; a path no route matches is 404.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/request.hpp"

namespace sb::http {

/// Who may call a route.
enum class access {
  open,  ///< anyone (signup, login, /metrics)
  user,  ///< a logged-in chat user (Bearer session token)
  admin, ///< the operator (Bearer admin token); audited
};

using handler = void (*)(request_actor*);

/// One route.
struct route {
  std::string_view method;
  std::string_view pattern;
  access who = access::user;
  handler fn = nullptr;
};

/// The routes of one API, matched against a path's segments.
class route_table {
public:
  explicit route_table(std::vector<route> routes);

  /// The result of a lookup.
  struct match {
    const route* hit = nullptr; ///< the route of this method and path, if any
    /// Methods of the routes matching the path ("GET, POST"); empty: unknown path.
    std::string allow;
    /// Path arguments of `hit`.
    std::vector<std::pair<std::string_view, std::string_view>> args;
  };

  /// Looks up `method` on `segments` (views into `segments` go into `args`).
  match find(std::string_view method, const std::vector<std::string>& segments) const;
  /// A temporary would leave `args` dangling: refused at compile time.
  match find(std::string_view method, std::vector<std::string>&& segments) const = delete;

private:
  struct entry {
    route r;
    std::vector<std::string_view> parts;
  };
  std::vector<entry> entries_;
};

/// Answers 405 with `Allow: allow` and a JSON error `method_not_allowed`.
void method_not_allowed(request_actor* self, const std::string& allow);

// The route files (one per resource), each adding its routes.
void add_account_routes(std::vector<route>& out);
void add_channel_routes(std::vector<route>& out);
void add_message_routes(std::vector<route>& out);
void add_workspace_routes(std::vector<route>& out);
void add_read_state_routes(std::vector<route>& out);
void add_admin_topology_routes(std::vector<route>& out);
void add_admin_action_routes(std::vector<route>& out);
void add_admin_cluster_routes(std::vector<route>& out);
void add_metrics_routes(std::vector<route>& out);

} // namespace sb::http
