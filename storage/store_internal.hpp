// store_internal: helpers shared by the store's translation units (storage/ only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "storage/keys.hpp"
#include "storage/status.hpp"
#include "storage/store.hpp"

namespace sb::storage::detail {

/// A rocksdb::Status as a storage status (ok stays ok); `context` names the operation.
status from_rocks(const rocksdb::Status& s, const std::string& context);

/// The options `name` is opened with (merge operators, filters, memtable hints).
rocksdb::ColumnFamilyOptions cf_options(const store_options& opts, const std::string& name);

inline rocksdb::Slice slice(std::string_view v) {
  return rocksdb::Slice{v.data(), v.size()};
}

inline std::string be64_value(std::uint64_t v) {
  return keys::id_key(v);
}

inline std::string two_be64(std::uint64_t a, std::uint64_t b) {
  return keys::pair_key(a, b);
}

inline std::string record_name(std::uint64_t channel, std::uint64_t seq) {
  return "channel " + std::to_string(channel) + " seq " + std::to_string(seq);
}

} // namespace sb::storage::detail
