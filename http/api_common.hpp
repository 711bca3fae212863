// api_common: helpers the chat API's route files share (internal to http/).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>

#include "actors/chat_messages.hpp"
#include "actors/directory.hpp"
#include "actors/interfaces.hpp"
#include "http/request.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/limits.hpp"
#include "storage/event.hpp"

namespace sb::http {

/// Longest message text, in characters.
using protocol::max_message_chars;

/// A user object: {"id","name","display_name"}.
void write_user(protocol::json_writer& w, const actors::user_card& u);

/// {"members":[user...],"has_more":more}
std::string members_json(const std::vector<actors::user_card>& users, bool more);

/// A channel object, as `ready` lists it (protocol::append_channel_object).
std::string channel_json(const actors::channel_summary& c);

/// {"channel","seq","id","time"} of a committed event.
std::string committed_json(const storage::event& ev);

/// An optional `after` id/seq and `limit` (default 100, capped at `cap`) of the query.
struct page_query {
  uint64_t after = 0;
  size_t limit = 100;
};
std::optional<page_query> parse_page(request_actor* self, size_t cap);

/// The path argument `name` as an id, or nullopt.
std::optional<uint64_t> id_arg(request_actor* self, std::string_view name);

/// The channel id of the path ("{id}"), or answers 404 and returns nullopt.
std::optional<uint64_t> channel_arg(request_actor* self);

/// The directory, or answers 503 and returns an invalid handle.
actors::directory_actor directory_or_fail(request_actor* self);

/// Appends `draft` to `channel` and continues with the committed event (errors answer).
void append(request_actor* self, uint64_t channel, storage::event draft,
            std::function<void(storage::event&)> ok);

/// Appends `draft` and answers `status` with the committed event's JSON.
void append_and_answer(request_actor* self, uint64_t channel, storage::event draft,
                       unsigned status = 200);

} // namespace sb::http
