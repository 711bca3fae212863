// node_context: what every chat actor of a node shares (the store, the durable writer,
// id generation, accounts, the registry and the limits). Owned by main(), which outlives
// the actor system; actors hold a shared_ptr so a late message can never see it freed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace sb::storage {
class store;
class commit_pool;
class id_generator;
} // namespace sb::storage

namespace sb::accounts {
class service;
class workspaces;
} // namespace sb::accounts

namespace sb::runtime {
class registry;
}

namespace sb::cluster {
class view_source;
}

namespace sb::actors {

/// Limits of the chat core, all configurable (see server/config.hpp).
struct chat_limits {
  /// Heartbeat interval announced in hello; a client silent for 2 intervals is closed.
  /// Default: 30 s.
  std::chrono::milliseconds heartbeat_interval{30000};
  /// Time a client has to identify after hello. Default: 10 s.
  std::chrono::milliseconds identify_timeout{10000};
  /// Token bucket per connection: sustained ops/s and burst. Default: 20/s, burst 40.
  double conn_rate_per_s = 20;
  double conn_burst = 40;
  /// Token bucket per channel (all senders): messages/s and burst. Default: 2000/s, 4000.
  double channel_rate_per_s = 2000;
  double channel_burst = 4000;
  /// Events one replay page holds (resume and history pages). Default: 200.
  uint32_t replay_page = 200;
  /// Replay stops filling a connection's outbox above this many bytes and continues when
  /// it drains (half the outbox bound). Default: 512 KiB.
  size_t outbox_soft_bytes = 512 * 1024;
  /// Bytes of encoded replay frames the storage reader keeps for clients resuming the
  /// same channel tail (a resume storm encodes each event once). Default: 32 MiB.
  size_t replay_cache_bytes = 32u << 20;
  /// Storage reader pool (actors/reader.hpp): detached reader threads. Default: 2.
  uint32_t reader_threads = 2;
  /// History and thread reads queued for the pool at most; one more is refused at once
  /// with `overloaded` (503). Default: 256.
  uint32_t reader_queue = 256;
  /// Other reads queued at most (ready lists, channel loads, existence checks, replays,
  /// cursors), served before history. Default: 4,096.
  uint32_t reader_urgent_queue = 4096;
  /// A queued read still waiting this long is answered `overloaded` and never read; one
  /// whose requester has stopped is dropped. Default: 5 s.
  std::chrono::milliseconds reader_deadline{5000};
  /// Largest history, thread or replay page in bytes of encoded events, whatever its
  /// limit (at least one event): a page cut short says has_more. Default: 1 MiB.
  size_t history_page_bytes = 1u << 20;
  /// Live events a connection buffers per channel while replaying. Default: 1,000.
  uint32_t replay_buffer_events = 1000;
  /// A channel actor with no subscribers and no writes for this long passivates.
  /// Default: 60 s.
  std::chrono::milliseconds channel_idle{60000};
  /// Max channels one ready frame lists and one connection subscribes. Default: 1,000.
  uint32_t max_channels_per_user = 1000;
  /// A user with no activity on any device for this long is away. Default: 10 min.
  std::chrono::milliseconds presence_idle{600000};
  /// A device that drops without a clean close keeps its user online this long (no
  /// flapping on flaky networks). Default: 5 s.
  std::chrono::milliseconds presence_grace{5000};
  /// Presence changes are coalesced and fanned out once per this period. Default: 1 s.
  std::chrono::milliseconds presence_batch{1000};
  /// Cluster: events an owner channel sends a relay beyond its last ack before it cuts the
  /// relay off (the relay's connections then resubscribe from the log). Default: 1,000.
  uint32_t relay_window = 1000;
  /// Cluster: a relay acks cumulatively after this many events, or after
  /// relay_ack_delay when fewer arrived. Default: 64, 20 ms.
  uint32_t relay_ack_every = 64;
  std::chrono::milliseconds relay_ack_delay{20};
};

class write_barrier;
struct node_budgets;
class channel_census;
class identify_admission;

/// Shared services of one node.
struct node_context {
  storage::store* db = nullptr;
  storage::commit_pool* writer = nullptr;
  storage::id_generator* ids = nullptr;
  accounts::service* accounts = nullptr;
  accounts::workspaces* workspaces = nullptr;
  std::shared_ptr<runtime::registry> names;
  chat_limits limits;
  /// Bearer token of the operator API under /admin/api/; empty disables it.
  std::string admin_token;
  /// This node's cluster membership (cluster::membership in a server); null when the
  /// node runs alone.
  cluster::view_source* cluster = nullptr;
  /// The store's write barrier for partition moves (actors/partition_mover.hpp); null
  /// when the node runs alone.
  write_barrier* barrier = nullptr;
  /// Per-caller budgets shared by both doors (actors/budgets.hpp); null: unlimited (unit
  /// tests that do not test limits).
  std::shared_ptr<node_budgets> budgets;
  /// Which local channels exist (actors/channel_census.hpp), so no channel actor starts
  /// for a channel that does not; null: no check (unit tests that do not test it).
  std::shared_ptr<channel_census> census;
  /// Bounds the identifies answered at once (actors/admission.hpp); null: unbounded.
  std::shared_ptr<identify_admission> admission;
};

using node_context_ptr = std::shared_ptr<const node_context>;

} // namespace sb::actors
