// Snowflake id generation; see ids.hpp for the bit layout.
#include "storage/ids.hpp"

#include <chrono>
#include <string>

namespace sb::storage {

namespace {
constexpr std::uint64_t time_mask = (std::uint64_t{1} << id_time_bits) - 1;
constexpr unsigned node_shift = id_counter_bits;
constexpr unsigned time_shift = id_counter_bits + id_node_bits;
} // namespace

id_parts decompose_id(std::uint64_t id) noexcept {
  id_parts p;
  p.counter = static_cast<std::uint32_t>(id & max_id_counter);
  p.node = static_cast<std::uint32_t>((id >> node_shift) & max_node_id);
  p.unix_ms = static_cast<std::int64_t>((id >> time_shift) & time_mask) + id_epoch_unix_ms;
  return p;
}

std::uint64_t compose_id(std::int64_t ms_since_id_epoch, std::uint32_t node,
                         std::uint32_t counter) noexcept {
  auto t = static_cast<std::uint64_t>(ms_since_id_epoch) & time_mask;
  return (t << time_shift) | (std::uint64_t{node & max_node_id} << node_shift)
         | (counter & max_id_counter);
}

std::int64_t id_generator::system_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

result<id_generator> id_generator::create(std::uint32_t node_id, clock_fn clock) {
  if (node_id > max_node_id)
    return status{errc::invalid_argument,
                  "node id " + std::to_string(node_id) + " out of range 0.."
                    + std::to_string(max_node_id)};
  return id_generator{node_id, std::move(clock)};
}

id_generator::id_generator(std::uint32_t node_id, clock_fn clock)
  : node_(node_id), clock_(std::move(clock)) {
  assert(node_id <= max_node_id);
}

id_generator::id_generator(id_generator&& other) noexcept
  : node_(other.node_), clock_(std::move(other.clock_)), last_ms_(other.last_ms_),
    counter_(other.counter_) {
}

std::uint64_t id_generator::next() {
  // Read the clock outside the lock: it may be slow, and ordering is decided below.
  auto now = clock_() - id_epoch_unix_ms;
  if (now < 0)
    now = 0; // a clock before 2024 would otherwise wrap into the far future
  std::lock_guard<std::mutex> guard{mtx_};
  if (now > last_ms_) {
    last_ms_ = now;
    counter_ = 0;
  } else if (counter_ < max_id_counter) {
    // Same millisecond, or the clock stepped back: stay on the last timestamp.
    ++counter_;
  } else {
    // Counter exhausted: borrow the next millisecond rather than block or repeat.
    ++last_ms_;
    counter_ = 0;
  }
  return compose_id(last_ms_, node_, counter_);
}

} // namespace sb::storage
