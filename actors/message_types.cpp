// message_types: one add_message_type per entry of the type-ID block, derived from the
// block itself, so a type added to chat_messages.hpp can never be left unregistered.
#include "actors/message_types.hpp"

#include <utility>

// add_message_type<T> also instantiates CAF's deserializer for std::vector<T>; for an enum
// T, GCC 12 reports a false maybe-uninitialized inside CAF's fill_range (the value is read
// into before it is used).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <caf/actor_system_config.hpp>

#include "actors/chat_messages.hpp"

namespace sb::actors {

namespace {

template <caf::type_id_t... Is>
void register_all(caf::actor_system_config& cfg, std::integer_sequence<caf::type_id_t, Is...>) {
  constexpr auto first = caf::id_block::switchboard::begin;
  (cfg.add_message_type<typename caf::type_by_id<first + Is>::type>(
     caf::type_name_by_id<first + Is>::value),
   ...);
}

} // namespace

void register_chat_types(caf::actor_system_config& cfg) {
  using block = caf::id_block::switchboard;
  register_all(cfg, std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
}

} // namespace sb::actors
