// store: the schema's column families and their options, opening and validating a data
// dir (upgrade.cpp upgrades format 2), and the raw point read every concern shares.
//
// Thread reply counters use a RocksDB associative merge operator (not read-modify-write):
// `prepare` stays read-free, and batches of different channels merged by group_commit
// never need a read under a lock. The operator adds counts and keeps the max reply seq.
#include "storage/store.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <set>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "runtime/log.hpp"
#include "storage/keys.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;

namespace detail {

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

} // namespace detail

using detail::from_rocks;

namespace {

/// RocksDB's own diagnostics, as our log records (event=rocksdb) instead of its LOG file.
/// Why: Debian's librocksdb is built with assertions, and once an append to the LOG file
/// fails (disk full, RLIMIT_FSIZE) the next LOG write asserts in WritableFileWriter and
/// aborts the process; the store must instead answer `storage_failed` and go on. Only
/// warnings and worse are kept: RocksDB's messages hold file names, keys (ids) and codes,
/// never message text.
class store_logger final : public rocksdb::Logger {
public:
  store_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { emit(runtime::log::level::warn, format, ap); }
  void Logv(const rocksdb::InfoLogLevel lvl, const char* format, va_list ap) override {
    if (lvl < GetInfoLogLevel() || lvl == rocksdb::InfoLogLevel::HEADER_LEVEL)
      return;
    emit(lvl >= rocksdb::InfoLogLevel::ERROR_LEVEL ? runtime::log::level::error
                                                   : runtime::log::level::warn,
         format, ap);
  }

private:
  static void emit(runtime::log::level lvl, const char* format, va_list ap) {
    if (!runtime::log::enabled(lvl))
      return;
    char text[512];
    int n = std::vsnprintf(text, sizeof text, format, ap);
    if (n < 0)
      return;
    runtime::log::write(lvl, "rocksdb", {{"detail", std::string_view{text}}});
  }
};

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


} // namespace

rocksdb::ColumnFamilyOptions detail::cf_options(const store_options& opts, const std::string& name) {
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


rocksdb::ColumnFamilyOptions store::column_family_options(const std::string& name) {
  return detail::cf_options(store_options{}, name);
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
    if (h != nullptr) // a table an interrupted upgrade had not created yet
      db_->DestroyColumnFamilyHandle(h);
  cfs_.clear();
  db_->Close();
  db_.reset();
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  if (opts.path.empty())
    return status{errc::invalid_argument, "store_options.path is empty"};
  rocksdb::DBOptions dbo;
  dbo.info_log = std::make_shared<store_logger>();
  dbo.max_background_jobs = opts.max_background_jobs;
  // Lets one writer's WAL write overlap another's memtable insert (see commit_pool.hpp).
  dbo.enable_pipelined_write = true;
  // Neither flag may ever add things to an existing dir: only a fresh dir gets CFs created
  // (and a format 2 dir its record tables, by the upgrade, after the version check).
  dbo.create_if_missing = false;
  dbo.create_missing_column_families = false;

  std::error_code ec;
  bool fresh = !std::filesystem::exists(std::filesystem::path{opts.path} / "CURRENT", ec);
  std::vector<std::string> existing;
  // A format 2 dir (or one whose upgrade was cut short) still has `auth`.
  bool legacy = false;
  auto present = [&existing](const char* name) {
    return std::find(existing.begin(), existing.end(), name) != existing.end();
  };
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
    known.insert(v2::auth_cf);
    // Refuse before opening: an unknown CF may belong to a newer version, and opening a
    // dir without all of its CFs is not something we want to attempt with it.
    for (const auto& name : existing)
      if (!known.count(name))
        return status{errc::unknown_column_family,
                      "column family '" + name + "' in " + opts.path + " is unknown"};
    legacy = present(v2::auth_cf);
    for (std::size_t i = 0; i < cf_count; ++i)
      if (!present(cf_names[i]) && !(legacy && i >= cf_first_table))
        return status{errc::missing_column_family, std::string{"column family '"}
                                                     + cf_names[i] + "' missing in " + opts.path};
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto* name : cf_names)
    if (fresh || present(name))
      descs.emplace_back(name, detail::cf_options(opts, name));
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, detail::cf_options(opts, "default"));
  if (legacy)
    descs.emplace_back(v2::auth_cf, detail::cf_options(opts, v2::auth_cf));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, opts.path, descs, &handles, &raw);
  if (!s.ok())
    return from_rocks(s, "opening " + opts.path);
  // Handles in cf_names order, default last; tables an upgrade has yet to create are null.
  rocksdb::ColumnFamilyHandle* auth = legacy ? handles.back() : nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(cf_count + 1, nullptr);
  for (std::size_t d = 0, i = 0; i < cf_count; ++i)
    if (fresh || present(cf_names[i]))
      cfs[i] = handles[d++];
  cfs[cf_count] = handles[descs.size() - (legacy ? 2 : 1)];
  std::unique_ptr<store> st{new store(opts, std::unique_ptr<rocksdb::DB>(raw), std::move(cfs))};
  // `auth` is not one of the store's handles: released here on every path.
  struct auth_guard {
    rocksdb::DB* db;
    rocksdb::ColumnFamilyHandle*& h;
    ~auth_guard() {
      if (h != nullptr)
        db->DestroyColumnFamilyHandle(h);
    }
  } guard{st->db_.get(), auth};

  // Format version: absent only in a dir we just created (or whose creation crashed
  // before the first write, which we recognise by an empty events CF).
  auto version = st->get_raw(cf_metadata, std::string{format_version_key});
  if (!version)
    return version.error();
  std::uint32_t v = 0; // 0: not written yet
  if (!version->has_value()) {
    if (!fresh) {
      std::unique_ptr<rocksdb::Iterator> it{
        st->db_->NewIterator(rocksdb::ReadOptions{}, st->cf(cf_events))};
      it->SeekToFirst();
      if (it->Valid() || !it->status().ok())
        return status{errc::corruption, "metadata has no format_version in " + opts.path};
    }
  } else {
    const std::string& text = **version;
    auto [end, perr] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (perr != std::errc{} || end != text.data() + text.size() || v == 0)
      return status{errc::corruption, "unreadable format_version in " + opts.path};
    if (v > storage_format_version)
      return status{errc::newer_format, "data dir " + opts.path + " has format version "
                                          + std::to_string(v) + ", this build supports "
                                          + std::to_string(storage_format_version)};
  }
  if (legacy) {
    if (auto up = st->upgrade_from_v2(auth, v); !up.ok())
      return up;
    return st;
  }
  if (v != 0 && v < storage_format_version)
    return status{errc::corruption, "format_version " + std::to_string(v) + " without the '"
                                      + v2::auth_cf + "' column family in " + opts.path};
  if (v == 0) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto ws = st->db_->Put(wo, st->cf(cf_metadata), detail::slice(format_version_key),
                           std::to_string(storage_format_version));
    if (!ws.ok())
      return from_rocks(ws, "writing format_version");
  }
  return st;
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

} // namespace sb::storage
