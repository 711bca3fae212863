// message_types: one add_message_type per entry of the type-ID block, derived from the
// block itself, so a type added to chat_messages.hpp can never be left unregistered.
#include "actors/message_types.hpp"

#include <utility>

// add_message_type<T> also instantiates CAF's deserializer for std::vector<T>; for an enum
// T, GCC 12 reports a false maybe-uninitialized inside CAF's fill_range (the value is read
// into before it is used).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>

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

/// One type as a message through CAF's binary serializer and back: "" or what failed.
template <class T>
std::string round_trip(caf::actor_system& sys, const char* name) {
  auto msg = caf::make_message(T{});
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(msg))
    return std::string{name} + ": " + sys.render(err);
  caf::message back;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(back))
    return std::string{name} + ": " + sys.render(err);
  if (caf::deep_to_string(back) != caf::deep_to_string(msg))
    return std::string{name} + ": arrived as " + caf::deep_to_string(back);
  return {};
}

template <caf::type_id_t... Is>
std::string round_trip_all(caf::actor_system& sys, std::integer_sequence<caf::type_id_t, Is...>) {
  constexpr auto first = caf::id_block::switchboard::begin;
  std::string failed;
  ((failed.empty()
      ? (void)(failed = round_trip<typename caf::type_by_id<first + Is>::type>(
                 sys, caf::type_name_by_id<first + Is>::value))
      : (void)0),
   ...);
  return failed;
}

} // namespace

std::string self_test_chat_types(caf::actor_system& sys) {
  using block = caf::id_block::switchboard;
  return round_trip_all(sys, std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
}

void register_chat_types(caf::actor_system_config& cfg) {
  using block = caf::id_block::switchboard;
  register_all(cfg, std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
}

} // namespace sb::actors
