// api_workspaces: /api/workspaces (create, list), /api/workspaces/{id} (details, members,
// invite, remove, browse channels). Every operation is a request to the directory actor
// (actors/directory.hpp), which checks membership and runs the leave cascade.
#include <caf/event_based_actor.hpp>

#include "accounts/workspaces.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/json_writer.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;
using actors::workspace_card;

std::string workspace_json(const workspace_card& ws) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().id_field("id", ws.id).field("name", ws.name).id_field("owner", ws.owner)
    .field("created", ws.created_ms).end_object();
  return out;
}

/// Sends `msg...` to the directory; `k` gets the reply, errors answer.
template <class K, class... Ts>
void ask(request_actor* self, K k, Ts... msg) {
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 60s, msg...).then(k, [self](caf::error& err) { fail(self, err); });
}

/// The workspace id of the path, or answers 404.
std::optional<uint64_t> workspace_arg(request_actor* self) {
  auto id = id_arg(self, "id");
  if (!id)
    fail(self, 404, "not_found", "no such workspace");
  return id;
}

void create(request_actor* self) {
  auto& b = self->state.body;
  if (!b.name)
    return fail(self, 400, "missing_field", "name is required");
  ask(self, [self](workspace_card& ws) {
        answer(self, json(201, "{\"workspace\":" + workspace_json(ws) + "}"));
      },
      actors::workspace_create_atom::value, self->state.who.id, *b.name);
}

void list(request_actor* self) {
  ask(self, [self](std::vector<workspace_card>& all) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("workspaces").begin_array();
        for (auto& ws : all)
          w.raw(workspace_json(ws));
        w.end_array().end_object();
        ok(self, std::move(out));
      },
      actors::workspace_list_atom::value, self->state.who.id);
}

void details(request_actor* self) {
  auto id = workspace_arg(self);
  if (!id)
    return;
  ask(self, [self](workspace_card& ws, bool is_owner) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().raw_field("workspace", workspace_json(ws))
          .field("role", is_owner ? "owner" : "member").end_object();
        ok(self, std::move(out));
      },
      actors::workspace_get_atom::value, self->state.who.id, *id);
}

void members(request_actor* self) {
  auto id = workspace_arg(self);
  if (!id)
    return;
  auto q = parse_page(self, accounts::max_workspace_page);
  if (!q)
    return fail(self, 400, "bad_value", "after must be a user id, limit 1..1000");
  ask(self,
      [self](std::vector<actors::user_card>& users, bool more) {
        ok(self, members_json(users, more));
      },
      actors::workspace_members_atom::value, self->state.who.id, *id, q->after,
      uint64_t{q->limit});
}

/// POST /api/workspaces/{id}/members {"user"}: an invite (members add members).
void invite(request_actor* self) {
  auto id = workspace_arg(self);
  if (!id)
    return;
  auto& b = self->state.body;
  auto other = b.user ? parse_u64(*b.user) : std::nullopt;
  if (!other)
    return fail(self, 400, "bad_value", "user must be a user id string");
  ask(self, [self](bool added) { ok(self, added ? R"({"added":true})" : R"({"added":false})"); },
      actors::workspace_join_atom::value, self->state.who.id, *id, *other);
}

/// DELETE /api/workspaces/{id}/members/{user}: leave (or, by the owner, remove); the user
/// also leaves every channel of the workspace they are in.
void remove(request_actor* self) {
  auto id = workspace_arg(self);
  if (!id)
    return;
  auto user = id_arg(self, "user");
  if (!user)
    return fail(self, 404, "not_found", "no such user");
  ask(self,
      [self](bool removed) {
        ok(self, removed ? R"({"removed":true})" : R"({"removed":false})");
      },
      actors::workspace_leave_atom::value, self->state.who.id, *id, *user);
}

/// GET /api/workspaces/{id}/channels: public channels, plus private ones the caller is in.
void browse(request_actor* self) {
  auto id = workspace_arg(self);
  if (!id)
    return;
  auto q = parse_page(self, 200);
  if (!q)
    return fail(self, 400, "bad_value", "after must be a channel id, limit 1..200");
  ask(self, [self](std::vector<actors::browse_entry>& page, uint64_t next) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("channels").begin_array();
        for (auto& e : page)
          w.begin_object().raw_field("channel", channel_json(e.channel))
            .field("member", e.member).end_object();
        w.end_array();
        if (next != 0)
          w.id_field("next", next); // pass as `after` for the next page
        w.end_object();
        ok(self, std::move(out));
      },
      actors::browse_atom::value, self->state.who.id, *id, q->after, uint64_t{q->limit});
}

} // namespace

void add_workspace_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"POST", "/api/workspaces", access::user, create},
    {"GET", "/api/workspaces", access::user, list},
    {"GET", "/api/workspaces/{id}", access::user, details},
    {"GET", "/api/workspaces/{id}/members", access::user, members},
    {"POST", "/api/workspaces/{id}/members", access::user, invite},
    {"DELETE", "/api/workspaces/{id}/members/{user}", access::user, remove},
    {"GET", "/api/workspaces/{id}/channels", access::user, browse},
  });
}

} // namespace sb::http
