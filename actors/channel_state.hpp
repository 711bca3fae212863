// channel_state: the channel actor's state, shared by channel.cpp (its behaviour: persist,
// then deliver; read cursors; typing) and channel_rules.cpp (who may append what).
// Internal to those two files.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/expected.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "actors/token_bucket.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/metrics.hpp"
#include "storage/store.hpp"

namespace sb::actors::channel_detail {

using storage::event_kind;

// -- state ---------------------------------------------------------------------------

/// An event assigned a seq whose durable write has not completed yet.
struct pending_write {
  storage::event ev;
  std::vector<caf::response_promise> waiters; // the sender, plus retries with its nonce
};

/// A message an edit or removal in flight changes: its rows as those writes leave them.
struct inflight_rewrite {
  storage::rewrite_rows rows;
  uint64_t by = 0; // seq of the latest edit or removal of it in flight
};

/// A read-cursor write in flight: answered once durable, with the counts after it.
struct pending_read {
  caf::response_promise rp;
  uint64_t user = 0;
  uint64_t thread_root = 0;
  caf::actor origin; // the connection that asked (skipped by the device sync), or none
};

/// A connection that receives this channel's live events.
struct subscriber {
  connection_actor conn;
  uint64_t user = 0;
};

/// Another node interested in this channel: its relay, for which members it subscribed,
/// and the credits of the one stream of events to it (docs/cluster.md).
struct node_subscriber {
  relay_actor relay;
  uint32_t node = 0;
  std::unordered_set<uint64_t> users;
  uint64_t acked = 0;                          // the relay's cumulative ack (a seq)
  runtime::metrics::counter* sent = nullptr;   // sb_cluster_messages_total{peer=node,dir=out}
};

struct channel_state {
  node_context_ptr ctx;
  uint64_t id = 0;
  bool exists = false;          // a channel_created event is durable or in flight
  std::string channel_name;
  std::string kind;             // public | private | dm
  uint64_t creator = 0;         // author of channel_created: its first member
  uint64_t workspace = 0;       // 0 = the node's default workspace
  std::string topic;
  bool archived = false;        // archived: read-only until unarchived
  std::vector<uint64_t> fixed_members; // DMs: exactly these users may be members
  uint64_t next_seq = 1;        // seq the next event gets
  uint64_t durable_seq = 0;     // highest seq known durable
  uint64_t message_count = 0;   // top-level messages assigned a seq (the next ordinal - 1)
  std::unordered_set<uint64_t> members;
  std::unordered_map<caf::actor_id, subscriber> subscribers;
  // By relay address: actor ids are only unique within a node.
  std::map<caf::actor_addr, node_subscriber> node_subs;
  std::deque<pending_write> inflight;               // ascending seq, FIFO completions
  std::unordered_map<std::string, uint64_t> inflight_nonces; // author|nonce -> seq
  std::unordered_map<std::string, bool> inflight_reactions;  // target|user|emoji -> added
  std::unordered_map<uint64_t, inflight_rewrite> inflight_rewrites; // target seq -> its rows
  std::unordered_map<uint64_t, pending_read> pending_reads;  // token -> read-cursor write
  uint64_t next_read_token = 0;
  token_bucket sends;
  uint64_t idle_generation = 0;
  uint32_t barrier_attempts = 0; // empty writes submitted to wait for earlier writes

  static inline const char* name = "channel";
};

using channel_self = caf::stateful_actor<channel_state, runtime::supervised_actor>;

/// The public interface plus what only the channel itself and its durable writer send.
using channel_behavior = channel_owner_actor::extend<
  /// (seq, ok, what): the writer thread finished the event's write.
  caf::reacts_to<committed_atom, uint64_t, bool, std::string>,
  /// (token, ok): a read-cursor write finished.
  caf::reacts_to<read_done_atom, uint64_t, bool>,
  /// (generation): the idle timer fired.
  caf::reacts_to<idle_atom, uint64_t>>::behavior_type;

using runtime::now_ms;

inline std::string nonce_key(uint64_t author, const std::string& nonce) {
  return std::to_string(author) + "|" + nonce;
}

inline bool is_content(event_kind k) {
  return k == event_kind::message || k == event_kind::edit || k == event_kind::remove
         || k == event_kind::reaction_add || k == event_kind::reaction_remove
         || k == event_kind::pin || k == event_kind::unpin;
}

inline std::string reaction_key(const storage::event& e) {
  return std::to_string(e.target_seq) + "|" + std::to_string(e.author) + "|" + e.emoji;
}

// -- authorization and validation (channel_rules.cpp) ---------------------------------

/// The root message of a reply: in flight or stored; nullopt when `seq` is not a root.
caf::expected<std::optional<storage::event>> find_root(channel_self* self, uint64_t seq);

/// Whether the draft `d` may be appended now: the authorization matrix (membership, DMs'
/// fixed members, workspaces, archived channels, authors of edits, reaction sets, thread
/// roots, deleted messages). Fills what the unread index needs from the channel's knowledge
/// into `hints`, and for an edit or removal the rows it rewrites into `rows` (as stored,
/// with the edits and removals in flight applied).
caf::error check_append(channel_self* self, const storage::event& d,
                        storage::unread_hints& hints, storage::rewrite_rows& rows);

} // namespace sb::actors::channel_detail
