// admin_actions: the operator's actions (POST /admin/api/actors/stop, POST
// /admin/api/users/{id}/disconnect, POST /admin/api/channels/passivate) and the audit log
// page (GET /admin/api/audit, read through the admin worker).
#include <algorithm>
#include <memory>

#include <caf/event_based_actor.hpp>

#include "actors/account_home.hpp"
#include "actors/chat_messages.hpp"
#include "actors/admin_worker.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "http/admin_common.hpp"
#include "http/router.hpp"
#include "runtime/log.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;
using namespace sb::actors;
namespace rt = runtime;

/// Close code of a session an operator disconnected (docs/protocol.md: re-identify).
constexpr uint16_t close_disconnected = 4007;
constexpr uint32_t max_passivate = 10000;

/// Parses the action's JSON body into the state; false after answering 400.
bool action_body(request_actor* self) {
  return take_body(self, body_schema::admin);
}

void stop_actor(request_actor* self, const body_fields& b) {
  if (!b.kind || !b.key)
    return fail(self, 400, "missing_field", "expected {\"kind\":..,\"key\":..}");
  auto sup_name = supervisor_of(*b.kind);
  if (sup_name.empty())
    return fail(self, 400, "bad_kind", "kind must be channel, user or connection");
  self->state.audit->target = *b.kind + "/" + b.key->substr(0, 64);
  auto sup = self->state.ctx->names->get("supervisor", sup_name);
  if (!sup)
    return fail(self, 503, "unavailable", sup_name + " supervisor is restarting");
  auto key = *b.key;
  auto kind = *b.kind;
  self->request(sup, probe_timeout, rt::which_child_atom::value, key)
    .then(
      [self, sup, key, kind](caf::actor& hdl) {
        if (!hdl)
          return fail(self, 409, "actor_restarting", "the actor is restarting");
        auto old_id = hdl.id();
        self->request(sup, probe_timeout, rt::kill_child_atom::value, key)
          .then(
            [self, old_id, kind, key]() {
              runtime::log::info("admin_stop", {{"kind", kind}, {"key", key},
                                                {"actor_id", std::to_string(old_id)}});
              std::string out;
              protocol::json_writer w{out};
              w.begin_object().field("stopped", true).field("actor_id", old_id).end_object();
              ok(self, std::move(out));
            },
            [self](caf::error& err) { fail_request(self, err); });
      },
      [self](caf::error& err) { fail_request(self, err); });
}

/// Closes the user's connections on this node with 4007, then revokes every session of
/// theirs at their home (so no token of theirs identifies again, and their connections on
/// other nodes close with 4001), then {"user","closed","revoked","close_code"}.
void disconnect_user(request_actor* self, const std::string& id_text) {
  auto id = parse_u64(id_text);
  if (!id)
    return fail(self, 400, "bad_value", "the user id must be an unsigned integer");
  self->state.audit->target = "user/" + id_text;
  struct gather {
    size_t remaining = 0, closed = 0;
  };
  auto g = std::make_shared<gather>();
  auto revoke = [self, g, id_text, user = *id] {
    actors::revoke_sessions(
      self, self->state.ctx, user, {}, {},
      [self, g, id_text](size_t revoked) {
        runtime::log::info("admin_disconnect", {{"user", id_text},
                                                {"sessions", std::to_string(g->closed)},
                                                {"revoked", std::to_string(revoked)}});
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().field("user", id_text).field("closed", uint64_t{g->closed})
          .field("revoked", uint64_t{revoked})
          .field("close_code", uint64_t{close_disconnected}).end_object();
        ok(self, std::move(out));
      },
      [self](caf::error err) { fail_request(self, err); });
  };
  auto u = self->state.ctx->names->get("user", id_text);
  if (!u)
    return revoke();
  self->request(u, probe_timeout, admin_probe_atom::value)
    .then(
      [self, g, revoke](user_probe& p) {
        g->remaining = p.devices.size();
        for (auto& d : p.devices)
          self->request(d, probe_timeout, admin_probe_atom::value, close_disconnected)
            .then(
              [g, revoke](connection_probe&) {
                ++g->closed;
                if (--g->remaining == 0)
                  revoke();
              },
              [g, revoke](caf::error&) {
                if (--g->remaining == 0)
                  revoke();
              });
        if (p.devices.empty())
          revoke();
      },
      [revoke](caf::error&) { revoke(); }); // the hub just ended: nothing left to close here
}

/// Pages through the channels supervisor and asks each running channel to passivate if
/// idle, one page (<= 1,000 requests) in flight at a time.
struct passivate_state {
  caf::actor sup;
  uint64_t after = 0;
  uint64_t limit = 1000;
  uint64_t asked = 0, passivated = 0;
};

void passivate_step(request_actor* self, std::shared_ptr<passivate_state> s) {
  auto done = [self, s] {
    runtime::log::info("admin_passivate", {{"asked", std::to_string(s->asked)},
                                           {"passivated", std::to_string(s->passivated)}});
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().field("asked", s->asked).field("passivated", s->passivated)
      .field("busy", s->asked - s->passivated).end_object();
    ok(self, std::move(out));
  };
  if (s->asked >= s->limit)
    return done();
  rt::snapshot_query q;
  q.after = s->after;
  q.limit = static_cast<uint32_t>(
    std::min<uint64_t>(rt::snapshot_query::max_page, s->limit - s->asked));
  q.kind = "channel";
  self->request(s->sup, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, s, done](rt::subtree_snapshot& snap) {
        auto remaining = std::make_shared<size_t>(0);
        bool more = snap.next_cursor != 0;
        s->after = snap.next_cursor;
        auto next = [self, s, done, more] {
          if (more)
            passivate_step(self, s);
          else
            done();
        };
        auto& names = *self->state.ctx->names;
        std::vector<caf::actor> targets;
        for (auto& row : snap.children)
          if (row.actor_id != 0)
            if (auto ch = names.get("channel", row.key); ch && ch.id() == row.actor_id)
              targets.push_back(ch);
        *remaining = targets.size();
        s->asked += targets.size();
        for (auto& ch : targets)
          self->request(ch, probe_timeout, admin_probe_atom::value, uint32_t{0}, true)
            .then(
              [s, remaining, next](channel_probe& p) {
                if (p.passivated)
                  ++s->passivated;
                if (--*remaining == 0)
                  next();
              },
              [remaining, next](caf::error&) {
                if (--*remaining == 0)
                  next();
              });
        if (targets.empty())
          next();
      },
      [self](caf::error& err) { fail_request(self, err); });
}

void passivate(request_actor* self, const body_fields& b) {
  auto s = std::make_shared<passivate_state>();
  if (b.limit) {
    if (*b.limit == 0)
      return fail(self, 400, "bad_value", "limit must be 1..10000");
    s->limit = std::min<uint64_t>(*b.limit, max_passivate);
  }
  self->state.audit->target = "channels";
  s->sup = self->state.ctx->names->get("supervisor", "channels");
  if (!s->sup)
    return fail(self, 503, "unavailable", "channels supervisor is restarting");
  passivate_step(self, s);
}

void audit_page(request_actor* self) {
  uint64_t after = 0;
  uint32_t limit = 50;
  if (auto a = self->state.tgt.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return fail(self, 400, "bad_value", "after must be an audit record id");
    after = *v;
  }
  if (auto l = self->state.tgt.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..200");
    limit = static_cast<uint32_t>(std::min<uint64_t>(*v, max_audit_page));
  }
  auto w = actors::find_actor<actors::admin_worker_actor>(*self->state.ctx,
                                                          actors::admin_worker_name());
  if (!w)
    return fail(self, 503, "unavailable", "the admin worker is restarting");
  self->request(w, 10s, audit_page_atom::value, after, limit)
    .then(
      [self](std::vector<std::string>& records, uint64_t next_after) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("records").begin_array();
        for (auto& r : records)
          w.raw(r);
        w.end_array();
        if (next_after != 0)
          w.field("next_after", std::to_string(next_after));
        else
          w.key("next_after").null();
        w.end_object();
        ok(self, std::move(out));
      },
          [self](caf::error&) {
            fail(self, 500, "storage_failed", "could not read the audit log");
          });
}

} // namespace

void add_admin_action_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"POST", "/admin/api/actors/stop", access::admin, [](request_actor* self) {
       if (action_body(self))
         stop_actor(self, self->state.body);
     }},
    {"POST", "/admin/api/users/{id}/disconnect", access::admin, [](request_actor* self) {
       if (action_body(self))
         disconnect_user(self, std::string{arg(self, "id")});
     }},
    {"POST", "/admin/api/channels/passivate", access::admin, [](request_actor* self) {
       if (action_body(self))
         passivate(self, self->state.body);
     }},
    {"GET", "/admin/api/audit", access::admin, audit_page},
  });
}

} // namespace sb::http
