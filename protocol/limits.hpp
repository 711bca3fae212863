// limits: the protocol's fixed caps shared by both doors (WebSocket ops and the HTTP API),
// so a message that one door accepts the other accepts too. Configurable limits (rates,
// outbox bounds) live in the server's options instead.
#pragma once

#include <cstddef>

#include "storage/event.hpp"

namespace sb::protocol {

/// Most Unicode code points in a message text (send and edit, WebSocket and HTTP).
inline constexpr std::size_t max_message_chars = 4000;

/// Most bytes of a send nonce (the idempotency token), as the event log stores it.
inline constexpr std::size_t max_nonce_bytes = storage::max_nonce_bytes;

} // namespace sb::protocol
