// The RocksDB-backed store of one node: channel event logs plus every index an event
// touches, and the node's key-value records (accounts, sessions, workspaces, DMs, presence
// status, audit), each kind in its own column family (schema.hpp, docs/storage.md).
//
// Writes are two steps so that callers can batch and group-commit: `prepare` turns events
// into one storage::batch holding each event and all of its index updates (nothing is
// read, so preparing never blocks), `write` commits a batch atomically. Reads are bounded
// range scans that never run past the requested channel. All methods are thread-safe;
// ordering within a channel is the caller's job (the channel actor is its single writer).
//
// Implementation by concern: store_open.cpp (schema, open, upgrade.cpp for format 2 -> 3),
// event_log.cpp (events and their indexes), unread_index.cpp, records.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/batch.hpp"
#include "storage/event.hpp"
#include "storage/partition_rows.hpp"
#include "storage/schema.hpp"
#include "storage/status.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
struct ColumnFamilyOptions;
} // namespace rocksdb

namespace sb::storage {

/// Settings of `store::open`.
struct store_options {
  /// Data directory. Default: none (required).
  std::string path;
  /// Create the directory, all column families and format_version when absent. Default: true.
  bool create_if_missing = true;
  /// Sync the WAL before `append`/`set_read_state` return. Default: true.
  bool sync = true;
  /// How long a send nonce maps to its original seq. Default: 24 h.
  std::uint64_t idempotency_ttl_ms = 24ull * 60 * 60 * 1000;
  /// Background flush/compaction threads. Default: 2 (one per core on the target VM).
  int max_background_jobs = 2;
  /// Memtable size per column family. Default: 64 MiB (RocksDB's default).
  std::size_t write_buffer_bytes = 64u << 20;
  /// Records moved per atomic write when upgrading a format 2 dir. Default: 1000.
  std::size_t upgrade_chunk_records = 1000;
  /// Test hook: an upgrade stops (open fails with `stopped`) after this many chunks, as if
  /// the process died there; 0 = never. Default: 0.
  std::size_t upgrade_stop_after_chunks = 0;
};

/// One put (value set) or delete (value nullopt) of `store::write_records`.
struct record_op {
  table in = table::user_names;
  std::string key;
  std::optional<std::string> value;
};

/// Scan direction of `store::read_range`.
enum class direction {
  forward,  ///< seq > anchor, ascending
  backward, ///< seq < anchor, descending (newest first)
};

/// Anchor for a backward read that starts at the newest event.
inline constexpr std::uint64_t latest_seq = std::numeric_limits<std::uint64_t>::max();

/// Upper bound on any single read's result size, so one request cannot pin unbounded memory.
inline constexpr std::size_t max_read_limit = 10'000;

/// Reply statistics of one thread root.
struct thread_stats {
  std::uint64_t reply_count = 0;
  std::uint64_t last_reply_seq = 0;
  friend bool operator==(const thread_stats&, const thread_stats&) = default;
};

/// What the channel actor knows about an event that `prepare` cannot read by itself, so
/// the unread index commits in the event's own batch (see docs/storage.md, `unread`).
struct unread_hints {
  /// A top-level message: how many top-level messages the channel has including this one.
  std::uint64_t ordinal = 0;
  /// A removal: the removed message's thread root (0 = it was top-level).
  std::uint64_t target_root = 0;
  /// A reply: the root's author, who follows the thread from its first reply on.
  std::uint64_t root_author = 0;
};

/// A user's read cursor of a channel and the counts derived from it.
struct unread_counts {
  std::uint64_t last_read = 0; ///< the cursor: highest seq read
  std::uint64_t unread = 0;    ///< others' top-level messages after it, not removed
  std::uint64_t mentions = 0;  ///< those that mention the user (DMs: all of them)
  friend bool operator==(const unread_counts&, const unread_counts&) = default;
};

/// Counting of removed messages and mentions stops here (a bounded index scan).
inline constexpr std::uint64_t max_counted_mentions = 10'000;

/// A thread a user follows, with its read state.
struct followed_thread {
  std::uint64_t channel = 0;
  std::uint64_t root = 0;
  thread_stats stats;          ///< reply count and last reply seq
  std::uint64_t last_read = 0; ///< the thread cursor (a reply seq)
  std::uint64_t unread = 0;    ///< replies after it, not removed
};

/// A channel's current settings, folded from its channel_created event and the latest
/// channel_updated event of each attribute.
struct channel_record {
  std::uint64_t id = 0;
  std::uint64_t creator = 0;    ///< author of channel_created
  std::uint64_t workspace = 0;  ///< 0 = the node's default workspace
  std::string kind;             ///< public | private | dm
  std::string name;             ///< "" for DMs
  std::string topic;
  bool archived = false;
  std::vector<std::uint64_t> fixed_members; ///< DMs: the members fixed at creation
  friend bool operator==(const channel_record&, const channel_record&) = default;
};

/// Rows kept by the store's journal of in-place rewrites (`store::rewritten_since`).
inline constexpr std::size_t max_rewrite_journal = 4096;

/// An answer of `store::rewritten_since`.
struct rewritten_rows {
  std::uint64_t epoch = 0; ///< the journal's epoch now: pass it as `since` next time
  bool overflow = false;   ///< rewrites after `since` were forgotten: drop every cached row
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rows; ///< (channel, seq), oldest first
};

/// An open RocksDB data directory with the Switchboard schema.
class store {
public:
  /// Opens (or creates) a data dir. Errors: newer_format, missing_column_family,
  /// unknown_column_family, corruption, io_error, not_found (absent and !create_if_missing).
  /// Never drops, creates or rewrites a column family of an existing dir, except when
  /// upgrading a format 2 dir (docs/storage.md, "Upgrade"): that creates the record
  /// tables, moves every `auth` record into its table and then drops `auth`; an upgrade
  /// cut short by a crash is finished by the next open. Logged in one line.
  static result<std::unique_ptr<store>> open(const store_options& opts);

  /// Closes in RocksDB's required order: CF handles, Close(), then the DB.
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // -- writes ---------------------------------------------------------------------------

  /// Adds `e` and every index it touches to `batch` (see docs/storage.md for which),
  /// including the unread index: the author's read cursor moves to their own top-level
  /// message (thread cursor to their reply), mentions are indexed, and what needs the
  /// channel actor's knowledge comes from `hints` (top-level ordinals, removed-message
  /// markers, the root author's follow). An edit or removal also rewrites, in the same
  /// batch, the rows `rows` names (`rewrites_of`: the message's row gets the edit's text, or
  /// loses its text on removal; the previous edit row loses its text), so no read of the log
  /// serves deleted or superseded text. Reads nothing; fails on an event rejected by
  /// `validate`, and on an edit or removal whose `rows` do not fit it (invalid_argument).
  status prepare(const event& e, batch& into, const unread_hints& hints = {},
                 const rewrite_rows& rows = {}) const;

  /// One batch holding all `events` and their index updates; the rows edits and removals
  /// rewrite come from earlier events of `events`, else from the store (`rows_for`).
  result<batch> prepare(std::span<const event> events) const;

  /// The rows an edit or removal of (channel, target) rewrites, as stored now: the message
  /// and its latest edit (two point reads). Callers with writes in flight (the channel
  /// actor) apply those on top (`rows_after`).
  result<rewrite_rows> rows_for(std::uint64_t channel, std::uint64_t target) const;

  /// Commits `b` atomically; with `sync` the WAL is fsynced before returning. Once it is
  /// done, the rows `b` rewrote are listed by `rewritten_since`.
  status write(batch& b, bool sync);

  /// `prepare` + `write(options().sync)`: the simple, ungrouped path.
  status append(std::span<const event> events);

  /// Adds "user has read channel (or its thread `root`) up to seq" to `batch`. The cursor
  /// only moves forward: a merge keeps the maximum, so a stale device cannot move it back.
  void prepare_read_state(batch& into, std::uint64_t user,
                          std::uint64_t channel, std::uint64_t seq,
                          std::uint64_t root = 0) const;

  /// Writes a read marker now (synced per options().sync).
  status set_read_state(std::uint64_t user, std::uint64_t channel, std::uint64_t seq);

  /// Stores an opaque user profile record (owned by the user module).
  status put_user(std::uint64_t user, std::string_view record);

  // -- key-value records: one column family per `table` (schema.hpp builds the keys) --
  // All record writes are serialized by one mutex, so `put_record_if_absent` is atomic
  // against every other record write. Messages never include keys or values.

  /// Sets `key` to `value` in `t`; with `sync` the WAL is fsynced before returning.
  status put_record(table t, std::string_view key, std::string_view value, bool sync);

  /// Deletes `key` from `t` (absent is not an error).
  status delete_record(table t, std::string_view key, bool sync);

  /// One write of several puts and deletes, in any tables, applied atomically: all or none
  /// survive a crash. Synced per `sync`.
  status write_records(std::span<const record_op> ops, bool sync);

  /// Adds a put to `into`, for records whose owner writes them blindly and never through
  /// `put_record_if_absent` (e.g. a user's manual presence status), so the write can ride
  /// the group commit instead of a synced write of its own.
  void prepare_record_put(batch& into, table t, std::string_view key,
                          std::string_view value) const;

  /// Writes `key` = `value` only if `key` is absent from `t` (synced per options().sync):
  /// true when written, false when `key` already existed (e.g. a user name is taken).
  result<bool> put_record_if_absent(table t, std::string_view key, std::string_view value);

  // -- reads ----------------------------------------------------------------------------

  /// Up to `limit` (capped at max_read_limit) events of `channel` after/before `anchor`.
  result<std::vector<event>> read_range(std::uint64_t channel, direction dir,
                                        std::uint64_t anchor, std::size_t limit) const;

  /// One event, or nullopt when absent.
  result<std::optional<event>> get_event(std::uint64_t channel, std::uint64_t seq) const;

  /// Whether `user` currently has reacted with `emoji` to (channel, seq): the `reactions`
  /// set that reaction_add/reaction_remove events maintain in their own batch.
  result<bool> has_reaction(std::uint64_t channel, std::uint64_t seq, std::uint64_t user,
                            std::string_view emoji) const;

  /// Highest seq of `channel`, 0 when it has no events.
  result<std::uint64_t> last_seq(std::uint64_t channel) const;

  /// Seq of the event a (channel, author, nonce) send created, if its entry has not expired
  /// at `now_ms` (Unix ms).
  result<std::optional<std::uint64_t>> find_idempotent(std::uint64_t channel,
                                                       std::uint64_t author,
                                                       std::string_view nonce,
                                                       std::uint64_t now_ms) const;

  /// Reply count and last reply seq of a thread root (zeros when it has no replies).
  result<thread_stats> thread_info(std::uint64_t channel, std::uint64_t root_seq) const;

  /// Members of `channel` with user id > `after_user`, ascending, at most `limit`.
  result<std::vector<std::uint64_t>> members_of(std::uint64_t channel,
                                                std::uint64_t after_user = 0,
                                                std::size_t limit = max_read_limit) const;

  /// Channels `user` belongs to with id > `after_channel`, ascending, at most `limit`.
  result<std::vector<std::uint64_t>> channels_of(std::uint64_t user,
                                                 std::uint64_t after_channel = 0,
                                                 std::size_t limit = max_read_limit) const;

  /// Last seq `user` has read in `channel` (or in its thread `root`), 0 when never set.
  result<std::uint64_t> read_state(std::uint64_t user, std::uint64_t channel,
                                   std::uint64_t root = 0) const;

  /// Top-level messages of `channel` with seq <= `seq`: one index seek, no log scan.
  result<std::uint64_t> message_ordinal(std::uint64_t channel, std::uint64_t seq) const;

  /// The read cursor of `user` in `channel` and the unread and mention counts after it, up
  /// to `head`. Cost: one point read, two seeks, and scans of the removals and mentions
  /// after the cursor (bounded by max_counted_mentions). `dm`: every unread message counts
  /// as a mention.
  result<unread_counts> unread(std::uint64_t user, std::uint64_t channel, std::uint64_t head,
                               bool dm) const;

  /// Thread cursor and unread replies (others', not removed) of a thread `user` follows.
  result<followed_thread> thread_unread(std::uint64_t user, std::uint64_t channel,
                                        std::uint64_t root) const;

  /// Threads `user` follows, after (channel, root) = `after`, at most `limit` (≤ 200).
  result<std::vector<followed_thread>> followed_threads(std::uint64_t user,
                                                        std::pair<std::uint64_t, std::uint64_t> after,
                                                        std::size_t limit) const;

  /// The channel's settings, or nullopt when no channel_created event is stored.
  result<std::optional<channel_record>> channel_info(std::uint64_t channel) const;

  /// Seqs of the replies to thread `root_seq` of `channel` with seq > `after`, ascending,
  /// at most `limit` (capped at max_read_limit): an index, so no log scan.
  result<std::vector<std::uint64_t>> thread_replies(std::uint64_t channel,
                                                    std::uint64_t root_seq,
                                                    std::uint64_t after,
                                                    std::size_t limit) const;

  /// Events of `channel` at the given seqs (absent ones skipped), in the given order.
  result<std::vector<event>> get_events(std::uint64_t channel,
                                        std::span<const std::uint64_t> seqs) const;

  /// An opaque user record stored by `put_user`, if any.
  result<std::optional<std::string>> get_user(std::uint64_t user) const;

  /// Up to `limit` (capped at max_read_limit) records of `t` whose key starts with
  /// `prefix` and sorts after `after` (a full key; "" = from the start), ascending.
  result<std::vector<std::pair<std::string, std::string>>> scan_records(
    table t, std::string_view prefix, std::string_view after, std::size_t limit) const;

  /// Value of `key` in `t`, or nullopt when absent.
  result<std::optional<std::string>> get_record(table t, std::string_view key) const;

  /// Event rows rewritten in place (edits, removals) by writes that finished after the
  /// epoch `since` (0 = from the start), so caches of encoded events (the reader's replay
  /// cache) drop them before serving. Bounded: past `max_rewrite_journal` rows `overflow`
  /// says to drop everything. Cheap when nothing changed (one atomic load).
  rewritten_rows rewritten_since(std::uint64_t since) const;

  // -- partitions (cluster moves; partition_rows.hpp, docs/storage.md) -------------------

  /// From the return on, every write that touches a row of a partition in `frozen`
  /// (partition_of_row) fails with `frozen` and writes nothing; the rest of its batch is
  /// refused with it. Returns only after every write in flight under the old set has
  /// finished, so what an export reads afterwards is final. New writers wait while a
  /// freeze waits (it is never starved). Replaces the previous set.
  void set_frozen_partitions(const partition_set& frozen);

  /// Whether `partition` is frozen now.
  bool frozen(std::uint32_t partition) const;

  /// Up to about `max_bytes` (keys + values; at least one row) of partition `p`'s rows,
  /// continuing `from`: column families in schema order, keys ascending. One scan of the
  /// store over all pages. Reads merged values.
  result<export_page> export_partition(std::uint32_t p, const export_cursor& from,
                                       std::size_t max_bytes) const;

  /// Writes `rows` (each must belong to `p` and a partitioned column family, else
  /// invalid_argument and nothing is written) atomically, synced per `sync`. Ignores the
  /// frozen set: the target of a move imports into a partition it does not own yet.
  status import_partition_rows(std::uint32_t p, std::span<const partition_row> rows, bool sync);

  /// Deletes every row of partition `p` (synced), ignoring the frozen set; returns how many.
  /// Not atomic: a crash midway leaves some rows, and a second call finishes.
  result<std::uint64_t> drop_partition(std::uint32_t p);

  /// Rows, bytes and an order-independent hash of partition `p` (one scan).
  result<partition_digest> digest_partition(std::uint32_t p) const;

  /// Records (synced, in `metadata`: the node's own rows) that this store may hold rows of
  /// `p` that are not this node's to keep (a move of it to or from here is under way), or
  /// clears that. What a node finds recorded at start it settles against the view.
  status set_unsettled(std::uint32_t p, bool unsettled);

  /// The partitions recorded unsettled.
  result<partition_set> unsettled_partitions() const;

  const store_options& options() const noexcept { return opts_; }

  /// Names of every column family the schema requires (besides RocksDB's "default").
  static std::span<const char* const> column_family_names();

  /// The column family options the store opens `name` with (merge operators, filters), so
  /// tools that open a data dir directly can flush it without corrupting merged values.
  static rocksdb::ColumnFamilyOptions column_family_options(const std::string& name);

private:
  store(store_options opts, std::unique_ptr<rocksdb::DB> db,
        std::vector<rocksdb::ColumnFamilyHandle*> cfs);

  rocksdb::ColumnFamilyHandle* cf(std::size_t index) const { return cfs_[index]; }
  status prepare_unread(const event& e, batch& into, const unread_hints& hints) const;
  /// Format 2 -> 3 (upgrade.cpp): creates missing tables, moves `auth` records into them,
  /// writes format_version 3 with the last move, drops `auth`. Re-runnable at every step.
  status upgrade_from_v2(rocksdb::ColumnFamilyHandle*& auth, std::uint32_t found_version);
  result<std::vector<std::uint64_t>> scan_second_halves(std::size_t cf_index,
                                                        std::uint64_t first,
                                                        std::uint64_t after,
                                                        std::size_t limit) const;
  result<std::optional<std::string>> get_raw(std::size_t cf_index, const std::string& key) const;
  result<std::uint64_t> count_keys(std::size_t cf_index, const std::string& lower,
                                   const std::string& upper, std::uint64_t cap) const;
  /// Column family index (schema::cf) of a handle id, cf_count when unknown.
  std::size_t cf_index_of(std::uint32_t id) const noexcept;
  /// The partition of a session row about to be deleted (its value names the user).
  std::optional<std::uint32_t> session_partition(std::string_view key) const;
  /// frozen (with a message naming the partition) when `b` touches a frozen partition.
  /// Caller holds a write_pass.
  status check_writable(rocksdb::WriteBatch& b) const;
  status check_writable(std::size_t cf_index, std::string_view key,
                        std::optional<std::string_view> value) const;

  /// Held by every write from its frozen check to its end (a shared lock on freeze_mutex_,
  /// taken through the turnstile so a waiting freeze goes first).
  class write_pass {
  public:
    explicit write_pass(const store& s);
  private:
    std::shared_lock<std::shared_mutex> lock_;
  };

  store_options opts_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_; // index = position in column_family_names()
  std::mutex record_write_mutex_;                // serializes writes to record tables only
  mutable std::mutex freeze_turnstile_;          // a freeze holds it while it waits
  mutable std::shared_mutex freeze_mutex_;       // writes shared, a freeze exclusive
  partition_set frozen_;                         // under freeze_mutex_
  bool any_frozen_ = false;                      // frozen_.any(), under freeze_mutex_
  /// Records the rows of a finished write that rewrote rows (`rewritten_since`).
  void note_rewritten(const batch& b);
  mutable std::mutex journal_mutex_;
  // (epoch, channel, seq), ascending epoch, at most max_rewrite_journal; under journal_mutex_
  std::deque<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>> journal_;
  std::atomic<std::uint64_t> journal_epoch_{0};  // epoch of the newest entry
};

} // namespace sb::storage
