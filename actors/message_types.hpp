// message_types: registers the chat domain's type-ID block (chat_messages.hpp) with CAF,
// so every message struct can be serialized when it crosses to another node.
#pragma once

#include <string>

#include <caf/fwd.hpp>

namespace sb::actors {

/// Adds every type of the "switchboard" type-ID block to `cfg` (call before the actor
/// system starts; the server and the actor tests do).
void register_chat_types(caf::actor_system_config& cfg);

/// Sends one value of every type of the block through CAF's binary serializer and back,
/// as a message crossing to another node would go; "" when all arrive whole, else the
/// first type that does not (an unregistered type would arrive as an empty message on the
/// peer, silently). A cluster node runs it before it publishes itself.
std::string self_test_chat_types(caf::actor_system& sys);

} // namespace sb::actors
