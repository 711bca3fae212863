// store: the key-value record tables (schema.hpp): accounts, sessions, workspaces, DMs,
// presence status and audit records, one column family each.
#include "storage/store.hpp"

#include <algorithm>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/batch_access.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;
using detail::from_rocks;
using detail::slice;

namespace {
std::string context(const char* op, table t) {
  return std::string{op} + " " + name_of(t);
}
} // namespace

void store::prepare_record_put(batch& into, table t, std::string_view key,
                               std::string_view value) const {
  // Fails only past a batch size limit, which the store never sets.
  (void) batch_access::native(into).Put(cf(cf_of(t)), slice(key), slice(value));
}

status store::put_record(table t, std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  write_pass pass{*this};
  if (auto s = check_writable(cf_of(t), key, value); !s.ok())
    return s;
  std::lock_guard guard{record_write_mutex_};
  return from_rocks(db_->Put(wo, cf(cf_of(t)), slice(key), slice(value)), context("put", t));
}

status store::delete_record(table t, std::string_view key, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  write_pass pass{*this};
  if (auto s = check_writable(cf_of(t), key, std::nullopt); !s.ok())
    return s;
  std::lock_guard guard{record_write_mutex_};
  return from_rocks(db_->Delete(wo, cf(cf_of(t)), slice(key)), context("delete from", t));
}

status store::write_records(std::span<const record_op> ops, bool sync) {
  rocksdb::WriteBatch b;
  for (auto& op : ops) {
    auto s = op.value ? b.Put(cf(cf_of(op.in)), slice(op.key), slice(*op.value))
                      : b.Delete(cf(cf_of(op.in)), slice(op.key));
    if (!s.ok())
      return from_rocks(s, context("write to", op.in));
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  write_pass pass{*this};
  if (auto s = check_writable(b); !s.ok())
    return s;
  std::lock_guard guard{record_write_mutex_};
  return from_rocks(db_->Write(wo, &b), "write_records");
}

result<bool> store::put_record_if_absent(table t, std::string_view key, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = opts_.sync;
  write_pass pass{*this};
  if (auto s = check_writable(cf_of(t), key, value); !s.ok())
    return s;
  // Every record write takes this lock, so nothing can write `key` between Get and Put.
  std::lock_guard guard{record_write_mutex_};
  std::string existing;
  auto s = db_->Get(rocksdb::ReadOptions{}, cf(cf_of(t)), slice(key), &existing);
  if (s.ok())
    return false;
  if (!s.IsNotFound())
    return from_rocks(s, context("put_if_absent", t));
  if (auto put = from_rocks(db_->Put(wo, cf(cf_of(t)), slice(key), slice(value)),
                            context("put_if_absent", t));
      !put.ok())
    return put;
  return true;
}

result<std::optional<std::string>> store::get_record(table t, std::string_view key) const {
  return get_raw(cf_of(t), std::string{key});
}

result<std::vector<std::pair<std::string, std::string>>> store::scan_records(
  table t, std::string_view prefix, std::string_view after, std::size_t limit) const {
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
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_of(t)))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto k = it->key().ToStringView();
    if (k.substr(0, prefix.size()) != prefix)
      break;
    out.emplace_back(std::string{k}, it->value().ToString());
  }
  if (!it->status().ok())
    return from_rocks(it->status(), context("scanning", t));
  return out;
}

} // namespace sb::storage
