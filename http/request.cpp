// request: the request actor, its dispatch and the shared answer helpers (request.hpp).
#include "http/request.hpp"
#include "http/serve.hpp"

#include <algorithm>
#include <cctype>

#include <sodium.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/account_home.hpp"
#include "actors/budgets.hpp"
#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "actors/chat_messages.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "http/router.hpp"
#include "http/static_files.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/clock.hpp"
#include "runtime/registry.hpp"

namespace sb::http {

namespace {

unsigned status_of(std::string_view code) {
  if (code == "forbidden")
    return 403;
  if (code == "not_found")
    return 404;
  if (code == "rate_limited")
    return 429;
  if (code == "archived")
    return 409;
  if (code == "deleted")
    return 410;
  if (code == "overloaded" || code == "unavailable" || code == "timeout")
    return 503;
  if (code == "storage_failed" || code == "internal")
    return 500;
  return 400;
}

http_response account_error_response(const accounts::error& err) {
  auto code = accounts::to_string(err.code);
  unsigned status = 400;
  switch (err.code) {
    case accounts::errc::invalid_credentials:
    case accounts::errc::invalid_token: status = 401; break;
    case accounts::errc::name_taken: status = 409; break;
    case accounts::errc::not_found: status = 404; break;
    case accounts::errc::forbidden: status = 403; break;
    case accounts::errc::storage: status = 500; break;
    case accounts::errc::rate_limited:
      return retry_error(429, code, err.message, static_cast<int64_t>(std::max<uint64_t>(1, err.retry_ms)));
    default: break;
  }
  return error(status, code, err.message);
}

const route_table& api_routes() {
  static const route_table table{[] {
    std::vector<route> r;
    add_account_routes(r);
    add_channel_routes(r);
    add_message_routes(r);
    add_workspace_routes(r);
    add_read_state_routes(r);
    return r;
  }()};
  return table;
}

const route_table& admin_routes() {
  static const route_table table{[] {
    std::vector<route> r;
    add_admin_topology_routes(r);
    add_admin_action_routes(r);
    add_admin_cluster_routes(r);
    add_metrics_routes(r);
    return r;
  }()};
  return table;
}

/// The operator side's open doors: metrics and the health probes.
bool is_open_admin_path(std::string_view path) {
  return path == "/metrics" || path == "/healthz" || path == "/readyz";
}

/// True for the operator side: the open doors and everything under /admin/api.
bool is_admin_path(std::string_view path) {
  return is_open_admin_path(path) || path == "/admin/api" || path.substr(0, 11) == "/admin/api/";
}

constexpr std::string_view bearer_prefix = "Bearer ";

/// The token of `Authorization: Bearer <token>`, or "".
std::string_view bearer(std::string_view authorization) {
  if (authorization.size() > bearer_prefix.size()
      && authorization.substr(0, bearer_prefix.size()) == bearer_prefix)
    return authorization.substr(bearer_prefix.size());
  return {};
}

/// Constant-time token check: both sides are hashed first, so neither the comparison
/// nor its length check depends on where the strings differ.
bool token_matches(std::string_view given, const std::string& expected) {
  unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
  crypto_generichash(a, sizeof a, reinterpret_cast<const unsigned char*>(given.data()),
                     given.size(), nullptr, 0);
  crypto_generichash(b, sizeof b, reinterpret_cast<const unsigned char*>(expected.data()),
                     expected.size(), nullptr, 0);
  return sodium_memcmp(a, b, sizeof a) == 0;
}

/// True when the request has no body or declares it JSON. A browser may send a cross-site
/// "simple" POST (text/plain, form types) without asking first; a JSON body it may not, so
/// requiring the type keeps another site's page from writing (docs/protocol.md).
bool json_or_empty(const http_request& req) {
  if (req.body.empty())
    return true;
  std::string_view type{req.content_type};
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
    type.remove_prefix(1);
  constexpr std::string_view want = "application/json";
  return type.size() == want.size()
         && std::equal(type.begin(), type.end(), want.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            });
}

/// Runs the matched route, or answers 404 / 405.
void dispatch(request_actor* self, route_table::match& m) {
  if (!m.hit) {
    if (!m.allow.empty())
      return method_not_allowed(self, m.allow);
    return fail(self, 404, "not_found", "no such endpoint");
  }
  self->state.args = std::move(m.args);
  m.hit->fn(self);
}

/// /api: body, public routes, then the session token.
void serve_api(request_actor* self) {
  auto& st = self->state;
  if (!st.tgt.path_ok)
    return fail(self, 400, "bad_request", "malformed request target");
  if (!take_body(self, body_schema::api))
    return;
  auto m = api_routes().find(st.req.method, st.tgt.segments);
  if (m.hit && m.hit->who == access::open)
    return dispatch(self, m);
  st.token = std::string{bearer(st.req.authorization)};
  if (st.token.empty())
    return fail(self, 401, "unauthorized", "send Authorization: Bearer <token>");
  auto proceed = [self, m](accounts::user who) mutable {
    auto& s = self->state;
    s.who = std::move(who);
    if (s.tgt.bad_query)
      return fail(self, 400, "bad_value", "malformed query string");
    dispatch(self, m);
  };
  // The token names its user's home (accounts/accounts.hpp): here, or a peer's router.
  auto home = actors::route_home(*st.ctx, accounts::home_of_token(st.token));
  if (home.at == actors::channel_route::where::local) {
    auto who = st.ctx->accounts->authenticate(st.token);
    if (!who)
      return fail(self, 401, "invalid_token", "invalid or expired token");
    return proceed(std::move(*who));
  }
  if (home.at == actors::channel_route::where::unavailable)
    return fail(self, home.error);
  actors::ask_peer<actors::user_card>(
    self, st.ctx, home.owner, std::chrono::seconds(5),
    [proceed](actors::user_card& who) mutable { proceed(actors::user_of_card(who)); },
    [self](caf::error err) {
      if (err.category() == caf::atom("sb_acct"))
        return fail(self, 401, "invalid_token", "invalid or expired token");
      fail(self, err);
    },
    actors::authenticate_atom::value, st.token);
}

/// /admin/api, /metrics and the health probes: the last three are open; the rest needs
/// the admin token and is audited (reads included).
void serve_admin(request_actor* self) {
  auto& st = self->state;
  auto m = admin_routes().find(st.req.method, st.tgt.segments);
  if (is_open_admin_path(st.tgt.path))
    return dispatch(self, m);
  actors::chat_metrics::get().admin_requests.inc();
  auto& audit = st.audit.emplace();
  audit.method = st.req.method.substr(0, 16);
  audit.path = st.tgt.path.substr(0, 256);
  audit.query = st.tgt.query.substr(0, 256);
  auto token = bearer(st.req.authorization);
  audit.who = token.empty() ? "anonymous" : "invalid-token";
  if (st.ctx->admin_token.empty()) {
    st.audit.reset(); // nothing to protect, nothing to audit
    return fail(self, 404, "admin_disabled", "the admin API is disabled (no --admin-token)");
  }
  if (token.empty())
    return fail(self, 401, "unauthorized", "send Authorization: Bearer <admin token>");
  // Guessing is limited per client IP: past its failures budget a caller is refused
  // before its token is compared (a right guess would not pass either).
  auto* budgets = st.ctx->budgets.get();
  auto ip = actors::peer_key(st.req.remote);
  auto now = runtime::now_ms();
  if (budgets)
    if (auto wait = budgets->admin_failures_per_ip.wait_ms(ip, now); wait > 0)
      return fail_retry(self, 429, "rate_limited", "too many failed admin authentications", wait);
  if (!token_matches(token, st.ctx->admin_token)) {
    if (budgets)
      if (auto wait = budgets->admin_failures_per_ip.spend(ip, now); wait > 0)
        return fail_retry(self, 429, "rate_limited", "too many failed admin authentications", wait);
    return fail(self, 401, "unauthorized", "invalid admin token");
  }
  audit.who = "admin-token";
  if (st.tgt.bad_query)
    return fail(self, 400, "bad_value", "malformed query string");
  dispatch(self, m);
}

caf::behavior request_impl(request_actor* self, actors::node_context_ptr ctx, http_request req,
                           std::function<void(http_response)> respond) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.respond = std::move(respond);
  st.req = std::move(req);
  auto raw_path = std::string_view{st.req.target}.substr(0, st.req.target.find('?'));
  bool admin = is_admin_path(raw_path);
  st.tgt = parse_target(st.req.target, admin);
  bool api = st.tgt.path_ok ? !st.tgt.segments.empty() && st.tgt.segments[0] == "api"
                            : raw_path == "/api" || raw_path.substr(0, 5) == "/api/";
  if ((admin || api) && !json_or_empty(st.req))
    fail(self, 415, "unsupported_media_type",
         "send a request body as Content-Type: application/json");
  else if (admin)
    serve_admin(self);
  else if (api)
    serve_api(self);
  else
    answer(self, static_files::serve(st.req.method, st.req.target)); // web client, console
  if (st.answered)
    return {};
  // Alive until its requests answer (every one has a timeout), then answer() quits.
  return {[](actors::idle_atom, uint64_t) {}};
}

} // namespace

std::string_view arg(request_actor* self, std::string_view name) {
  for (auto& [k, v] : self->state.args)
    if (k == name)
      return v;
  return {};
}

void answer(request_actor* self, http_response r) {
  auto& st = self->state;
  if (st.answered)
    return;
  st.answered = true;
  if (st.audit) {
    // Audited before the answer leaves, so a client reading the audit log next sees it.
    st.audit->status = r.status;
    st.audit->code = r.status < 400 ? "ok" : st.error_code;
    if (auto w = actors::find_actor<actors::admin_worker_actor>(*st.ctx,
                                                                  actors::admin_worker_name()))
      self->send(w, actors::audit_atom::value, std::move(*st.audit));
  }
  st.respond(std::move(r));
  self->quit();
}

http_response json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response error(unsigned status, std::string_view code, std::string_view message) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("code", code).field("message", message).end_object();
  return json(status, std::move(out));
}

http_response retry_error(unsigned status, std::string_view code, std::string_view message,
                          int64_t retry_ms) {
  retry_ms = std::max<int64_t>(1, retry_ms);
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("code", code).field("message", message)
    .field("retry_ms", static_cast<uint64_t>(retry_ms)).end_object();
  auto r = json(status, std::move(out));
  // Retry-After is whole seconds: round up, so a client that obeys it is never early.
  r.headers.emplace_back("Retry-After", std::to_string((retry_ms + 999) / 1000));
  return r;
}

http_response error(const caf::error& err) {
  auto retry = actors::retry_ms_of(err);
  if (err.category() == caf::atom("sb_acct")) {
    accounts::error e{static_cast<accounts::errc>(err.code()), ""};
    if (err.context().match_elements<std::string>()
        || err.context().match_elements<std::string, int64_t>())
      e.message = err.context().get_as<std::string>(0);
    e.retry_ms = static_cast<uint64_t>(std::max<int64_t>(0, retry));
    return account_error_response(e);
  }
  auto [code, message] = actors::describe(err);
  if (retry > 0)
    return retry_error(status_of(code), code, message, retry);
  return error(status_of(code), code, message);
}

bool take_body(request_actor* self, body_schema schema) {
  auto body = parse_body(self->state.req.body, schema);
  if (!body) {
    fail(self, 400, "bad_json", "the body is not one JSON object");
    return false;
  }
  const auto& code = body->bad_code;
  if (code.empty()) {
    self->state.body = std::move(*body);
    return true;
  }
  std::string message = code == "bad_utf8"     ? "the body is not valid UTF-8"
                        : code == "wrong_type" ? "field '" + body->bad + "' has the wrong type"
                        : code == "bad_value"  ? "field '" + body->bad + "' must be at least 1"
                                               : "field '" + body->bad
                                                   + "' is repeated or nested over 32 levels";
  fail(self, 400, code, message);
  return false;
}

void ok(request_actor* self, std::string body) {
  answer(self, json(200, std::move(body)));
}

void fail(request_actor* self, unsigned status, std::string_view code, std::string_view message) {
  self->state.error_code = std::string{code};
  answer(self, error(status, code, message));
}

void fail(request_actor* self, const caf::error& err) {
  answer(self, error(err));
}

void fail_retry(request_actor* self, unsigned status, std::string_view code,
                std::string_view message, int64_t retry_ms) {
  self->state.error_code = std::string{code};
  answer(self, retry_error(status, code, message, std::max<int64_t>(retry_ms, 1)));
}

bool spend_read_budget(request_actor* self) {
  auto& st = self->state;
  if (!st.ctx->budgets)
    return true;
  uint64_t ip = st.req.remote.empty() ? 0 : actors::peer_key(st.req.remote);
  auto wait = st.ctx->budgets->spend_read(st.who.id, ip, runtime::now_ms());
  if (wait == 0)
    return true;
  actors::chat_metrics::get().reads_rate_limited.inc();
  fail_retry(self, 429, "rate_limited",
             "too many history reads, retry after " + std::to_string(wait) + " ms", wait);
  return false;
}

void serve_http(caf::actor_system& sys, actors::node_context_ptr ctx, http_request req,
                std::function<void(http_response)> respond) {
  sys.spawn(request_impl, std::move(ctx), std::move(req), std::move(respond));
}

} // namespace sb::http
