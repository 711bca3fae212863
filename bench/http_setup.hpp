// Setup over the HTTP API before a scenario's clients connect: sign-up, login, channels,
// DMs; and the GETs the bench reads a node's state with (cluster view, /metrics).
// Synchronous, one connection per call: setup is not measured.
#pragma once

#include <cstdint>
#include <string>

namespace sb::bench {

/// Status and body of one HTTP exchange; status 0 and the error text if it failed.
struct http_result {
  int status = 0;
  std::string body;
};

/// POSTs a JSON `body` to 127.0.0.1:port `target`, with `token` as Bearer if given.
http_result http_post(uint16_t port, const std::string& target, const std::string& body,
                      const std::string& token = "");

/// GETs `target` from 127.0.0.1:port, with `token` as Bearer if given; a call that has not
/// answered within `timeout_s` fails (status 0), so a wedged node cannot stall the bench.
http_result http_get(uint16_t port, const std::string& target, const std::string& token = "",
                     double timeout_s = 10);

/// A signed-up, logged-in user.
struct account {
  std::string id;
  std::string token;
};

/// Unique per run (set by main), so a running server can be reused.
extern std::string g_prefix;

/// `name` with the run's prefix: a user name no earlier run has taken.
inline std::string uniq(const std::string& name) { return g_prefix + name; }

/// Signs `name` up and logs in; throws on any failure.
account make_user(uint16_t port, const std::string& name);

/// Creates a public channel owned by `owner`; returns its id, throws on failure.
uint64_t make_channel(uint16_t port, const account& owner, const std::string& name);

/// Opens (or finds) the DM of `who` and user `other`; returns its channel id, throws on
/// failure.
uint64_t make_dm(uint16_t port, const account& who, const std::string& other);

} // namespace sb::bench
