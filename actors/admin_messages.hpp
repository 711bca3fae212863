// admin_messages: what the operator API (actors/admin_api.cpp) asks chat actors directly.
// Supervisor snapshots already give every actor's counters without messaging it; these
// probes add what only the actor itself knows (head seq, members, subscribers, delivered
// seqs, outbox), one bounded reply each.
//
//   admin -> channel    : (admin_probe_atom, uint32_t members_limit, bool passivate)
//                            -> channel_probe   passivate: stop now if idle (no
//                                               subscribers, no write in flight)
//   admin -> connection : (admin_probe_atom, uint16_t close_code) -> connection_probe
//                            close_code != 0: close the socket with it after answering
//   admin -> user       : (admin_probe_atom) -> user_probe   its attached connections
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace sb::actors {

/// Operator probe of a chat actor (see the table above).
using admin_probe_atom = caf::atom_constant<caf::atom("admprobe")>;

/// Most members or subscribers one channel_probe lists.
constexpr uint32_t max_probe_rows = 100;

/// A channel actor's own view of itself.
struct channel_probe {
  uint64_t channel = 0;
  bool exists = false;                  ///< a channel_created event is durable or in flight
  std::string name;
  std::string kind;                     ///< public | private | dm
  bool archived = false;
  uint64_t head = 0;                    ///< highest durable seq
  uint64_t next_seq = 0;                ///< seq the next event gets
  uint64_t inflight = 0;                ///< writes assigned a seq, not yet durable
  uint64_t member_count = 0;
  std::vector<uint64_t> members;        ///< smallest ids first, at most the asked limit
  uint64_t subscriber_count = 0;        ///< connections on this node receiving it live
  std::vector<uint64_t> subscriber_users; ///< their users, at most max_probe_rows
  double bucket_tokens = 0;             ///< send tokens available now
  double bucket_rate = 0;               ///< refill per second
  double bucket_burst = 0;              ///< capacity
  bool passivated = false;              ///< stopped on this probe's request
};

/// One subscribed channel of a connection: what it has delivered.
struct delivered_seq {
  uint64_t channel = 0;
  uint64_t delivered = 0; ///< highest seq handed to the socket
  bool replaying = false; ///< a replay from storage is in progress
};

/// A connection actor's own view of itself.
struct connection_probe {
  uint64_t user = 0;                      ///< 0 before identify
  std::string session;                    ///< session id (hello)
  std::string phase;                      ///< awaiting_identify | identifying | ready
  uint64_t outbox_bytes = 0;              ///< queued in the transport, not yet written
  uint64_t outbox_frames = 0;             ///< frames queued in the transport
  double bucket_tokens = 0;               ///< op tokens available now
  int64_t opened_ms = 0;                  ///< Unix ms
  int64_t last_heartbeat_ms = 0;          ///< Unix ms
  bool closing = false;
  uint64_t channel_count = 0;             ///< subscribed channels
  std::vector<delivered_seq> channels;    ///< at most max_probe_rows
};

/// A user actor's attached connections.
struct user_probe {
  uint64_t user = 0;
  std::vector<caf::actor> devices;
};

} // namespace sb::actors

// Node-local replies: they hold actor handles or never leave the node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::channel_probe)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::connection_probe)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::user_probe)
