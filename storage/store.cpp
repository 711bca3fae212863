// store: opening/validating a data dir, preparing write batches, bounded reads.
//
// Thread reply counters use a RocksDB associative merge operator (not read-modify-write):
// `prepare` stays read-free, and batches of different channels merged by group_commit
// never need a read under a lock. The operator adds counts and keeps the max reply seq.
#include "storage/store.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <set>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "storage/keys.hpp"
#include "storage/mentions.hpp"

namespace sb::storage {

namespace {

// Column family indexes into store::cfs_; order matches cf_names.
enum cf_index : std::size_t {
  cf_events,
  cf_channels,
  cf_users,
  cf_members,
  cf_user_channels,
  cf_read_state,
  cf_idempotency,
  cf_threads,
  cf_metadata,
  cf_auth,
  cf_reactions,
  cf_unread,
  cf_count,
  cf_default = cf_count, // RocksDB's own; opened (it must be) but unused
};

constexpr std::array<const char*, cf_count> cf_names = {
  "events", "channels", "users", "members", "user_channels",
  "read_state", "idempotency", "threads", "metadata", "auth", "reactions", "unread",
};

constexpr const char* format_version_key = "format_version";

status from_rocks(const rocksdb::Status& s, const std::string& context) {
  if (s.ok())
    return {};
  errc code = errc::internal;
  if (s.IsCorruption())
    code = errc::corruption;
  else if (s.IsIOError())
    code = errc::io_error;
  else if (s.IsNotFound())
    code = errc::not_found;
  else if (s.IsBusy() || s.IsTryAgain())
    code = errc::busy;
  else if (s.IsInvalidArgument())
    code = errc::invalid_argument;
  return status{code, context + ": " + s.ToString()};
}

std::string be64_value(std::uint64_t v) {
  return keys::id_key(v);
}

std::string two_be64(std::uint64_t a, std::uint64_t b) {
  return keys::pair_key(a, b);
}

std::string record_name(std::uint64_t channel, std::uint64_t seq) {
  return "channel " + std::to_string(channel) + " seq " + std::to_string(seq);
}

/// Merge operator of `threads`: values and operands are be64(count) | be64(last_reply_seq).
class thread_counter_merge final : public rocksdb::AssociativeMergeOperator {
public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    // A malformed operand fails the merge, which RocksDB reports as corruption on read,
    // rather than being silently folded into a wrong count.
    if (value.size() != 16)
      return false;
    auto count = keys::get_be64(value.data());
    auto last = keys::get_be64(value.data() + 8);
    if (existing != nullptr) {
      if (existing->size() != 16)
        return false;
      count += keys::get_be64(existing->data());
      last = std::max(last, keys::get_be64(existing->data() + 8));
    }
    new_value->clear();
    keys::put_be64(*new_value, count);
    keys::put_be64(*new_value, last);
    return true;
  }
  const char* Name() const override { return "sb.thread_counter.v1"; }
};

/// Merge operator of `read_state`: values and operands are be64(seq); the cursor keeps the
/// maximum, so marking read is forward-only without a read-modify-write.
class read_cursor_max final : public rocksdb::AssociativeMergeOperator {
public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    if (value.size() != 8 || (existing != nullptr && existing->size() != 8))
      return false; // reported as corruption on read, never folded into a wrong cursor
    auto seq = keys::get_be64(value.data());
    if (existing != nullptr)
      seq = std::max(seq, keys::get_be64(existing->data()));
    *new_value = keys::id_key(seq);
    return true;
  }
  const char* Name() const override { return "sb.read_cursor_max.v1"; }
};

/// Compaction filter of `idempotency`: drops entries whose expiry (bytes 8..16) has passed,
/// so the nonce table stays bounded by the sends of one TTL window.
class idempotency_expiry_filter final : public rocksdb::CompactionFilter {
public:
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    if (value.size() != 16)
      return false; // never drop what we do not understand
    using namespace std::chrono;
    auto now = static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    return keys::get_be64(value.data() + 8) <= now;
  }
  const char* Name() const override { return "sb.idempotency_expiry.v1"; }
};

/// The 8-byte channel prefix of `events` and `idempotency` keys.
const std::shared_ptr<const rocksdb::SliceTransform>& channel_prefix() {
  static const std::shared_ptr<const rocksdb::SliceTransform> t{
    rocksdb::NewFixedPrefixTransform(8)};
  return t;
}

rocksdb::ColumnFamilyOptions cf_options(const store_options& opts, const std::string& name) {
  static const std::shared_ptr<rocksdb::MergeOperator> merge_op =
    std::make_shared<thread_counter_merge>();
  static const std::shared_ptr<rocksdb::MergeOperator> cursor_op =
    std::make_shared<read_cursor_max>();
  static const idempotency_expiry_filter expiry_filter; // must outlive every DB: static
  static const std::shared_ptr<rocksdb::TableFactory> table = [] {
    rocksdb::BlockBasedTableOptions t;
    // Whole-key bloom filters make point reads (get_event, nonce lookups) skip files.
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(t));
  }();
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = opts.write_buffer_bytes;
  o.table_factory = table;
  if (name == cf_names[cf_events]) {
    // A channel appends ascending seqs: remembering the last insert position per 8-byte
    // channel prefix makes most memtable inserts skip the skiplist search (measured: the
    // search dominates the writer thread's CPU).
    o.memtable_insert_with_hint_prefix_extractor = channel_prefix();
  }
  if (name == cf_names[cf_threads])
    o.merge_operator = merge_op;
  if (name == cf_names[cf_unread]) {
    // Ordinal keys (tag | channel | seq) ascend per channel like events: hint them too.
    static const std::shared_ptr<const rocksdb::SliceTransform> tag_and_channel{
      rocksdb::NewFixedPrefixTransform(9)};
    o.memtable_insert_with_hint_prefix_extractor = tag_and_channel;
  }
  if (name == cf_names[cf_read_state]) {
    o.merge_operator = cursor_op;
    // A sender's cursor moves with each of their messages: hint inserts per user.
    o.memtable_insert_with_hint_prefix_extractor = channel_prefix(); // any 8-byte prefix
  }
  if (name == cf_names[cf_idempotency]) {
    o.compaction_filter = &expiry_filter;
    // Keys start with the channel, and one channel's nonce inserts cluster: hint them too.
    o.memtable_insert_with_hint_prefix_extractor = channel_prefix();
    // Nearly every nonce lookup is a miss (a first send): a memtable bloom filter answers
    // it without a skiplist search.
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.05;
  }
  return o;
}

} // namespace

rocksdb::ColumnFamilyOptions store::column_family_options(const std::string& name) {
  return cf_options(store_options{}, name);
}

std::span<const char* const> store::column_family_names() {
  return cf_names;
}

store::store(store_options opts, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> cfs)
  : opts_(std::move(opts)), db_(std::move(db)), cfs_(std::move(cfs)) {
}

store::~store() {
  // No iterator outlives the call that created it, so handles are next, then Close().
  for (auto* h : cfs_)
    db_->DestroyColumnFamilyHandle(h);
  cfs_.clear();
  db_->Close();
  db_.reset();
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  if (opts.path.empty())
    return status{errc::invalid_argument, "store_options.path is empty"};
  rocksdb::DBOptions dbo;
  dbo.max_background_jobs = opts.max_background_jobs;
  // Lets one writer's WAL write overlap another's memtable insert (see commit_pool.hpp).
  dbo.enable_pipelined_write = true;
  // Neither flag may ever add things to an existing dir: only a fresh dir gets CFs created.
  dbo.create_if_missing = false;
  dbo.create_missing_column_families = false;

  std::error_code ec;
  bool fresh = !std::filesystem::exists(std::filesystem::path{opts.path} / "CURRENT", ec);
  std::vector<std::string> existing;
  if (fresh) {
    if (!opts.create_if_missing)
      return status{errc::not_found, "no data dir at " + opts.path};
    std::filesystem::create_directories(opts.path, ec);
    if (ec)
      return status{errc::io_error, "cannot create " + opts.path + ": " + ec.message()};
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
  } else {
    auto s = rocksdb::DB::ListColumnFamilies(dbo, opts.path, &existing);
    if (!s.ok())
      return from_rocks(s, "listing column families of " + opts.path);
    std::set<std::string> known{cf_names.begin(), cf_names.end()};
    known.insert(rocksdb::kDefaultColumnFamilyName);
    // Refuse before opening: an unknown CF may belong to a newer version, and opening a
    // dir without all of its CFs is not something we want to attempt with it.
    for (const auto& name : existing)
      if (!known.count(name))
        return status{errc::unknown_column_family,
                      "column family '" + name + "' in " + opts.path + " is unknown"};
    for (const auto* name : cf_names)
      if (std::find(existing.begin(), existing.end(), name) == existing.end())
        return status{errc::missing_column_family,
                      std::string{"column family '"} + name + "' missing in " + opts.path};
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto* name : cf_names)
    descs.emplace_back(name, cf_options(opts, name));
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options(opts, "default"));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, opts.path, descs, &handles, &raw);
  if (!s.ok())
    return from_rocks(s, "opening " + opts.path);
  std::unique_ptr<store> st{new store(opts, std::unique_ptr<rocksdb::DB>(raw), std::move(handles))};

  // Format version: absent only in a dir we just created (or whose creation crashed
  // before the first write, which we recognise by an empty events CF).
  auto version = st->get_raw(cf_metadata, format_version_key);
  if (!version)
    return version.error();
  if (!version->has_value()) {
    if (!fresh) {
      std::unique_ptr<rocksdb::Iterator> it{
        st->db_->NewIterator(rocksdb::ReadOptions{}, st->cf(cf_events))};
      it->SeekToFirst();
      if (it->Valid() || !it->status().ok())
        return status{errc::corruption, "metadata has no format_version in " + opts.path};
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto ws = st->db_->Put(wo, st->cf(cf_metadata), format_version_key,
                           std::to_string(storage_format_version));
    if (!ws.ok())
      return from_rocks(ws, "writing format_version");
    return st;
  }
  const std::string& text = **version;
  std::uint32_t v = 0;
  auto [end, perr] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (perr != std::errc{} || end != text.data() + text.size() || v == 0)
    return status{errc::corruption, "unreadable format_version in " + opts.path};
  if (v > storage_format_version)
    return status{errc::newer_format, "data dir " + opts.path + " has format version "
                                        + std::to_string(v) + ", this build supports "
                                        + std::to_string(storage_format_version)};
  return st;
}

// -- writes ------------------------------------------------------------------------------

status store::prepare(const event& e, rocksdb::WriteBatch& batch,
                      const unread_hints& hints) const {
  if (auto st = validate(e); !st.ok())
    return st;
  auto encoded = encode(e);
  rocksdb::Status s;
  auto add = [&s](rocksdb::Status r) {
    if (s.ok())
      s = std::move(r);
  };
  add(batch.Put(cf(cf_events), keys::event_key(e.channel_id, e.seq), encoded));
  if (!e.nonce.empty())
    add(batch.Put(cf(cf_idempotency), keys::idempotency_key(e.channel_id, e.author, e.nonce),
                  two_be64(e.seq, e.time_ms + opts_.idempotency_ttl_ms)));
  switch (e.kind) {
    case event_kind::message:
      if (e.thread_root != 0)
      {
        add(batch.Merge(cf(cf_threads), keys::thread_key(e.channel_id, e.thread_root),
                        two_be64(1, e.seq)));
        add(batch.Put(cf(cf_threads), keys::thread_reply_key(e.channel_id, e.thread_root, e.seq),
                      ""));
      }
      break;
    case event_kind::member_join:
      // A new member has read everything before their join: the history is not unread.
      add(batch.Merge(cf(cf_read_state), keys::read_state_key(e.member_user(), e.channel_id),
                      be64_value(e.seq)));
      add(batch.Put(cf(cf_members), keys::member_key(e.channel_id, e.member_user()),
                    be64_value(e.seq)));
      add(batch.Put(cf(cf_user_channels), keys::user_channel_key(e.member_user(), e.channel_id),
                    be64_value(e.seq)));
      break;
    case event_kind::member_leave:
      add(batch.Delete(cf(cf_members), keys::member_key(e.channel_id, e.member_user())));
      add(batch.Delete(cf(cf_user_channels),
                       keys::user_channel_key(e.member_user(), e.channel_id)));
      break;
    case event_kind::channel_created:
      add(batch.Put(cf(cf_channels), keys::id_key(e.channel_id), encoded));
      break;
    case event_kind::channel_updated:
      add(batch.Put(cf(cf_channels), keys::channel_attr_key(e.channel_id, e.emoji), encoded));
      break;
    case event_kind::reaction_add:
      add(batch.Put(cf(cf_reactions), keys::reaction_key(e.channel_id, e.target_seq, e.author,
                                                         e.emoji), ""));
      break;
    case event_kind::reaction_remove:
      add(batch.Delete(cf(cf_reactions),
                       keys::reaction_key(e.channel_id, e.target_seq, e.author, e.emoji)));
      break;
    default: break; // edits, removals, pins live only in the log
  }
  // The unread index (docs/storage.md): read cursors, ordinals, mentions, follows.
  namespace tag = keys::unread_tag;
  auto* idx = cf(cf_unread);
  const auto ch = e.channel_id;
  if (e.kind == event_kind::message && e.thread_root == 0) {
    if (hints.ordinal != 0)
      add(batch.Put(idx, keys::unread_key(tag::ordinal, {ch, e.seq}), be64_value(hints.ordinal)));
    // Your own message is read: the cursor moves to it (forward only).
    add(batch.Merge(cf(cf_read_state), keys::read_state_key(e.author, ch), be64_value(e.seq)));
    auto m = parse_mentions(e.text);
    for (auto user : m.users)
      if (user != e.author)
        add(batch.Put(idx, keys::unread_key(tag::mention, {user, ch, e.seq}), ""));
    if (m.everyone)
      add(batch.Put(idx, keys::unread_key(tag::everyone, {ch, e.seq}), be64_value(e.author)));
  } else if (e.kind == event_kind::message) {
    // A reply: its author, the root's author and everyone it mentions follow the thread.
    const auto root = e.thread_root;
    add(batch.Merge(cf(cf_read_state), keys::thread_read_key(e.author, ch, root),
                    be64_value(e.seq)));
    add(batch.Put(idx, keys::unread_key(tag::follow, {e.author, ch, root}), ""));
    if (hints.root_author != 0 && hints.root_author != e.author)
      add(batch.Put(idx, keys::unread_key(tag::follow, {hints.root_author, ch, root}), ""));
    for (auto user : parse_mentions(e.text).users)
      if (user != e.author)
        add(batch.Put(idx, keys::unread_key(tag::follow, {user, ch, root}), ""));
  } else if (e.kind == event_kind::remove) {
    add(hints.target_root == 0
          ? batch.Put(idx, keys::unread_key(tag::removed, {ch, e.target_seq}), "")
          : batch.Put(idx, keys::unread_key(tag::removed_reply, {ch, hints.target_root,
                                                                 e.target_seq}), ""));
  }
  return from_rocks(s, "building batch for " + record_name(e.channel_id, e.seq));
}

result<rocksdb::WriteBatch> store::prepare(std::span<const event> events) const {
  rocksdb::WriteBatch batch;
  for (const auto& e : events)
    if (auto st = prepare(e, batch); !st.ok())
      return st;
  return batch;
}

status store::write(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return from_rocks(db_->Write(wo, &batch), "write");
}

status store::append(std::span<const event> events) {
  auto batch = prepare(events);
  if (!batch)
    return batch.error();
  return write(*batch, opts_.sync);
}

void store::prepare_read_state(rocksdb::WriteBatch& batch, std::uint64_t user,
                               std::uint64_t channel, std::uint64_t seq,
                               std::uint64_t root) const {
  // Merge cannot fail for a short key and 8-byte value without a batch size limit.
  (void) batch.Merge(cf(cf_read_state),
                     root == 0 ? keys::read_state_key(user, channel)
                               : keys::thread_read_key(user, channel, root),
                     be64_value(seq));
}

status store::set_read_state(std::uint64_t user, std::uint64_t channel, std::uint64_t seq) {
  rocksdb::WriteBatch batch;
  prepare_read_state(batch, user, channel, seq);
  return write(batch, opts_.sync);
}

void store::prepare_auth_put(rocksdb::WriteBatch& batch, std::string_view key,
                             std::string_view value) const {
  (void) batch.Put(cf(cf_auth), rocksdb::Slice{key.data(), key.size()},
                   rocksdb::Slice{value.data(), value.size()}); // fails only past a size limit
}

status store::put_user(std::uint64_t user, std::string_view record) {
  rocksdb::WriteOptions wo;
  wo.sync = opts_.sync;
  return from_rocks(db_->Put(wo, cf(cf_users), keys::id_key(user),
                             rocksdb::Slice{record.data(), record.size()}),
                    "put_user");
}

// -- auth --------------------------------------------------------------------------------

namespace {
rocksdb::Slice slice(std::string_view v) {
  return rocksdb::Slice{v.data(), v.size()};
}
} // namespace

status store::auth_put(std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::lock_guard guard{auth_write_mutex_};
  return from_rocks(db_->Put(wo, cf(cf_auth), slice(key), slice(value)), "auth_put");
}

status store::auth_delete(std::string_view key, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::lock_guard guard{auth_write_mutex_};
  return from_rocks(db_->Delete(wo, cf(cf_auth), slice(key)), "auth_delete");
}

status store::auth_write(
  std::span<const std::pair<std::string, std::optional<std::string>>> ops, bool sync) {
  rocksdb::WriteBatch batch;
  for (auto& [key, value] : ops) {
    auto s = value ? batch.Put(cf(cf_auth), slice(key), slice(*value))
                   : batch.Delete(cf(cf_auth), slice(key));
    if (!s.ok())
      return from_rocks(s, "auth_write");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::lock_guard guard{auth_write_mutex_};
  return from_rocks(db_->Write(wo, &batch), "auth_write");
}

result<bool> store::auth_put_if_absent(std::string_view key, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = opts_.sync;
  // Every auth write takes this lock, so nothing can write `key` between Get and Put.
  std::lock_guard guard{auth_write_mutex_};
  std::string existing;
  auto s = db_->Get(rocksdb::ReadOptions{}, cf(cf_auth), slice(key), &existing);
  if (s.ok())
    return false;
  if (!s.IsNotFound())
    return from_rocks(s, "auth_put_if_absent");
  if (auto put = from_rocks(db_->Put(wo, cf(cf_auth), slice(key), slice(value)),
                            "auth_put_if_absent");
      !put.ok())
    return put;
  return true;
}

result<bool> store::has_reaction(std::uint64_t channel, std::uint64_t seq, std::uint64_t user,
                                 std::string_view emoji) const {
  auto raw = get_raw(cf_reactions, keys::reaction_key(channel, seq, user, emoji));
  if (!raw)
    return raw.error();
  return raw->has_value();
}

result<std::optional<std::string>> store::auth_get(std::string_view key) const {
  return get_raw(cf_auth, std::string{key});
}

// -- reads -------------------------------------------------------------------------------

result<std::vector<std::pair<std::string, std::string>>> store::auth_scan(
  std::string_view prefix, std::string_view after, std::size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0)
    return out;
  // Lower bound: the smallest key > `after` is `after` + "\0"; never below the prefix.
  std::string lower{prefix};
  if (!after.empty() && after > prefix) {
    lower = std::string{after};
    lower.push_back('\0');
  }
  // Upper bound: the prefix with its last non-0xff byte incremented (none: no bound).
  std::string upper{prefix};
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff)
    upper.pop_back();
  if (!upper.empty())
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  if (!upper.empty())
    ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_auth))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto k = it->key().ToStringView();
    if (k.substr(0, prefix.size()) != prefix)
      break;
    out.emplace_back(std::string{k}, it->value().ToString());
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "scanning auth");
  return out;
}

result<std::optional<std::string>> store::get_raw(std::size_t cf_index,
                                                  const std::string& key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions{}, cf(cf_index), key, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return from_rocks(s, std::string{"get from "} + cf_names[cf_index]);
  return std::optional<std::string>{std::move(value)};
}

namespace {

/// Decodes an events-CF record and checks it belongs to the key it was stored under.
result<event> decode_record(std::uint64_t channel, std::uint64_t seq, std::string_view value) {
  auto e = decode(value);
  if (!e)
    return status{errc::corrupt_record, record_name(channel, seq) + ": " + e.error().to_string()};
  if (e->channel_id != channel || e->seq != seq)
    return status{errc::corrupt_record, record_name(channel, seq) + ": stored under wrong key"};
  return e;
}

} // namespace

result<std::vector<event>> store::read_range(std::uint64_t channel, direction dir,
                                             std::uint64_t anchor, std::size_t limit) const {
  std::vector<event> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || (dir == direction::forward && anchor == latest_seq)
      || (dir == direction::backward && anchor == 0))
    return out;
  // Both bounds are always set, so no scan can leave the channel's key range.
  std::string lower = keys::event_key(channel, dir == direction::forward ? anchor + 1 : 0);
  std::string upper = dir == direction::backward && anchor != latest_seq
                        ? keys::event_key(channel, anchor)
                        : keys::scan_end(channel);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_events))};
  if (dir == direction::forward)
    it->Seek(lower_s);
  else
    it->SeekToLast();
  for (; it->Valid() && out.size() < limit;
       dir == direction::forward ? it->Next() : it->Prev()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != channel)
      return status{errc::corruption, "malformed key in events of channel "
                                        + std::to_string(channel)};
    auto e = decode_record(channel, key->second, it->value().ToStringView());
    if (!e)
      return e.error();
    out.push_back(std::move(*e));
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "scanning channel " + std::to_string(channel));
  return out;
}

result<std::optional<event>> store::get_event(std::uint64_t channel, std::uint64_t seq) const {
  auto raw = get_raw(cf_events, keys::event_key(channel, seq));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return std::optional<event>{};
  auto e = decode_record(channel, seq, **raw);
  if (!e)
    return e.error();
  return std::optional<event>{std::move(*e)};
}

result<std::uint64_t> store::last_seq(std::uint64_t channel) const {
  std::string lower = keys::event_key(channel, 0);
  std::string upper = keys::scan_end(channel);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_events))};
  it->SeekForPrev(keys::event_key(channel, latest_seq));
  if (it->Valid()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != channel)
      return status{errc::corruption, "malformed key in events of channel "
                                        + std::to_string(channel)};
    return key->second;
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "last_seq of channel " + std::to_string(channel));
  return std::uint64_t{0};
}

result<std::optional<std::uint64_t>> store::find_idempotent(std::uint64_t channel,
                                                            std::uint64_t author,
                                                            std::string_view nonce,
                                                            std::uint64_t now_ms) const {
  using opt = std::optional<std::uint64_t>;
  if (nonce.empty() || nonce.size() > max_nonce_bytes)
    return opt{};
  auto raw = get_raw(cf_idempotency, keys::idempotency_key(channel, author, nonce));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return opt{};
  auto v = keys::decode_pair(**raw);
  if (!v)
    return status{errc::corruption, "malformed idempotency entry in channel "
                                      + std::to_string(channel)};
  if (v->second <= now_ms)
    return opt{}; // expired: a late retry becomes a new message, by design of the TTL
  return opt{v->first};
}

result<thread_stats> store::thread_info(std::uint64_t channel, std::uint64_t root_seq) const {
  auto raw = get_raw(cf_threads, keys::thread_key(channel, root_seq));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return thread_stats{};
  auto v = keys::decode_pair(**raw);
  if (!v)
    return status{errc::corruption, "malformed thread counter in channel "
                                      + std::to_string(channel)};
  return thread_stats{v->first, v->second};
}

result<std::vector<std::uint64_t>> store::scan_second_halves(std::size_t cf_index,
                                                             std::uint64_t first,
                                                             std::uint64_t after,
                                                             std::size_t limit) const {
  std::vector<std::uint64_t> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || after == latest_seq)
    return out;
  std::string lower = keys::pair_key(first, after + 1);
  std::string upper = keys::scan_end(first);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_index))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != first)
      return status{errc::corruption, std::string{"malformed key in "} + cf_names[cf_index]};
    out.push_back(key->second);
  }
  if (!it->status().ok())
    return from_rocks(it->status(), std::string{"scanning "} + cf_names[cf_index]);
  return out;
}

result<std::vector<std::uint64_t>> store::members_of(std::uint64_t channel,
                                                     std::uint64_t after_user,
                                                     std::size_t limit) const {
  return scan_second_halves(cf_members, channel, after_user, limit);
}

result<std::vector<std::uint64_t>> store::channels_of(std::uint64_t user,
                                                      std::uint64_t after_channel,
                                                      std::size_t limit) const {
  return scan_second_halves(cf_user_channels, user, after_channel, limit);
}

result<std::uint64_t> store::read_state(std::uint64_t user, std::uint64_t channel,
                                        std::uint64_t root) const {
  auto raw = get_raw(cf_read_state, root == 0 ? keys::read_state_key(user, channel)
                                              : keys::thread_read_key(user, channel, root));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return std::uint64_t{0};
  auto v = keys::decode_id(**raw);
  if (!v)
    return status{errc::corruption, "malformed read marker"};
  return *v;
}

result<std::optional<channel_record>> store::channel_info(std::uint64_t channel) const {
  // One bounded scan: the 8-byte key (channel_created) sorts before its attribute keys.
  std::string lower = keys::id_key(channel);
  std::string upper = keys::id_key(channel);
  upper.append(9, '\xff');
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_channels))};
  std::optional<channel_record> out;
  auto corrupt = [channel](const std::string& what) {
    return status{errc::corrupt_record, "channel record " + std::to_string(channel) + ": " + what};
  };
  for (it->Seek(lower_s); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() < 8 || keys::get_be64(key.data()) != channel)
      break;
    auto e = decode(it->value().ToStringView());
    if (!e)
      return corrupt(e.error().to_string());
    if (key.size() == 8) {
      if (e->kind != event_kind::channel_created)
        return corrupt("not a channel_created event");
      out.emplace();
      out->id = channel;
      out->creator = e->author;
      out->workspace = e->subject;
      out->kind = e->emoji;
      if (e->emoji == "dm")
        out->fixed_members = parse_member_list(e->text);
      else
        out->name = e->text;
      continue;
    }
    if (!out)
      return corrupt("attribute without channel_created");
    if (e->emoji == channel_attr_name)
      out->name = e->text;
    else if (e->emoji == channel_attr_topic)
      out->topic = e->text;
    else if (e->emoji == channel_attr_archived)
      out->archived = e->text == "1";
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "reading channel record");
  return out;
}

result<std::vector<std::uint64_t>> store::thread_replies(std::uint64_t channel,
                                                         std::uint64_t root_seq,
                                                         std::uint64_t after,
                                                         std::size_t limit) const {
  std::vector<std::uint64_t> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || after == latest_seq)
    return out;
  std::string lower = keys::thread_reply_key(channel, root_seq, after + 1);
  std::string upper = keys::pair_key(channel, root_seq);
  upper.append(8, '\xff');
  upper.push_back('\0');
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_threads))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() != 24)
      return status{errc::corruption, "malformed key in threads"};
    out.push_back(keys::get_be64(key.data() + 16));
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "scanning threads");
  return out;
}

result<std::vector<event>> store::get_events(std::uint64_t channel,
                                             std::span<const std::uint64_t> seqs) const {
  std::vector<event> out;
  out.reserve(seqs.size());
  for (auto seq : seqs) {
    auto e = get_event(channel, seq);
    if (!e)
      return e.error();
    if (*e)
      out.push_back(std::move(**e));
  }
  return out;
}

result<std::optional<std::string>> store::get_user(std::uint64_t user) const {
  return get_raw(cf_users, keys::id_key(user));
}

// -- unread index ------------------------------------------------------------------------

namespace {

/// The key just past every key that starts with `prefix` (prefix | ff*16 | 00 suffices for
/// the fixed-width keys of `unread`).
std::string past_prefix(std::string prefix) {
  prefix.append(16, '\xff');
  prefix.push_back('\0');
  return prefix;
}

} // namespace

result<std::uint64_t> store::count_keys(std::size_t cf_index, const std::string& lower,
                                        const std::string& upper, std::uint64_t cap) const {
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_index))};
  std::uint64_t n = 0;
  for (it->Seek(lower_s); it->Valid() && n < cap; it->Next())
    ++n;
  if (!it->status().ok())
    return from_rocks(it->status(), std::string{"counting in "} + cf_names[cf_index]);
  return n;
}

result<std::uint64_t> store::message_ordinal(std::uint64_t channel, std::uint64_t seq) const {
  namespace tag = keys::unread_tag;
  if (seq == 0)
    return std::uint64_t{0};
  std::string lower = keys::unread_key(tag::ordinal, {channel});
  std::string target = keys::unread_key(tag::ordinal, {channel, seq});
  rocksdb::Slice lower_s{lower};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
  it->SeekForPrev(target);
  if (!it->Valid()) {
    if (!it->status().ok())
      return from_rocks(it->status(), "seeking message ordinal");
    return std::uint64_t{0};
  }
  auto v = keys::decode_id(it->value().ToStringView());
  if (it->key().size() != 17 || !v)
    return status{errc::corruption, "malformed message ordinal in channel "
                                      + std::to_string(channel)};
  return *v;
}

result<unread_counts> store::unread(std::uint64_t user, std::uint64_t channel,
                                    std::uint64_t head, bool dm) const {
  namespace tag = keys::unread_tag;
  unread_counts out;
  auto cursor = read_state(user, channel);
  if (!cursor)
    return cursor.error();
  out.last_read = *cursor;
  if (out.last_read >= head)
    return out;
  auto at_head = message_ordinal(channel, head);
  auto at_cursor = message_ordinal(channel, out.last_read);
  if (!at_head)
    return at_head.error();
  if (!at_cursor)
    return at_cursor.error();
  // Removed top-level messages after the cursor (every one is someone else's: your own
  // messages move your cursor past them).
  std::vector<std::uint64_t> removed;
  {
    std::string lower = keys::unread_key(tag::removed, {channel, out.last_read + 1});
    std::string upper = keys::unread_key(tag::removed, {channel, head});
    upper.push_back('\0');
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && removed.size() < max_counted_mentions; it->Next())
      removed.push_back(keys::get_be64(it->key().data() + 9));
    if (!it->status().ok())
      return from_rocks(it->status(), "scanning removed messages");
  }
  auto top = *at_head >= *at_cursor ? *at_head - *at_cursor : 0;
  out.unread = top >= removed.size() ? top - removed.size() : 0;
  if (dm) {
    out.mentions = out.unread;
    return out;
  }
  // Mentions after the cursor: personal ones and @here/@channel by others, minus removed.
  std::vector<std::uint64_t> seqs;
  auto scan = [&](std::string lower, std::string upper, std::size_t seq_at, bool check_author)
    -> status {
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && seqs.size() < 2 * max_counted_mentions; it->Next()) {
      if (check_author) {
        auto author = keys::decode_id(it->value().ToStringView());
        if (author && *author == user)
          continue;
      }
      seqs.push_back(keys::get_be64(it->key().data() + seq_at));
    }
    return from_rocks(it->status(), "scanning mentions");
  };
  std::string upper_p = keys::unread_key(tag::mention, {user, channel, head});
  upper_p.push_back('\0');
  if (auto st = scan(keys::unread_key(tag::mention, {user, channel, out.last_read + 1}), upper_p,
                     17, false);
      !st.ok())
    return st;
  std::string upper_a = keys::unread_key(tag::everyone, {channel, head});
  upper_a.push_back('\0');
  if (auto st = scan(keys::unread_key(tag::everyone, {channel, out.last_read + 1}), upper_a, 9,
                     true);
      !st.ok())
    return st;
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::uint64_t n = 0;
  for (auto seq : seqs)
    if (!std::binary_search(removed.begin(), removed.end(), seq))
      ++n;
  out.mentions = std::min(n, max_counted_mentions);
  return out;
}

result<followed_thread> store::thread_unread(std::uint64_t user, std::uint64_t channel,
                                             std::uint64_t root) const {
  namespace tag = keys::unread_tag;
  followed_thread out;
  out.channel = channel;
  out.root = root;
  auto stats = thread_info(channel, root);
  if (!stats)
    return stats.error();
  out.stats = *stats;
  auto cursor = read_state(user, channel, root);
  if (!cursor)
    return cursor.error();
  out.last_read = *cursor;
  if (out.last_read >= out.stats.last_reply_seq)
    return out;
  std::string upper = keys::pair_key(channel, root);
  upper.append(8, '\xff');
  upper.push_back('\0');
  auto replies = count_keys(cf_threads, keys::thread_reply_key(channel, root, out.last_read + 1),
                            upper, max_counted_mentions);
  if (!replies)
    return replies.error();
  auto removed = count_keys(cf_unread,
                            keys::unread_key(tag::removed_reply, {channel, root, out.last_read + 1}),
                            past_prefix(keys::unread_key(tag::removed_reply, {channel, root})),
                            max_counted_mentions);
  if (!removed)
    return removed.error();
  out.unread = *replies >= *removed ? *replies - *removed : 0;
  return out;
}

result<std::vector<followed_thread>> store::followed_threads(
  std::uint64_t user, std::pair<std::uint64_t, std::uint64_t> after, std::size_t limit) const {
  namespace tag = keys::unread_tag;
  std::vector<followed_thread> out;
  limit = std::min<std::size_t>(limit, 200);
  std::string lower = after.first == 0 && after.second == 0
                        ? keys::unread_key(tag::follow, {user})
                        : keys::unread_key(tag::follow, {user, after.first, after.second}) + '\0';
  std::string upper = past_prefix(keys::unread_key(tag::follow, {user}));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> found;
  {
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && found.size() < limit; it->Next()) {
      auto key = it->key().ToStringView();
      if (key.size() != 25)
        return status{errc::corruption, "malformed follow key"};
      found.emplace_back(keys::get_be64(key.data() + 9), keys::get_be64(key.data() + 17));
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "scanning followed threads");
  }
  for (auto [channel, root] : found) {
    auto t = thread_unread(user, channel, root);
    if (!t)
      return t.error();
    out.push_back(*t);
  }
  return out;
}

} // namespace sb::storage
