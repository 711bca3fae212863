// message_types: registers the chat domain's type-ID block (chat_messages.hpp) with CAF,
// so every message struct can be serialized when it crosses to another node.
#pragma once

#include <caf/fwd.hpp>

namespace sb::actors {

/// Adds every type of the "switchboard" type-ID block to `cfg` (call before the actor
/// system starts; the server and the actor tests do).
void register_chat_types(caf::actor_system_config& cfg);

} // namespace sb::actors
