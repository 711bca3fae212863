// batch: the pointer-held RocksDB WriteBatch (see batch.hpp).
#include "storage/batch.hpp"

#include <rocksdb/write_batch.h>

namespace sb::storage {

batch::batch() noexcept = default;
batch::~batch() = default;
batch::batch(batch&&) noexcept = default;
batch& batch::operator=(batch&&) noexcept = default;

std::uint32_t batch::count() const noexcept {
  return rep_ ? rep_->Count() : 0;
}

std::size_t batch::size_bytes() const noexcept {
  return rep_ ? rep_->GetDataSize() : 0;
}

} // namespace sb::storage
