#include "protocol/encode.hpp"

#include "protocol/json_writer.hpp"

namespace sb::protocol {

using storage::event;
using storage::event_kind;

std::string_view event_type_name(event_kind kind) noexcept {
  // The wire says "delete" where the log says "remove"; every other name is storage's.
  return kind == event_kind::remove ? "delete" : storage::to_string(kind);
}

std::string_view channel_kind_name(channel_kind kind) noexcept {
  switch (kind) {
    case channel_kind::public_channel: return "public";
    case channel_kind::private_channel: return "private";
    case channel_kind::dm: return "dm";
  }
  return "public";
}

namespace {

/// Writes the event's fields into an object the caller has opened.
void write_event_fields(json_writer& w, const event& e, const event_extras& extras) {
  w.field("type", event_type_name(e.kind))
      .id_field("channel", e.channel_id)
      .field("seq", e.seq)
      .id_field("id", e.id)
      .id_field("author", e.author)
      .field("time", e.time_ms);
  switch (e.kind) {
    case event_kind::message:
      w.field("text", std::string_view(e.text));
      if (e.thread_root != 0) w.field("thread_root", e.thread_root);
      if (!e.nonce.empty()) w.field("nonce", std::string_view(e.nonce));
      if (extras.thread) {
        w.key("thread")
            .begin_object()
            .field("root", e.thread_root != 0 ? e.thread_root : e.seq)
            .field("reply_count", extras.thread->reply_count)
            .field("last_reply_seq", extras.thread->last_reply_seq)
            .end_object();
      }
      break;
    case event_kind::edit:
      w.field("target", e.target_seq).field("text", std::string_view(e.text));
      break;
    case event_kind::remove:
    case event_kind::pin:
    case event_kind::unpin:
      w.field("target", e.target_seq);
      break;
    case event_kind::reaction_add:
    case event_kind::reaction_remove:
      w.field("target", e.target_seq).field("emoji", std::string_view(e.emoji));
      break;
    case event_kind::member_join:
    case event_kind::member_leave:
      w.id_field("user", e.member_user());
      break;
    case event_kind::channel_created:
      w.field("kind", std::string_view(e.channel_kind)).id_field("workspace", e.subject);
      if (e.channel_kind == "dm") {
        w.key("members").begin_array();
        for (auto m : storage::parse_member_list(e.text)) w.id(m);
        w.end_array();
      } else {
        w.field("name", std::string_view(e.text));
      }
      break;
    case event_kind::channel_updated:
      // One attribute per event: {"name":..}, {"topic":..} or {"archived":bool}.
      if (e.attribute == storage::channel_attr_archived)
        w.field("archived", e.text == "1");
      else
        w.field(std::string_view(e.attribute), std::string_view(e.text));
      break;
  }
}

void write_channel_object(json_writer& w, const channel_info& c) {
  w.begin_object()
      .id_field("id", c.id)
      .field("name", std::string_view(c.name))
      .field("kind", channel_kind_name(c.kind))
      .field("head", c.head_seq)
      .id_field("workspace", c.workspace)
      .field("topic", std::string_view(c.topic))
      .field("archived", c.archived);
  if (c.read) {
    w.field("last_read", c.read->last_read)
        .field("unread", c.read->unread)
        .field("mentions", c.read->mentions);
  }
  if (c.kind == channel_kind::dm) {
    w.key("members").begin_array();
    for (auto m : c.members) w.id(m);
    w.end_array();
  }
  w.end_object();
}

void write_req(json_writer& w, std::string_view req_json) {
  if (!req_json.empty()) w.raw_field("req", req_json);
}

} // namespace

void append_event_object(std::string& out, const event& e, const event_extras& extras) {
  json_writer w(out);
  w.begin_object();
  write_event_fields(w, e, extras);
  w.end_object();
}

void append_channel_object(std::string& out, const channel_info& c) {
  json_writer w(out);
  write_channel_object(w, c);
}

channel_kind channel_kind_of(std::string_view stored) noexcept {
  return stored == "private" ? channel_kind::private_channel
         : stored == "dm"    ? channel_kind::dm
                             : channel_kind::public_channel;
}

std::string encode_event(const event& e, const event_extras& extras) {
  std::string out;
  out.reserve(160 + e.text.size());
  json_writer w(out);
  w.begin_object().field("op", "event");
  write_event_fields(w, e, extras);
  w.end_object();
  return out;
}

std::string encode_ack(std::string_view req_json, const event& e) {
  std::string out;
  out.reserve(128);
  json_writer w(out);
  w.begin_object().field("op", "ack");
  write_req(w, req_json);
  w.id_field("channel", e.channel_id)
      .field("seq", e.seq)
      .id_field("id", e.id)
      .field("time", e.time_ms)
      .end_object();
  return out;
}

std::string encode_error(std::string_view req_json, std::string_view code, std::string_view message,
                         std::uint64_t retry_ms) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("op", "error");
  write_req(w, req_json);
  w.field("code", code).field("message", message);
  if (retry_ms > 0)
    w.field("retry_ms", retry_ms);
  w.end_object();
  return out;
}

std::string encode_channel_error(std::uint64_t channel, std::string_view code,
                                 std::string_view message, std::uint64_t retry_ms) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("op", "error").id_field("channel", channel);
  w.field("code", code).field("message", message);
  if (retry_ms > 0)
    w.field("retry_ms", retry_ms);
  w.end_object();
  return out;
}

std::string encode_hello(std::uint64_t heartbeat_interval_ms, std::string_view session_id) {
  std::string out;
  json_writer w(out);
  w.begin_object()
      .field("op", "hello")
      .field("heartbeat_interval", heartbeat_interval_ms)
      .field("session", session_id)
      .end_object();
  return out;
}

std::string encode_ready(const ready_info& info) {
  std::string out;
  out.reserve(96 + info.channels.size() * 64);
  json_writer w(out);
  w.begin_object().field("op", "ready");
  w.key("user")
      .begin_object()
      .id_field("id", info.user_id)
      .field("name", std::string_view(info.user_name))
      .end_object();
  w.field("session", std::string_view(info.session_id));
  w.key("channels").begin_array();
  for (const auto& c : info.channels) write_channel_object(w, c);
  w.end_array().end_object();
  return out;
}

std::string encode_history(std::string_view req_json, std::uint64_t channel,
                           const std::vector<event>& events, bool has_more) {
  std::string out;
  std::size_t size = 96;
  for (const auto& e : events) size += 128 + e.text.size();
  out.reserve(size);
  json_writer w(out);
  w.begin_object().field("op", "history");
  write_req(w, req_json);
  w.id_field("channel", channel);
  w.key("events").begin_array();
  for (const auto& e : events) {
    w.begin_object();
    write_event_fields(w, e, {});
    w.end_object();
  }
  w.end_array().field("has_more", has_more).end_object();
  return out;
}

std::string encode_ok(std::string_view req_json) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("op", "ok");
  if (!req_json.empty())
    w.raw_field("req", req_json);
  w.end_object();
  return out;
}

std::string encode_subscribed(std::string_view req_json, std::uint64_t channel, std::uint64_t seq) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("op", "subscribed");
  if (!req_json.empty())
    w.raw_field("req", req_json);
  w.id_field("channel", channel).field("seq", seq).end_object();
  return out;
}

std::string encode_heartbeat_ack() { return R"({"op":"heartbeat_ack"})"; }

std::string encode_resumed(std::uint64_t channel, std::uint64_t from_seq, std::uint64_t to_seq) {
  std::string out;
  json_writer w(out);
  w.begin_object()
      .field("op", "resumed")
      .id_field("channel", channel)
      .field("from", from_seq)
      .field("head", to_seq)
      .end_object();
  return out;
}

std::string encode_read_state(std::string_view req_json, std::uint64_t channel,
                              std::uint64_t thread_root, const read_counts& counts) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("op", "read_state");
  write_req(w, req_json);
  w.id_field("channel", channel);
  if (thread_root != 0)
    w.field("thread_root", thread_root);
  w.field("last_read", counts.last_read).field("unread", counts.unread);
  if (thread_root == 0)
    w.field("mentions", counts.mentions);
  w.end_object();
  return out;
}

std::string encode_typing(std::uint64_t channel, std::uint64_t user, std::uint64_t expires_ms) {
  std::string out;
  json_writer w(out);
  w.begin_object()
      .field("op", "typing")
      .id_field("channel", channel)
      .id_field("user", user)
      .field("expires_ms", expires_ms)
      .end_object();
  return out;
}

std::string encode_seen(std::uint64_t channel, std::uint64_t user, std::uint64_t seq) {
  std::string out;
  json_writer w(out);
  w.begin_object()
      .field("op", "seen")
      .id_field("channel", channel)
      .id_field("user", user)
      .field("seq", seq)
      .end_object();
  return out;
}

namespace {

void write_presence_object(json_writer& w, const presence_entry& p) {
  w.begin_object().id_field("user", p.user).field("status", std::string_view(p.status));
  if (!p.custom.empty())
    w.field("custom", std::string_view(p.custom));
  w.end_object();
}

} // namespace

void append_presence_object(std::string& out, const presence_entry& p) {
  json_writer w(out);
  write_presence_object(w, p);
}

std::string encode_presence(std::uint64_t channel, const std::vector<presence_entry>& users) {
  std::string out;
  out.reserve(48 + users.size() * 40);
  json_writer w(out);
  w.begin_object().field("op", "presence").id_field("channel", channel).key("users").begin_array();
  for (const auto& p : users)
    write_presence_object(w, p);
  w.end_array().end_object();
  return out;
}

} // namespace sb::protocol
