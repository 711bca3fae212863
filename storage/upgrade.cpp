// store: the format 2 -> 3 upgrade (docs/storage.md, "Upgrade").
//
// Format 2 kept every key-value record in one `auth` column family under a kind prefix;
// format 3 gives each kind its own table. The upgrade moves records in chunks, each chunk
// one synced atomic write that puts the records into their tables and deletes them from
// `auth`, so every record is in exactly one place at every instant. The write that moves
// the last chunk also sets format_version to 3; only then is `auth` dropped. Killed at any
// point, the next open sees `auth` and simply carries on: no step needs undoing, and a
// record is never lost nor duplicated. A key of no known kind stops the upgrade before
// anything moves (nothing is ever dropped).
#include "storage/store.hpp"

#include <charconv>
#include <memory>
#include <optional>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "runtime/log.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;
using detail::from_rocks;
using detail::slice;

namespace {

/// Where a format 2 `auth` record goes in format 3; nullopt for a key of no known kind.
std::optional<std::pair<table, std::string>> v3_place(std::string_view key) {
  for (const auto& kind : v2::record_kinds) {
    if (key.substr(0, kind.prefix.size()) != kind.prefix)
      continue;
    auto rest = key.substr(kind.prefix.size());
    if (kind.to != table::presence_status)
      return std::pair{kind.to, std::string{rest}};
    // v2 keyed presence by the decimal user id.
    std::uint64_t user = 0;
    auto [end, err] = std::from_chars(rest.data(), rest.data() + rest.size(), user);
    if (err != std::errc{} || end != rest.data() + rest.size() || rest.empty())
      return std::nullopt;
    return std::pair{kind.to, presence_status_key(user)};
  }
  return std::nullopt;
}

} // namespace

status store::upgrade_from_v2(rocksdb::ColumnFamilyHandle*& auth, std::uint32_t found_version) {
  // Every key must have a known kind before anything moves, so a dir with a record this
  // build cannot place is left exactly as found.
  {
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, auth)};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (!v3_place(it->key().ToStringView()))
        return status{errc::corruption, "upgrade: a record in '" + std::string{v2::auth_cf}
                                          + "' has no known kind ("
                                          + std::to_string(it->key().size())
                                          + "-byte key); nothing was changed"};
    if (!it->status().ok())
      return from_rocks(it->status(), "upgrade: checking auth");
  }
  for (std::size_t i = cf_first_table; i < cf_count; ++i) {
    if (cfs_[i] != nullptr)
      continue;
    auto s = db_->CreateColumnFamily(detail::cf_options(opts_, cf_names[i]), cf_names[i],
                                     &cfs_[i]);
    if (!s.ok())
      return from_rocks(s, std::string{"upgrade: creating column family "} + cf_names[i]);
  }
  const std::size_t chunk = std::max<std::size_t>(opts_.upgrade_chunk_records, 1);
  std::uint64_t moved = 0;
  std::size_t chunks = 0;
  std::string resume; // the next chunk starts past this key ("" = from the first)
  for (bool last = false; !last;) {
    rocksdb::WriteBatch b;
    std::string lower = resume.empty() ? std::string{} : resume + '\0';
    rocksdb::Slice lower_s{lower};
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, auth)};
    std::size_t n = 0;
    for (it->Seek(lower_s); it->Valid() && n < chunk; it->Next(), ++n) {
      auto key = it->key().ToStringView();
      auto place = v3_place(key);
      if (!place) // checked above; only a concurrent writer could add one
        return status{errc::corruption, "upgrade: a record in auth has no known kind"};
      auto s = b.Put(cf(cf_of(place->first)), place->second, it->value());
      if (s.ok())
        s = b.Delete(auth, it->key());
      if (!s.ok())
        return from_rocks(s, "upgrade: building a move");
      resume.assign(key);
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "upgrade: scanning auth");
    last = !it->Valid();
    if (last) // the write that completes the move also marks the dir as format 3
      (void) b.Put(cf(cf_metadata), slice(format_version_key),
                   std::to_string(storage_format_version));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = db_->Write(wo, &b); !s.ok())
      return from_rocks(s, "upgrade: moving records");
    moved += n;
    ++chunks;
    if (!last && opts_.upgrade_stop_after_chunks != 0 && chunks >= opts_.upgrade_stop_after_chunks)
      return status{errc::stopped, "upgrade stopped after " + std::to_string(chunks)
                                     + " chunks (test hook)"};
  }
  if (auto s = db_->DropColumnFamily(auth); !s.ok())
    return from_rocks(s, "upgrade: dropping auth");
  db_->DestroyColumnFamilyHandle(auth);
  auth = nullptr;
  runtime::log::info("storage_upgraded",
                     {{"path", opts_.path},
                      {"from", found_version == 0 ? "none" : std::to_string(found_version)},
                      {"to", std::to_string(storage_format_version)},
                      {"records_moved", std::to_string(moved)}});
  return {};
}

} // namespace sb::storage
