// store: rows by cluster partition (partition_rows.hpp): the frozen set every write is
// checked against, and a partition's export, import, drop and digest for planned moves.
#include <algorithm>
#include <memory>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/batch_access.hpp"
#include "storage/keys.hpp"
#include "storage/partition_rows.hpp"
#include "storage/store.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;
using detail::from_rocks;
using detail::slice;

namespace {

std::uint32_t of_id(std::string_view bytes) noexcept {
  return cluster::partition_of(keys::get_be64(bytes.data()));
}

/// Rows deleted per synced write when dropping a partition.
constexpr std::size_t drop_chunk_rows = 4096;

bool partitioned(std::size_t cf_index) noexcept {
  return cf_index < cf_count && cf_index != cf_metadata && cf_index != cf_of(table::audit);
}

} // namespace

std::optional<std::uint32_t> partition_of_row(std::size_t cf_index, std::string_view key,
                                              std::string_view value) noexcept {
  // `min` bytes of layout, the id at `at`; shorter rows fall back to the whole key's name.
  auto id_at = [&](std::size_t at) -> std::uint32_t {
    if (key.size() < at + 8)
      return cluster::partition_of_name(key);
    return of_id(key.substr(at, 8));
  };
  switch (cf_index) {
    case cf_events:
    case cf_channels:
    case cf_members:
    case cf_idempotency:
    case cf_threads:
    case cf_reactions:
    case cf_users:
      return id_at(0);
    case cf_user_channels:
    case cf_read_state:
      return id_at(8); // user | channel ...: the channel's owner writes them
    case cf_unread:
      if (key.empty())
        return cluster::partition_of_name(key);
      if (key[0] == keys::unread_tag::mention || key[0] == keys::unread_tag::follow)
        return id_at(9); // tag | user | channel ...
      return id_at(1);   // tag | channel ...
    case cf_metadata:
      return std::nullopt;
    default:
      break;
  }
  if (cf_index < cf_first_table || cf_index >= cf_count)
    return cluster::partition_of_name(key);
  switch (static_cast<table>(cf_index - cf_first_table)) {
    case table::user_names:
    case table::dms:
      return cluster::partition_of_name(key);
    case table::user_accounts:
    case table::presence_status:
    case table::workspaces:
    case table::workspace_members:
    case table::workspace_channels:
      return id_at(0);
    case table::user_workspaces:
      return id_at(8); // user | workspace: written with the member row, at the workspace's home
    case table::sessions:
      if (value.size() < 8)
        return cluster::partition_of_name(key);
      return of_id(value.substr(0, 8)); // be64 user | expiry
    case table::audit:
      return std::nullopt;
  }
  return cluster::partition_of_name(key);
}

// -- the frozen set ---------------------------------------------------------------------

store::write_pass::write_pass(const store& s) {
  std::lock_guard turnstile{s.freeze_turnstile_};
  lock_ = std::shared_lock{s.freeze_mutex_};
}

void store::set_frozen_partitions(const partition_set& frozen) {
  std::lock_guard turnstile{freeze_turnstile_};
  std::unique_lock lock{freeze_mutex_};
  frozen_ = frozen;
  any_frozen_ = frozen.any();
}

bool store::frozen(std::uint32_t partition) const {
  std::shared_lock lock{freeze_mutex_};
  return partition < frozen_.size() && frozen_.test(partition);
}

std::size_t store::cf_index_of(std::uint32_t id) const noexcept {
  for (std::size_t i = 0; i < cfs_.size(); ++i)
    if (cfs_[i] != nullptr && cfs_[i]->GetID() == id)
      return i;
  return cf_count;
}

std::optional<std::uint32_t> store::session_partition(std::string_view key) const {
  auto row = get_raw(cf_of(table::sessions), std::string{key});
  if (!row || !row->has_value())
    return std::nullopt; // deleting what is not there touches no partition
  return partition_of_row(cf_of(table::sessions), key, **row);
}

status store::check_writable(std::size_t cf_index, std::string_view key,
                             std::optional<std::string_view> value) const {
  if (!any_frozen_)
    return {};
  std::optional<std::uint32_t> p;
  if (!value && cf_index == cf_of(table::sessions))
    p = session_partition(key);
  else
    p = partition_of_row(cf_index, key, value.value_or(std::string_view{}));
  if (p && frozen_.test(*p))
    return status{errc::frozen, "frozen: partition " + std::to_string(*p)
                                  + " is moving or not owned by this node"};
  return {};
}

status store::check_writable(rocksdb::WriteBatch& b) const {
  if (!any_frozen_)
    return {};
  struct checker final : rocksdb::WriteBatch::Handler {
    const store& s;
    status found;
    explicit checker(const store& st) : s(st) {}
    rocksdb::Status check(std::uint32_t id, const rocksdb::Slice& key,
                          std::optional<std::string_view> value) {
      found = s.check_writable(s.cf_index_of(id), key.ToStringView(), value);
      return found.ok() ? rocksdb::Status::OK() : rocksdb::Status::Incomplete("frozen");
    }
    rocksdb::Status PutCF(std::uint32_t id, const rocksdb::Slice& k,
                          const rocksdb::Slice& v) override {
      return check(id, k, v.ToStringView());
    }
    rocksdb::Status MergeCF(std::uint32_t id, const rocksdb::Slice& k,
                            const rocksdb::Slice& v) override {
      return check(id, k, v.ToStringView());
    }
    rocksdb::Status DeleteCF(std::uint32_t id, const rocksdb::Slice& k) override {
      return check(id, k, std::nullopt);
    }
    rocksdb::Status SingleDeleteCF(std::uint32_t id, const rocksdb::Slice& k) override {
      return check(id, k, std::nullopt);
    }
    rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&,
                                  const rocksdb::Slice&) override {
      found = status{errc::frozen, "frozen: a range delete while partitions are frozen"};
      return rocksdb::Status::Incomplete("frozen");
    }
  } handler{*this};
  auto s = b.Iterate(&handler);
  if (!handler.found.ok())
    return handler.found;
  return from_rocks(s, "checking a write against the frozen partitions");
}

// -- export, import, drop, digest -------------------------------------------------------

result<export_page> store::export_partition(std::uint32_t p, const export_cursor& from,
                                            std::size_t max_bytes) const {
  export_page page;
  page.next = from;
  if (from.done)
    return page;
  std::size_t bytes = 0;
  for (std::size_t c = from.cf; c < cf_count; ++c) {
    if (!partitioned(c) || cf(c) == nullptr)
      continue;
    std::string lower;
    if (c == from.cf && !from.after.empty()) {
      lower = from.after;
      lower.push_back('\0'); // the smallest key after `after`
    }
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(c))};
    for (it->Seek(slice(lower)); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      auto v = it->value().ToStringView();
      if (partition_of_row(c, k, v) != p)
        continue;
      page.rows.push_back(partition_row{static_cast<std::uint8_t>(c), std::string{k},
                                        std::string{v}});
      bytes += k.size() + v.size();
      if (bytes >= max_bytes) {
        page.next = export_cursor{static_cast<std::uint8_t>(c), std::string{k}, false};
        return page;
      }
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "exporting partition " + std::to_string(p));
  }
  page.next = export_cursor{static_cast<std::uint8_t>(cf_count), {}, true};
  return page;
}

status store::import_partition_rows(std::uint32_t p, std::span<const partition_row> rows,
                                    bool sync) {
  rocksdb::WriteBatch b;
  for (const auto& row : rows) {
    if (!partitioned(row.cf) || cf(row.cf) == nullptr
        || partition_of_row(row.cf, row.key, row.value) != p)
      return status{errc::invalid_argument,
                    "import: a row that is not of partition " + std::to_string(p)};
    if (auto s = b.Put(cf(row.cf), slice(row.key), slice(row.value)); !s.ok())
      return from_rocks(s, "import");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return from_rocks(db_->Write(wo, &b), "importing partition " + std::to_string(p));
}

result<std::uint64_t> store::drop_partition(std::uint32_t p) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::WriteBatch b;
  std::uint64_t dropped = 0;
  auto flush = [&]() -> status {
    if (b.Count() == 0)
      return {};
    auto s = from_rocks(db_->Write(wo, &b), "dropping partition " + std::to_string(p));
    b.Clear();
    return s;
  };
  for (std::size_t c = 0; c < cf_count; ++c) {
    if (!partitioned(c) || cf(c) == nullptr)
      continue;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(c))};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (partition_of_row(c, it->key().ToStringView(), it->value().ToStringView()) != p)
        continue;
      if (auto s = b.Delete(cf(c), it->key()); !s.ok())
        return from_rocks(s, "drop");
      ++dropped;
      if (b.Count() >= drop_chunk_rows)
        if (auto s = flush(); !s.ok())
          return s;
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "dropping partition " + std::to_string(p));
  }
  if (auto s = flush(); !s.ok())
    return s;
  return dropped;
}

result<partition_digest> store::digest_partition(std::uint32_t p) const {
  partition_digest d;
  for (std::size_t c = 0; c < cf_count; ++c) {
    if (!partitioned(c) || cf(c) == nullptr)
      continue;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(c))};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      auto v = it->value().ToStringView();
      if (partition_of_row(c, k, v) != p)
        continue;
      // FNV-1a over cf | key length | key | value, then mixed: rows summed in any order.
      std::uint64_t h = 0xcbf29ce484222325ULL;
      auto feed = [&h](std::string_view bytes) {
        for (unsigned char ch : bytes) {
          h ^= ch;
          h *= 0x100000001b3ULL;
        }
      };
      std::string head;
      head.push_back(static_cast<char>(c));
      keys::put_be64(head, k.size());
      feed(head);
      feed(k);
      feed(v);
      d.rows += 1;
      d.bytes += k.size() + v.size();
      d.hash += cluster::mix64(h);
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "digesting partition " + std::to_string(p));
  }
  return d;
}

// -- unsettled partitions ----------------------------------------------------------------

namespace {
constexpr std::string_view unsettled_prefix = "unsettled/";
std::string unsettled_key(std::uint32_t p) {
  auto n = std::to_string(p);
  return std::string{unsettled_prefix} + std::string(3 - std::min<std::size_t>(3, n.size()), '0') + n;
}
} // namespace

status store::set_unsettled(std::uint32_t p, bool unsettled) {
  if (p >= cluster::partition_count)
    return status{errc::invalid_argument, "no partition " + std::to_string(p)};
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto key = unsettled_key(p);
  auto s = unsettled ? db_->Put(wo, cf(cf_metadata), slice(key), slice("1"))
                     : db_->Delete(wo, cf(cf_metadata), slice(key));
  return from_rocks(s, "recording partition " + std::to_string(p) + " unsettled");
}

result<partition_set> store::unsettled_partitions() const {
  partition_set out;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(cf_metadata))};
  for (it->Seek(slice(unsettled_prefix)); it->Valid(); it->Next()) {
    auto k = it->key().ToStringView();
    if (!k.starts_with(unsettled_prefix))
      break;
    auto digits = k.substr(unsettled_prefix.size());
    std::uint32_t p = 0;
    for (char ch : digits)
      p = p * 10 + static_cast<std::uint32_t>(ch - '0');
    if (digits.size() == 3 && p < cluster::partition_count)
      out.set(p);
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "reading the unsettled partitions");
  return out;
}

} // namespace sb::storage
