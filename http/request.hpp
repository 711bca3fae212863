// request: the one request actor of the chat API (/api) and the operator API (/admin/api,
// /metrics), and the helpers its route handlers share (internal to http/).
//
// Each request is served by a short-lived actor spawned for it: it parses the target and
// the body, finds the route, checks the caller, runs the handler, and answers exactly once
// through the transport's responder, then quits. Every request a handler makes has a
// timeout, so the actor always ends. Operator calls are audited (actors/admin_worker.hpp)
// before their answer leaves.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "accounts/accounts.hpp"
#include "actors/admin_worker.hpp"
#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "http/json_body.hpp"
#include "http/target.hpp"
#include "transport/server.hpp"

namespace sb::http {

using transport::http_request;
using transport::http_response;

/// What one request actor holds.
struct request_state {
  actors::node_context_ptr ctx;
  std::function<void(http_response)> respond;
  http_request req;
  target tgt;
  /// Path arguments of the matched route: ("id", "42") for "/api/channels/{id}".
  std::vector<std::pair<std::string_view, std::string_view>> args;
  body_fields body;
  /// The authenticated caller (chat API routes that need one) and their token.
  accounts::user who;
  std::string token;
  /// Set for operator calls: recorded when the answer leaves.
  std::optional<actors::audit_record> audit;
  /// The error code of a failed answer, for the audit record.
  std::string error_code;
  bool answered = false;
  static inline const char* name = "http_request";
};

using request_actor = caf::stateful_actor<request_state>;

/// The path argument `name` of the matched route (still percent-encoded).
std::string_view arg(request_actor* self, std::string_view name);

/// Answers once (audits an operator call first) and ends the actor.
void answer(request_actor* self, http_response r);

/// A JSON answer.
http_response json(unsigned status, std::string body);

/// The API's error JSON: {"code":..,"message":..}.
http_response error(unsigned status, std::string_view code, std::string_view message);

/// An error that says when to come back (429 rate_limited, 503 overloaded): the error JSON
/// plus "retry_ms", and a `Retry-After` header in whole seconds, rounded up.
http_response retry_error(unsigned status, std::string_view code, std::string_view message,
                          int64_t retry_ms);

/// An error of an actor request (chat, accounts, timeouts) as the chat API reports it
/// (with Retry-After and retry_ms when the error carries a retry hint).
http_response error(const caf::error& err);

/// Parses the request's body by `schema` into the state; false after answering 400 with
/// the frame parser's code (bad_json, bad_utf8, wrong_type, bad_value) naming the field.
bool take_body(request_actor* self, body_schema schema);

/// Answers 200 with `body`.
void ok(request_actor* self, std::string body);

/// Answers the error JSON (and remembers `code` for the audit record).
void fail(request_actor* self, unsigned status, std::string_view code, std::string_view message);

/// Answers an actor request's error as the chat API reports it.
void fail(request_actor* self, const caf::error& err);

/// Answers a refusal the client may retry: {"code","message","retry_ms"} plus a
/// `Retry-After` header (whole seconds, rounded up).
void fail_retry(request_actor* self, unsigned status, std::string_view code,
                std::string_view message, int64_t retry_ms);

/// Spends one history/thread read of the caller's and the client IP's read budgets
/// (actors/budgets.hpp; none when the node has no budgets). False after answering 429
/// `rate_limited` with the time to retry.
bool spend_read_budget(request_actor* self);

} // namespace sb::http
