// api_common: shared helpers of the chat API routes (see api_common.hpp).
#include "http/api_common.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/reader.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"

namespace sb::http {

void write_user(protocol::json_writer& w, const actors::user_card& u) {
  w.begin_object().id_field("id", u.id).field("name", u.name)
    .field("display_name", u.display_name).end_object();
}

std::string members_json(const std::vector<actors::user_card>& users, bool more) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().key("members").begin_array();
  for (auto& u : users)
    write_user(w, u);
  w.end_array().field("has_more", more).end_object();
  return out;
}

std::string channel_json(const actors::channel_summary& c) {
  std::string out;
  protocol::append_channel_object(out, actors::to_wire(c));
  return out;
}

std::string committed_json(const storage::event& ev) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().id_field("channel", ev.channel_id).field("seq", ev.seq)
    .id_field("id", ev.id).field("time", ev.time_ms).end_object();
  return out;
}

std::optional<page_query> parse_page(request_actor* self, size_t cap) {
  auto& t = self->state.tgt;
  page_query q;
  if (auto a = t.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return std::nullopt;
    q.after = *v;
  }
  if (auto l = t.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return std::nullopt;
    q.limit = static_cast<size_t>(std::min<uint64_t>(*v, cap));
  }
  return q;
}

std::optional<uint64_t> id_arg(request_actor* self, std::string_view name) {
  return parse_u64(arg(self, name));
}

std::optional<uint64_t> channel_arg(request_actor* self) {
  auto id = id_arg(self, "id");
  if (!id)
    fail(self, 404, "not_found", "no such channel");
  return id;
}

actors::directory_actor directory_or_fail(request_actor* self) {
  auto dir = actors::directory_of(self->state.ctx);
  if (!dir)
    fail(self, 503, "unavailable", "directory restarting");
  return dir;
}

void append(request_actor* self, uint64_t channel, storage::event draft,
            std::function<void(storage::event&)> ok) {
  actors::append_to_channel(self, self->state.ctx, channel, std::move(draft), std::move(ok),
                            [self](const caf::error& err) { fail(self, err); });
}

void append_and_answer(request_actor* self, uint64_t channel, storage::event draft,
                       unsigned status) {
  append(self, channel, std::move(draft),
         [self, status](storage::event& ev) { answer(self, json(status, committed_json(ev))); });
}

} // namespace sb::http
