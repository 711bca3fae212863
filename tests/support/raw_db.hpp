// Direct RocksDB access to a data dir, bypassing store, to plant faults in tests.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "storage/store.hpp"

namespace sb::storage::testing {

/// Opens every column family a dir has, exactly as it is; closes in the required order.
class raw_db {
public:
  explicit raw_db(const std::string& path) {
    rocksdb::DBOptions o;
    std::vector<std::string> names;
    check(rocksdb::DB::ListColumnFamilies(o, path, &names));
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names)
      descs.emplace_back(n, store::column_family_options(n)); // merge operators included
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(o, path, descs, &handles_, &raw));
    db_.reset(raw);
    names_ = names;
  }
  ~raw_db() {
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name)
        return handles_[i];
    throw std::runtime_error("no column family " + name);
  }
  void put(const std::string& cf_name, const std::string& key, const std::string& value) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    check(db_->Put(wo, cf(cf_name), key, value));
  }
  std::string get(const std::string& cf_name, const std::string& key) {
    std::string v;
    check(db_->Get(rocksdb::ReadOptions{}, cf(cf_name), key, &v));
    return v;
  }
  /// Keys in `cf_name` (0 when the dir has no such column family).
  std::size_t count(const std::string& cf_name) {
    if (std::find(names_.begin(), names_.end(), cf_name) == names_.end())
      return 0;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(cf_name))};
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next())
      ++n;
    check(it->status());
    return n;
  }
  /// Keys of `cf_name` that start with `prefix`.
  std::size_t count_prefix(const std::string& cf_name, const std::string& prefix) {
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, cf(cf_name))};
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next())
      n += it->key().starts_with(prefix) ? 1 : 0;
    check(it->status());
    return n;
  }
  /// "cf: N" for each column family with N rows whose key or value contains `needle`
  /// (live versions only: what any read of the store can return).
  std::vector<std::string> rows_containing(const std::string& needle) {
    std::vector<std::string> hits;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, handles_[i])};
      std::size_t n = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next())
        n += it->key().ToStringView().find(needle) != std::string_view::npos
               || it->value().ToStringView().find(needle) != std::string_view::npos;
      check(it->status());
      if (n != 0)
        hits.push_back(names_[i] + ": " + std::to_string(n));
    }
    return hits;
  }
  bool has(const std::string& cf_name) const {
    return std::find(names_.begin(), names_.end(), cf_name) != names_.end();
  }
  void create_cf(const std::string& name) {
    rocksdb::ColumnFamilyHandle* h = nullptr;
    check(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions{}, name, &h));
    handles_.push_back(h);
    names_.push_back(name);
  }
  void drop_cf(const std::string& name) {
    auto* h = cf(name);
    check(db_->DropColumnFamily(h));
  }
  const std::vector<std::string>& names() const { return names_; }

private:
  static void check(const rocksdb::Status& s) {
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
};

} // namespace sb::storage::testing
