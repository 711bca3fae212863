// close_codes: every WebSocket close code the server sends or reports, in one place
// (docs/transport.md and docs/protocol.md say, per code, whether a client resumes or
// re-identifies). The transport closes with the 1xxx codes itself; the chat layer uses
// the 4xxx application codes.
#pragma once

#include <cstdint>

namespace sb::protocol::close_code {

constexpr uint16_t normal = 1000;            ///< Regular close (either side).
constexpr uint16_t going_away = 1001;        ///< The client navigates away (a clean close too).
constexpr uint16_t abnormal = 1006;          ///< Reported to on_closed: no close frame seen.
constexpr uint16_t invalid_payload = 1007;   ///< A text frame that is not UTF-8 (RFC 6455, by Beast).
constexpr uint16_t internal_error = 1011;    ///< ws_factory returned no handler.
constexpr uint16_t server_restart = 1012;    ///< server::stop(); client resumes elsewhere/later.
constexpr uint16_t try_again_later = 1013;   ///< identify refused for load; resume after retry_ms.
constexpr uint16_t auth_failed = 4001;       ///< Bad or expired credentials; re-identify.
constexpr uint16_t heartbeat_timeout = 4002; ///< No heartbeat in time (app layer); resume.
constexpr uint16_t rate_limited = 4003;      ///< Too many frames (app layer); resume later.
constexpr uint16_t slow_consumer = 4004;     ///< Outbox bounds exceeded; resume.
constexpr uint16_t protocol_error = 4005;    ///< Invalid frame content (app layer); re-identify.
constexpr uint16_t frame_too_large = 4006;   ///< Inbound message over max_frame_bytes; resume.
constexpr uint16_t disconnected = 4007;      ///< An operator closed the user's sessions; re-identify.

/// A close the client asked for: presence ends at once instead of after the grace period.
constexpr bool is_clean(uint16_t code) noexcept {
  return code == normal || code == going_away;
}

} // namespace sb::protocol::close_code
