// batch_access: the RocksDB side of storage::batch, for storage/ and its tests only.
#pragma once

#include <string>

#include <rocksdb/write_batch.h>

#include "storage/batch.hpp"

namespace sb::storage {

struct batch_access {
  /// The WriteBatch of `b`, created on first use.
  static rocksdb::WriteBatch& native(batch& b) {
    if (!b.rep_)
      b.rep_ = std::make_unique<rocksdb::WriteBatch>();
    return *b.rep_;
  }
  /// A batch holding an already serialized WriteBatch (e.g. several merged).
  static batch adopt(std::string rep) {
    batch b;
    b.rep_ = std::make_unique<rocksdb::WriteBatch>(std::move(rep));
    return b;
  }
  /// The rewritten rows of `b`, to add to (prepare) or to merge (group commit).
  static std::vector<std::pair<std::uint64_t, std::uint64_t>>& rewritten(batch& b) {
    return b.rewritten_;
  }
};

} // namespace sb::storage
