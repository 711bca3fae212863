// api_accounts: /api/signup, /api/login, /api/logout, /api/me, /api/users[/{id}].
// Hashing runs on the hash pool (actors/hash_pool.hpp) of the user's home node
// (actors/account_home.hpp; this node when it runs alone). Before anything is queued a
// call is checked (docs/protocol.md, "Log-in limits"): password size (400), the client
// IP's budget (429), the account's backoff (429).
#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/account_home.hpp"
#include "actors/blocking_worker.hpp"
#include "actors/budgets.hpp"
#include "actors/hash_pool.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "actors/user.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/clock.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;

actors::user_card card_of(const accounts::user& u) {
  return {u.id, u.name, u.display_name};
}

/// {"user":{...}}
std::string user_json(const accounts::user& u) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().key("user");
  write_user(w, card_of(u));
  w.end_object();
  return out;
}

/// Refuses an account call before it costs a hash: a password over the documented
/// maximum (400 at once), a client IP past its budget (429), a local account in its
/// backoff (429). True when refused (answered).
bool refused_early(request_actor* self, bool signup) {
  auto& st = self->state;
  auto& pw = *st.body.password;
  if (pw.size() > accounts::max_password_bytes) {
    fail(self, 400, "bad_password",
         "password longer than " + std::to_string(accounts::max_password_bytes) + " bytes");
    return true;
  }
  if (signup && pw.size() < accounts::min_password_bytes) {
    fail(self, 400, "bad_password", "password must be 8-256 bytes");
    return true;
  }
  if (auto* b = st.ctx->budgets.get()) {
    auto& table = signup ? b->signups_per_ip : b->logins_per_ip;
    if (auto wait = table.spend(actors::peer_key(st.req.remote), runtime::now_ms()); wait > 0) {
      fail_retry(self, 429, "rate_limited",
                 signup ? "too many sign-ups from this address" : "too many log-ins from this address",
                 wait);
      return true;
    }
  }
  return false;
}

/// Signup (201) or login (200): on the hash pool of the name's home (this node's, alone;
/// in a cluster the home's, through its router).
void account_call(request_actor* self, bool signup) {
  auto& b = self->state.body;
  if (!b.name || !b.password)
    return fail(self, 400, "missing_field", "name and password are required");
  if (refused_early(self, signup))
    return;
  auto on_ok = [self, signup](std::string& out) {
    answer(self, json(signup ? 201 : 200, std::move(out)));
  };
  auto on_err = [self](caf::error err) { fail(self, err); };
  auto home = actors::route_home(*self->state.ctx, accounts::home_of_name(*b.name));
  if (home.at == actors::channel_route::where::unavailable)
    return fail(self, home.error);
  if (home.at == actors::channel_route::where::remote) {
    if (signup)
      return actors::ask_peer<std::string>(self, self->state.ctx, home.owner,
                                           actors::account_timeout, on_ok, on_err,
                                           actors::signup_atom::value, *b.name, *b.password,
                                           b.display_name.value_or(""));
    return actors::ask_peer<std::string>(self, self->state.ctx, home.owner,
                                         actors::account_timeout, on_ok, on_err,
                                         actors::login_atom::value, *b.name, *b.password);
  }
  auto& ctx = *self->state.ctx;
  if (!signup) {
    // A locked account answers from its stored backoff: no queue slot, no hash.
    auto wait = ctx.accounts->login_wait_ms(*b.name);
    if (!wait)
      return fail(self, actors::account_error(wait.error()));
    if (*wait > 0)
      return fail_retry(self, 429, "rate_limited", "too many failed log-ins for this account",
                  static_cast<int64_t>(*wait));
  }
  auto pool = actors::find_actor<actors::hash_pool_actor>(ctx, actors::hash_pool_name());
  if (!pool)
    return fail(self, 503, "unavailable", "the hash pool is restarting; retry");
  actors::hash_job job{signup, *b.name, *b.password, signup ? b.display_name.value_or("") : "",
                       self->state.req.client_gone, actors::peer_key(self->state.req.remote)};
  self->request(pool, 30s, actors::run_atom::value, std::move(job)).then(on_ok, on_err);
}

void answer_user(request_actor* self, const accounts::result<accounts::user>& found) {
  if (!found)
    return fail(self, actors::account_error(found.error()));
  ok(self, user_json(*found));
}

/// A user-scoped request answered here (`local`) or at the home of `home` (`ask`), then
/// {"user":{...}}.
template <class Local, class... Ts>
void user_call(request_actor* self, std::optional<uint32_t> home, Local local, Ts... xs) {
  auto route = actors::route_home(*self->state.ctx, home);
  if (route.at == actors::channel_route::where::local)
    return answer_user(self, local());
  if (route.at == actors::channel_route::where::unavailable)
    return fail(self, route.error);
  actors::ask_peer<actors::user_card>(
    self, self->state.ctx, route.owner, 5s,
    [self](actors::user_card& u) { answer_user(self, actors::user_of_card(u)); },
    [self](caf::error err) { fail(self, err); }, xs...);
}

void signup(request_actor* self) {
  account_call(self, true);
}

void login(request_actor* self) {
  account_call(self, false);
}

/// The session is gone: the connections identified with it close (4001) through the
/// user's hub, here or at the user's home; then {}. Connections the hub cannot reach now
/// find out at their next session check (docs/protocol.md, close code 4001).
void revoked(request_actor* self) {
  auto key = actors::session_key(self->state.token);
  actors::with_user(
    self, self->state.ctx, self->state.who.id,
    [self, key](caf::actor hub) {
      self->send(caf::actor_cast<actors::user_actor>(hub), actors::revoked_atom::value, key);
      ok(self, "{}");
    },
    [self](caf::error) { ok(self, "{}"); });
}

/// Revokes the session at its home, then closes its connections.
void logout(request_actor* self) {
  auto& st = self->state;
  auto route = actors::route_home(*st.ctx, accounts::home_of_token(st.token));
  if (route.at == actors::channel_route::where::local) // the delete is a synced write
    return actors::run_blocking(
      self, st.ctx, [ctx = st.ctx, token = st.token] { ctx->accounts->log_out(token); },
      [self] { revoked(self); }, [self](caf::error err) { fail(self, err); });
  if (route.at == actors::channel_route::where::unavailable)
    return fail(self, route.error);
  actors::ask_peer<bool>(
    self, st.ctx, route.owner, 5s, [self](bool&) { revoked(self); },
    [self](caf::error err) { fail(self, err); }, actors::logout_atom::value, st.token);
}

/// GET /api/sessions: the caller's live sessions, newest first, theirs marked "current".
void list_sessions(request_actor* self) {
  auto current = accounts::session_id(self->state.token);
  actors::list_sessions(
    self, self->state.ctx, self->state.who.id,
    [self, current](std::vector<actors::session_card> sessions) {
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("sessions").begin_array();
      for (auto& s : sessions)
        w.begin_object().field("id", s.id).field("created", s.created_ms)
          .field("expires", s.expires_ms).field("current", s.id == current).end_object();
      w.end_array().end_object();
      ok(self, std::move(out));
    },
    [self](caf::error err) { fail(self, err); });
}

/// Answers {"revoked":n} once the sessions are gone and their connections told (4001).
void revoke(request_actor* self, std::string only, std::string keep) {
  actors::revoke_sessions(
    self, self->state.ctx, self->state.who.id, std::move(only), std::move(keep),
    [self](size_t n) {
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().field("revoked", uint64_t{n}).end_object();
      ok(self, std::move(out));
    },
    [self](caf::error err) { fail(self, err); });
}

/// DELETE /api/sessions/{id}: ends one of the caller's sessions (their own current one too).
void revoke_session(request_actor* self) {
  auto id = std::string{arg(self, "id")};
  bool well_formed = id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
  if (!well_formed)
    return fail(self, 404, "not_found", "no such session");
  revoke(self, std::move(id), {});
}

/// DELETE /api/sessions: ends every session of the caller's but the one asking.
void revoke_other_sessions(request_actor* self) {
  revoke(self, {}, accounts::session_id(self->state.token));
}

void me(request_actor* self) {
  ok(self, user_json(self->state.who));
}

/// GET /api/users?name=ada: find someone to DM or invite.
void find_user(request_actor* self) {
  auto name = self->state.tgt.param("name");
  if (!name)
    return fail(self, 400, "missing_field", "name is required");
  auto ctx = self->state.ctx;
  user_call(self, accounts::home_of_name(*name), [ctx, n = *name] { return ctx->accounts->find(n); },
            actors::user_find_atom::value, std::string{*name});
}

/// GET /api/users/{id}
void get_user(request_actor* self) {
  auto id = id_arg(self, "id");
  if (!id)
    return fail(self, 404, "not_found", "no such user");
  actors::resolve_users(
    self, self->state.ctx, {*id},
    [self](std::vector<actors::user_card> cards) {
      if (cards.empty())
        return fail(self, 404, "not_found", "no such user");
      answer_user(self, actors::user_of_card(cards.front()));
    },
    [self](caf::error err) { fail(self, err); });
}

} // namespace

void add_account_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"POST", "/api/signup", access::open, signup},
    {"POST", "/api/login", access::open, login},
    {"POST", "/api/logout", access::user, logout},
    {"GET", "/api/sessions", access::user, list_sessions},
    {"DELETE", "/api/sessions", access::user, revoke_other_sessions},
    {"DELETE", "/api/sessions/{id}", access::user, revoke_session},
    {"GET", "/api/me", access::user, me},
    {"GET", "/api/users", access::user, find_user},
    {"GET", "/api/users/{id}", access::user, get_user},
  });
}

} // namespace sb::http
