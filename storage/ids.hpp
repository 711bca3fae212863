// 64-bit Snowflake-style message ids: 41 bits of milliseconds since 2024-01-01T00:00:00Z,
// 10 bits of node id, 12 bits of per-millisecond counter (the top bit stays 0 so ids are
// positive in languages with signed 64-bit integers). Ids are sent to clients as strings.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "storage/status.hpp"

namespace sb::storage {

/// Milliseconds from the Unix epoch to the id epoch 2024-01-01T00:00:00Z.
inline constexpr std::int64_t id_epoch_unix_ms = 1'704'067'200'000;
inline constexpr unsigned id_time_bits = 41;
inline constexpr unsigned id_node_bits = 10;
inline constexpr unsigned id_counter_bits = 12;
inline constexpr std::uint32_t max_node_id = (1u << id_node_bits) - 1;        // 1023
inline constexpr std::uint32_t max_id_counter = (1u << id_counter_bits) - 1;  // 4095

/// The three fields of a Snowflake id.
struct id_parts {
  std::int64_t unix_ms = 0;  ///< creation time, Unix milliseconds
  std::uint32_t node = 0;    ///< node id 0..1023
  std::uint32_t counter = 0; ///< counter within that millisecond 0..4095
};

/// Splits an id into time, node and counter.
id_parts decompose_id(std::uint64_t id) noexcept;

/// Builds an id from its fields (fields are masked to their widths).
std::uint64_t compose_id(std::int64_t ms_since_id_epoch, std::uint32_t node,
                         std::uint32_t counter) noexcept;

/// Thread-safe generator of unique, strictly increasing ids for one node.
class id_generator {
public:
  /// Returns the current Unix time in milliseconds; injectable for tests.
  using clock_fn = std::function<std::int64_t()>;

  /// The system clock as a `clock_fn`.
  static std::int64_t system_unix_ms();

  /// Validates `node_id` (0..1023); an out-of-range id gives `invalid_argument`.
  static result<id_generator> create(std::uint32_t node_id, clock_fn clock = system_unix_ms);

  /// Constructs directly; asserts node_id <= max_node_id (prefer `create`).
  explicit id_generator(std::uint32_t node_id, clock_fn clock = system_unix_ms);

  id_generator(id_generator&& other) noexcept;
  id_generator& operator=(id_generator&&) = delete;

  /// Next id. Never repeats and never decreases, even when the wall clock steps back: the
  /// generator keeps the last timestamp and, when its counter overflows, moves that
  /// timestamp one millisecond into the future instead of waiting or failing.
  std::uint64_t next();

  std::uint32_t node_id() const noexcept { return node_; }

private:
  std::uint32_t node_;
  clock_fn clock_;
  std::mutex mtx_;
  std::int64_t last_ms_ = -1;  // ms since id epoch of the last id; -1 before the first
  std::uint32_t counter_ = 0;
};

} // namespace sb::storage
