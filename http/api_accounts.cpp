// api_accounts: /api/signup, /api/login, /api/logout, /api/me, /api/users[/{id}].
// Hashing and account writes run on the blocking worker (actors/blocking_worker.hpp).
#include <caf/event_based_actor.hpp>

#include "actors/blocking_worker.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/json_writer.hpp"

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

/// Signup (201) or login (200): both on the blocking worker.
void account_call(request_actor* self, bool signup) {
  auto& b = self->state.body;
  auto worker = actors::find_actor<actors::blocking_worker_actor>(*self->state.ctx,
                                                               actors::blocking_worker_name());
  if (!worker)
    return fail(self, 503, "unavailable", "auth worker restarting");
  if (!b.name || !b.password)
    return fail(self, 400, "missing_field", "name and password are required");
  auto on_ok = [self, signup](std::string& out) {
    answer(self, json(signup ? 201 : 200, std::move(out)));
  };
  auto on_err = [self](caf::error& err) { fail(self, err); };
  if (signup)
    self->request(worker, 30s, actors::signup_atom::value, *b.name, *b.password,
                  b.display_name.value_or(""))
      .then(on_ok, on_err);
  else
    self->request(worker, 30s, actors::login_atom::value, *b.name, *b.password)
      .then(on_ok, on_err);
}

void answer_user(request_actor* self, const accounts::result<accounts::user>& found) {
  if (!found)
    return fail(self, actors::account_error(found.error()));
  ok(self, user_json(*found));
}

void signup(request_actor* self) {
  account_call(self, true);
}

void login(request_actor* self) {
  account_call(self, false);
}

void logout(request_actor* self) {
  self->state.ctx->accounts->log_out(self->state.token);
  ok(self, "{}");
}

void me(request_actor* self) {
  ok(self, user_json(self->state.who));
}

/// GET /api/users?name=ada: find someone to DM or invite.
void find_user(request_actor* self) {
  auto name = self->state.tgt.param("name");
  if (!name)
    return fail(self, 400, "missing_field", "name is required");
  answer_user(self, self->state.ctx->accounts->find(*name));
}

/// GET /api/users/{id}
void get_user(request_actor* self) {
  auto id = id_arg(self, "id");
  if (!id)
    return fail(self, 404, "not_found", "no such user");
  answer_user(self, self->state.ctx->accounts->get(*id));
}

} // namespace

void add_account_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"POST", "/api/signup", access::open, signup},
    {"POST", "/api/login", access::open, login},
    {"POST", "/api/logout", access::user, logout},
    {"GET", "/api/me", access::user, me},
    {"GET", "/api/users", access::user, find_user},
    {"GET", "/api/users/{id}", access::user, get_user},
  });
}

} // namespace sb::http
