// api_channels: /api/channels (list, create), /api/channels/{id} (details, settings,
// archive, members, join, leave) and /api/dms. Creation, DMs and the directory reads are
// requests to the directory actor (actors/directory.hpp); the rest are channel appends.
#include <caf/event_based_actor.hpp>

#include "accounts/workspaces.hpp"
#include "actors/account_home.hpp"
#include "actors/channel_directory.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"
#include "storage/event.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;
using actors::channel_summary;

/// {"channel":{...}} plus, when asked, "member".
std::string channel_answer(const channel_summary& s, std::optional<bool> member = {}) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().raw_field("channel", channel_json(s));
  if (member)
    w.field("member", *member);
  w.end_object();
  return out;
}

void list_channels(request_actor* self) {
  auto reader = actors::storage_reader(self->state.ctx);
  if (!reader)
    return fail(self, 503, "unavailable", "storage reader restarting");
  self->request(reader, 30s, actors::ready_atom::value, self->state.who.id,
                self->state.ctx->limits.max_channels_per_user)
    .then(
      [self](std::vector<channel_summary>& chans) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("channels").begin_array();
        for (auto& c : chans)
          w.raw(channel_json(c));
        w.end_array().end_object();
        ok(self, std::move(out));
      },
      [self](caf::error& err) { fail(self, err); });
}

void create_channel(request_actor* self) {
  auto& b = self->state.body;
  auto kind = b.kind.value_or("public");
  if (kind != "public" && kind != "private")
    return fail(self, 400, "bad_value", "kind must be public or private");
  if (!b.name)
    return fail(self, 400, "missing_field", "name is required");
  uint64_t workspace = accounts::default_workspace;
  if (b.workspace) {
    auto v = parse_u64(*b.workspace);
    if (!v)
      return fail(self, 400, "bad_value", "workspace must be a workspace id string");
    workspace = *v;
  }
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 60s, actors::create_channel_atom::value, self->state.who.id, *b.name, kind,
                workspace)
    .then([self](channel_summary& s) { answer(self, json(201, channel_answer(s))); },
          [self](caf::error& err) { fail(self, err); });
}

/// POST /api/dms {"user"} or {"users":[...]}: opens the DM or group DM of these members.
void open_dm(request_actor* self) {
  auto& b = self->state.body;
  std::vector<uint64_t> others;
  if (b.users) {
    for (auto& u : *b.users) {
      auto v = parse_u64(u);
      if (!v)
        return fail(self, 400, "bad_value", "users must be user id strings");
      others.push_back(*v);
    }
  } else if (b.user) {
    auto v = parse_u64(*b.user);
    if (!v)
      return fail(self, 400, "bad_value", "user must be a user id string");
    others.push_back(*v);
  } else {
    return fail(self, 400, "missing_field", "user or users is required");
  }
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 60s, actors::open_dm_atom::value, self->state.who.id, std::move(others))
    .then([self](channel_summary& s) { ok(self, channel_answer(s)); },
          [self](caf::error& err) { fail(self, err); });
}

void channel_details(request_actor* self) {
  auto ch = channel_arg(self);
  if (!ch)
    return;
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 30s, actors::channel_details_atom::value, self->state.who.id, *ch)
    .then([self](channel_summary& s, bool member) { ok(self, channel_answer(s, member)); },
          [self](caf::error& err) { fail(self, err); });
}

/// Appends the channel_updated events of `attrs` one after another; answers the last.
void update_channel(request_actor* self, uint64_t channel,
                    std::vector<std::pair<std::string, std::string>> attrs) {
  if (attrs.empty())
    return fail(self, 400, "missing_field", "name or topic is required");
  auto [attr, value] = attrs.front();
  attrs.erase(attrs.begin());
  storage::event d;
  d.kind = storage::event_kind::channel_updated;
  d.author = self->state.who.id;
  d.attribute = attr;
  d.text = value;
  append(self, channel, d, [self, channel, attrs](storage::event& ev) {
    if (attrs.empty())
      return ok(self, committed_json(ev));
    update_channel(self, channel, attrs);
  });
}

void patch_channel(request_actor* self) {
  auto ch = channel_arg(self);
  if (!ch)
    return;
  auto& b = self->state.body;
  std::vector<std::pair<std::string, std::string>> attrs;
  if (b.name) {
    attrs.emplace_back(std::string{storage::channel_attr_name}, *b.name);
  }
  if (b.topic) {
    if (b.topic->size() > storage::max_channel_topic_bytes || !protocol::utf8_length(*b.topic))
      return fail(self, 400, "bad_value", "topic must be 0..1000 bytes of UTF-8");
    attrs.emplace_back(std::string{storage::channel_attr_topic}, *b.topic);
  }
  update_channel(self, *ch, std::move(attrs));
}

void set_archived(request_actor* self, bool archived) {
  if (auto ch = channel_arg(self))
    update_channel(self, *ch, {{std::string{storage::channel_attr_archived}, archived ? "1" : "0"}});
}

void channel_members(request_actor* self) {
  auto ch = channel_arg(self);
  if (!ch)
    return;
  auto q = parse_page(self, 1000);
  if (!q)
    return fail(self, 400, "bad_value", "after must be a user id, limit 1..1000");
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 30s, actors::channel_members_atom::value, self->state.who.id, *ch,
                q->after, uint64_t{q->limit})
    .then([self](std::vector<actors::user_card>& users,
                 bool more) { ok(self, members_json(users, more)); },
          [self](caf::error& err) { fail(self, err); });
}

/// POST /api/channels/{id}/join | leave: the caller's own membership.
void membership(request_actor* self, storage::event_kind kind) {
  auto ch = channel_arg(self);
  if (!ch)
    return;
  storage::event d;
  d.kind = kind;
  d.author = self->state.who.id;
  append_and_answer(self, *ch, d);
}

/// POST /api/channels/{id}/members {"user"}: adds someone.
void add_member(request_actor* self) {
  auto ch = channel_arg(self);
  if (!ch)
    return;
  auto& b = self->state.body;
  auto other = b.user ? parse_u64(*b.user) : std::nullopt;
  if (!other)
    return fail(self, 400, "bad_value", "user must be a user id string");
  storage::event d;
  d.kind = storage::event_kind::member_join;
  d.author = self->state.who.id;
  d.subject = *other;
  // The user is checked at their home (actors/account_home.hpp).
  actors::check_users_exist(
    self, self->state.ctx, {*other}, [self, c = *ch, d] { append_and_answer(self, c, d); },
    [self](caf::error err) { fail(self, err); });
}

} // namespace

void add_channel_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"GET", "/api/channels", access::user, list_channels},
    {"POST", "/api/channels", access::user, create_channel},
    {"POST", "/api/dms", access::user, open_dm},
    {"GET", "/api/channels/{id}", access::user, channel_details},
    {"PATCH", "/api/channels/{id}", access::user, patch_channel},
    {"POST", "/api/channels/{id}/archive", access::user,
     [](request_actor* self) { set_archived(self, true); }},
    {"POST", "/api/channels/{id}/unarchive", access::user,
     [](request_actor* self) { set_archived(self, false); }},
    {"GET", "/api/channels/{id}/members", access::user, channel_members},
    {"POST", "/api/channels/{id}/members", access::user, add_member},
    {"POST", "/api/channels/{id}/join", access::user,
     [](request_actor* self) { membership(self, storage::event_kind::member_join); }},
    {"POST", "/api/channels/{id}/leave", access::user,
     [](request_actor* self) { membership(self, storage::event_kind::member_leave); }},
  });
}

} // namespace sb::http
