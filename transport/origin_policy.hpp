// origin_policy: which requests a browser page of another site, or a name that was rebound
// to this node, may make (docs/protocol.md, "Cross-site requests").
//
// Two rules, checked by the transport on every request (HTTP and the /ws upgrade) before the
// application sees it:
// - Host: when `allowed_hosts` is not empty, the Host header's name (port stripped) must be
//   one of them, else 421 misdirected_host. This defeats DNS rebinding: a page whose name now
//   resolves to this node still sends its own name as Host.
// - Origin: a request without Origin (curl, native clients, same-origin navigations) passes.
//   One with Origin passes when it is this node's own origin (its authority equals Host,
//   default ports ignored) or listed in `allowed_origins` ("*" lists every origin); else 403
//   origin_not_allowed. Browsers send Origin on every cross-origin request and WebSocket,
//   so another site's page cannot sign visitors up, log them in or open their gateway.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sb::transport {

struct origin_rules {
  /// Host names (lowercase, no port) this node answers to; empty = any.
  std::vector<std::string> allowed_hosts;
  /// Origins besides the node's own ("https://chat.example.com", lowercase, no trailing
  /// slash) whose pages may call the API and open /ws; "*" = any.
  std::vector<std::string> allowed_origins;
};

enum class origin_verdict { allowed, misdirected_host, origin_not_allowed };

/// Judges one request by its Host and Origin header values ("" when absent).
origin_verdict judge_origin(const origin_rules& rules, std::string_view host,
                            std::string_view origin);

/// Normalises an operator's list entry ("HTTPS://Chat.Example.com/" -> "https://chat.example.com",
/// "Chat.Example.com" -> "chat.example.com"); "" when it is not a valid origin / host name.
std::string normal_origin(std::string_view origin);
std::string normal_host(std::string_view host);

} // namespace sb::transport
