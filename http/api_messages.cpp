// api_messages: /api/channels/{id}/messages (history, send), .../messages/{seq} (edit,
// delete), .../messages/{seq}/reactions/{emoji}, .../pins/{seq} and .../threads/{root}.
// Writes are appends to the channel actor; reads go to the storage reader after the
// channel actor confirms membership.
#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/channel_directory.hpp"
#include "http/api_common.hpp"
#include "http/router.hpp"
#include "protocol/encode.hpp"
#include "protocol/utf8.hpp"
#include "storage/event.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;
using actors::history_page;

/// Checks (through the channel actor) that the caller is a member, then asks the reader.
/// A channel that does not exist answers 403 as for a non-member (no actor starts for it).
template <class Request, class OnPage>
void member_read(request_actor* self, uint64_t channel, Request req, OnPage on_page) {
  auto who = self->state.who.id;
  actors::check_member(
    self, self->state.ctx, channel, who, 10s,
    [self, channel, req, on_page](bool member) {
      if (!member)
        return fail(self, 403, "forbidden", "not a member of this channel");
      auto reader = actors::storage_reader(self->state.ctx, channel);
      if (!reader)
        return fail(self, 503, "unavailable", "storage reader restarting");
      req(reader).then([on_page](history_page& p) { on_page(p); },
                       [self](caf::error& err) { fail(self, err); });
    },
    [self](caf::error err) { fail(self, err); });
}

void history(request_actor* self) {
  auto channel = channel_arg(self);
  if (!channel)
    return;
  auto& t = self->state.tgt;
  auto dir = actors::history_direction::before;
  uint64_t anchor = storage::latest_seq;
  uint32_t limit = 50;
  if (auto l = t.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be a positive integer");
    limit = static_cast<uint32_t>(std::min<uint64_t>(*v, 200));
  }
  int anchors = 0;
  for (std::string_view name : {"before", "after", "around"}) {
    auto p = t.param(name);
    if (!p)
      continue;
    ++anchors;
    auto v = parse_u64(*p);
    if (!v || (*v == 0 && name != "after"))
      return fail(self, 400, "bad_value", std::string{name} + " must be a seq");
    anchor = *v;
    dir = name == "before"  ? actors::history_direction::before
          : name == "after" ? actors::history_direction::after
                            : actors::history_direction::around;
  }
  if (anchors > 1)
    return fail(self, 400, "bad_value", "use at most one of before, after, around");
  if (!spend_read_budget(self))
    return;
  auto ch = *channel;
  member_read(
    self, ch,
    [self, ch, dir, anchor, limit](actors::reader_actor reader) {
      return self->request(reader, 30s, actors::history_atom::value, ch, dir, anchor, limit);
    },
    [self, ch, dir](history_page& p) {
      if (dir == actors::history_direction::before)
        std::reverse(p.events.begin(), p.events.end());
      ok(self, protocol::encode_history("", ch, p.events, p.has_more));
    });
}

/// GET /api/channels/{id}/threads/{root}: the root message, then its replies, oldest first.
void thread_replies(request_actor* self) {
  auto channel = channel_arg(self);
  if (!channel)
    return;
  auto root = id_arg(self, "root");
  if (!root || *root == 0)
    return fail(self, 404, "not_found", "no such thread root");
  auto q = parse_page(self, 200);
  if (!q)
    return fail(self, 400, "bad_value", "after must be a seq, limit 1..200");
  if (!spend_read_budget(self))
    return;
  auto after = q->after;
  auto limit = static_cast<uint32_t>(q->limit);
  auto ch = *channel;
  auto r = *root;
  member_read(
    self, ch,
    [self, ch, r, after, limit](actors::reader_actor reader) {
      return self->request(reader, 30s, actors::thread_atom::value, ch, r, after, limit);
    },
    [self, ch](history_page& p) {
      ok(self, protocol::encode_history("", ch, p.events, p.has_more));
    });
}

void send_message(request_actor* self) {
  auto channel = channel_arg(self);
  if (!channel)
    return;
  auto& b = self->state.body;
  if (!b.text)
    return fail(self, 400, "missing_field", "text is required");
  auto chars = protocol::utf8_length(*b.text);
  if (!chars)
    return fail(self, 400, "bad_utf8", "text is not valid UTF-8");
  if (*chars == 0)
    return fail(self, 400, "empty_text", "text must not be empty");
  if (*chars > max_message_chars)
    return fail(self, 400, "text_too_long", "text is longer than 4000 characters");
  if (b.nonce && b.nonce->size() > storage::max_nonce_bytes)
    return fail(self, 400, "nonce_too_long", "nonce is longer than 64 bytes");
  storage::event d;
  d.kind = storage::event_kind::message;
  d.author = self->state.who.id;
  d.text = std::move(*b.text);
  d.nonce = b.nonce.value_or("");
  d.thread_root = b.thread_root.value_or(0);
  append_and_answer(self, *channel, std::move(d), 201);
}

/// A draft about message {seq} of channel {id} by the caller; nullopt after answering.
std::optional<std::pair<uint64_t, storage::event>> about_message(request_actor* self,
                                                                 storage::event_kind kind) {
  auto channel = channel_arg(self);
  if (!channel)
    return std::nullopt;
  auto seq = id_arg(self, "seq");
  if (!seq || *seq == 0) {
    fail(self, 404, "not_found", "no such message");
    return std::nullopt;
  }
  storage::event d;
  d.kind = kind;
  d.author = self->state.who.id;
  d.target_seq = *seq;
  return std::pair{*channel, std::move(d)};
}

void edit_message(request_actor* self) {
  auto& b = self->state.body;
  auto draft = about_message(self, storage::event_kind::edit);
  if (!draft)
    return;
  if (!b.text)
    return fail(self, 400, "missing_field", "text is required");
  auto chars = protocol::utf8_length(*b.text);
  if (!chars || *chars == 0 || *chars > max_message_chars)
    return fail(self, 400, "bad_value", "text must be 1..4000 characters of UTF-8");
  draft->second.text = std::move(*b.text);
  append_and_answer(self, draft->first, std::move(draft->second));
}

/// Appends a draft that needs nothing but the path (remove, pin, unpin).
void simple(request_actor* self, storage::event_kind kind) {
  if (auto draft = about_message(self, kind))
    append_and_answer(self, draft->first, std::move(draft->second));
}

void reaction(request_actor* self, storage::event_kind kind) {
  auto draft = about_message(self, kind);
  if (!draft)
    return;
  auto emoji = decode_path(arg(self, "emoji"));
  if (!emoji || emoji->empty() || emoji->size() > storage::max_emoji_bytes
      || !protocol::utf8_length(*emoji))
    return fail(self, 400, "bad_value", "emoji must be 1..64 bytes of UTF-8");
  draft->second.emoji = std::move(*emoji);
  append_and_answer(self, draft->first, std::move(draft->second));
}

} // namespace

void add_message_routes(std::vector<route>& out) {
  using k = storage::event_kind;
  out.insert(out.end(), {
    {"GET", "/api/channels/{id}/messages", access::user, history},
    {"POST", "/api/channels/{id}/messages", access::user, send_message},
    {"GET", "/api/channels/{id}/threads/{root}", access::user, thread_replies},
    {"PATCH", "/api/channels/{id}/messages/{seq}", access::user, edit_message},
    {"DELETE", "/api/channels/{id}/messages/{seq}", access::user,
     [](request_actor* self) { simple(self, k::remove); }},
    {"PUT", "/api/channels/{id}/pins/{seq}", access::user,
     [](request_actor* self) { simple(self, k::pin); }},
    {"DELETE", "/api/channels/{id}/pins/{seq}", access::user,
     [](request_actor* self) { simple(self, k::unpin); }},
    {"PUT", "/api/channels/{id}/messages/{seq}/reactions/{emoji}", access::user,
     [](request_actor* self) { reaction(self, k::reaction_add); }},
    {"DELETE", "/api/channels/{id}/messages/{seq}/reactions/{emoji}", access::user,
     [](request_actor* self) { reaction(self, k::reaction_remove); }},
  });
}

} // namespace sb::http
