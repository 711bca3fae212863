// api_read_state: read state and presence: POST /api/channels/{id}/read, GET
// /api/channels/{id}/reads ("seen by"), GET /api/unread, GET /api/threads, GET|PUT
// /api/presence, GET /api/workspaces/{id}/online.
#include <caf/event_based_actor.hpp>

#include "actors/channel_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/presence.hpp"
#include "actors/user.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"
#include "runtime/registry.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;

void presence_json(protocol::json_writer& w, const std::vector<protocol::presence_entry>& users) {
  w.key("users").begin_array();
  for (auto& e : users) {
    std::string obj;
    protocol::append_presence_object(obj, e);
    w.raw(obj);
  }
  w.end_array();
}

void mark_read(request_actor* self) {
  auto channel = channel_arg(self);
  if (!channel)
    return;
  auto& b = self->state.body;
  if (!b.seq)
    return fail(self, 400, "missing_field", "seq is required");
  if (b.thread_root && *b.thread_root == 0)
    return fail(self, 400, "bad_value", "thread_root must be >= 1");
  auto seq = *b.seq;
  auto root = b.thread_root.value_or(0);
  auto who = self->state.who.id;
  actors::with_channel(
    self, self->state.ctx, *channel,
    [self, who, seq, root](actors::channel_actor ch) {
      self->request(ch, 30s, actors::mark_read_atom::value, who, seq, root, caf::actor{})
        .then(
          [self](actors::read_state_info& info) {
            // The same object as the WebSocket `read_state` frame.
            ok(self, protocol::encode_read_state(
                       "", info.channel, info.thread_root,
                       protocol::read_counts{info.last_read, info.unread, info.mentions}));
          },
          [self](caf::error& err) { fail(self, err); });
    },
    [self](caf::error err) { fail(self, err); });
}

/// "Seen by": each member's cursor, for members of the channel.
void seen_by(request_actor* self) {
  auto channel = channel_arg(self);
  if (!channel)
    return;
  auto q = parse_page(self, 200);
  if (!q)
    return fail(self, 400, "bad_value", "after and limit must be integers");
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 60s, actors::seen_by_atom::value, self->state.who.id, *channel, q->after,
                uint64_t{q->limit})
    .then(
      [self](std::vector<actors::read_cursor>& reads, bool more) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("reads").begin_array();
        for (auto& r : reads)
          w.begin_object().id_field("user", r.user).field("last_read", r.last_read).end_object();
        w.end_array().field("has_more", more).end_object();
        ok(self, std::move(out));
      },
      [self](caf::error& err) { fail(self, err); });
}

/// The caller's channels (one reader request; in a cluster the remote reader gathers
/// them with one request per node), then `next`; a failure is answered.
void with_caller_channels(request_actor* self,
                          std::function<void(std::vector<actors::channel_summary>&)> next) {
  auto& ctx = self->state.ctx;
  auto reader = actors::ready_reader(ctx);
  if (!reader)
    return fail(self, 503, "unavailable", "storage reader restarting");
  self->request(reader, 30s, actors::ready_atom::value, self->state.who.id,
                ctx->limits.max_channels_per_user)
    .then([next](std::vector<actors::channel_summary>& chans) { next(chans); },
          [self](caf::error& err) { fail(self, err); });
}

/// The badge: totals over the caller's channels.
void unread(request_actor* self) {
  with_caller_channels(
      self, [self](std::vector<actors::channel_summary>& chans) {
        uint64_t unread = 0, mentions = 0;
        std::string list;
        protocol::json_writer lw{list};
        lw.begin_array();
        for (auto& c : chans) {
          unread += c.unread;
          mentions += c.mentions;
          lw.begin_object().id_field("channel", c.id).field("head", c.head)
            .field("last_read", c.last_read).field("unread", c.unread)
            .field("mentions", c.mentions).end_object();
        }
        lw.end_array();
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().field("unread", unread).field("mentions", mentions)
          .raw_field("channels", list).end_object();
        ok(self, std::move(out));
      });
}

void followed_threads(request_actor* self) {
  auto q = parse_page(self, 200);
  if (!q)
    return fail(self, 400, "bad_value", "limit must be an integer");
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  self->request(dir, 30s, actors::followed_threads_atom::value, self->state.who.id,
                uint64_t{q->limit})
    .then(
      [self](std::vector<actors::followed_thread>& threads) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("threads").begin_array();
        for (auto& t : threads)
          w.begin_object().id_field("channel", t.channel).field("root", t.root)
            .field("reply_count", t.reply_count).field("last_reply_seq", t.last_reply_seq)
            .field("last_read", t.last_read).field("unread", t.unread).end_object();
        w.end_array().end_object();
        ok(self, std::move(out));
      },
      [self](caf::error& err) { fail(self, err); });
}

void set_presence(request_actor* self) {
  auto& b = self->state.body;
  if (!b.status)
    return fail(self, 400, "missing_field", "status is required");
  auto status = *b.status;
  if (status != "online" && status != "away" && status != "dnd")
    return fail(self, 400, "bad_value", "status must be online, away or dnd");
  if (b.custom) {
    auto chars = protocol::utf8_length(*b.custom);
    if (!chars)
      return fail(self, 400, "bad_utf8", "custom is not valid UTF-8");
    if (*chars > protocol::max_custom_status_chars)
      return fail(self, 400, "text_too_long", "custom: more than 100 characters");
  }
  bool has_custom = b.custom.has_value();
  auto custom = b.custom.value_or("");
  actors::with_user(
    self, self->state.ctx, self->state.who.id,
    [self, status, has_custom, custom](caf::actor u) {
      self->request(u, 10s, actors::presence_atom::value, status, has_custom, custom)
        .then([self](bool) { ok(self, "{}"); }, [self](caf::error& err) { fail(self, err); });
    },
    [self](caf::error err) { fail(self, err); });
}

/// Answers {"users":[...]} (plus "has_more" when given).
void answer_presence(request_actor* self, const std::vector<protocol::presence_entry>& users,
                     std::optional<bool> more) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object();
  presence_json(w, users);
  if (more)
    w.field("has_more", *more);
  w.end_object();
  ok(self, std::move(out));
}

/// The caller's channel ids, then `next`: presence over HTTP is scoped by them, as the
/// fan-out is.
void with_viewer_channels(request_actor* self,
                          std::function<void(std::vector<uint64_t>)> next) {
  with_caller_channels(self, [next](std::vector<actors::channel_summary>& chans) {
    std::vector<uint64_t> ids;
    ids.reserve(chans.size());
    for (auto& c : chans)
      ids.push_back(c.id);
    next(std::move(ids));
  });
}

void get_presence(request_actor* self) {
  auto list = self->state.tgt.param("users");
  if (!list)
    return fail(self, 400, "missing_field", "users is required");
  std::vector<uint64_t> ids;
  std::string_view rest = *list;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto id = parse_u64(rest.substr(0, comma));
    if (!id || ids.size() == 64)
      return fail(self, 400, "bad_value", "users: at most 64 comma-separated ids");
    ids.push_back(*id);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  with_viewer_channels(self, [self, ids](std::vector<uint64_t> scope) {
    auto dir =
      actors::find_actor<actors::presence_actor>(*self->state.ctx, actors::presence_name());
    if (!dir)
      return fail(self, 503, "unavailable", "presence restarting");
    self->request(dir, 10s, actors::presence_query_atom::value, self->state.who.id, ids,
                  std::move(scope))
      .then([self](std::vector<protocol::presence_entry>& users) {
              answer_presence(self, users, std::nullopt);
            },
            [self](caf::error& err) { fail(self, err); });
  });
}

/// GET /api/workspaces/{id}/online: membership from the directory, the list from memory.
void online(request_actor* self) {
  auto ws = id_arg(self, "id");
  if (!ws)
    return fail(self, 404, "not_found", "no such workspace");
  auto q = parse_page(self, 1000);
  if (!q)
    return fail(self, 400, "bad_value", "after and limit must be integers");
  auto dir = directory_or_fail(self);
  if (!dir)
    return;
  auto id = *ws;
  auto page = *q;
  self->request(dir, 30s, actors::workspace_check_atom::value, self->state.who.id, id)
    .then(
      [self, id, page](bool) {
        with_viewer_channels(self, [self, id, page](std::vector<uint64_t> scope) {
          auto presence = actors::find_actor<actors::presence_actor>(*self->state.ctx,
                                                                     actors::presence_name());
          if (!presence)
            return fail(self, 503, "unavailable", "presence restarting");
          self->request(presence, 10s, actors::presence_online_atom::value,
                        self->state.who.id, id, page.after, static_cast<uint32_t>(page.limit),
                        std::move(scope))
            .then([self](std::vector<protocol::presence_entry>& users,
                         bool more) { answer_presence(self, users, more); },
                  [self](caf::error& err) { fail(self, err); });
        });
      },
      [self](caf::error& err) { fail(self, err); });
}

} // namespace

void add_read_state_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"POST", "/api/channels/{id}/read", access::user, mark_read},
    {"GET", "/api/channels/{id}/reads", access::user, seen_by},
    {"GET", "/api/unread", access::user, unread},
    {"GET", "/api/threads", access::user, followed_threads},
    {"GET", "/api/presence", access::user, get_presence},
    {"PUT", "/api/presence", access::user, set_presence},
    {"GET", "/api/workspaces/{id}/online", access::user, online},
  });
}

} // namespace sb::http
