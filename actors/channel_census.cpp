// channel_census: the bounded known/absent sets (see the header).
#include "actors/channel_census.hpp"

#include <algorithm>

namespace sb::actors {

channel_census::channel_census(size_t max_known, size_t max_absent, int64_t absent_ttl_ms)
  : max_known_(std::max<size_t>(max_known, 1)), max_absent_(std::max<size_t>(max_absent, 1)),
    ttl_ms_(absent_ttl_ms) {}

channel_census::answer channel_census::lookup(uint64_t channel, int64_t now_ms) const {
  std::lock_guard lock{m_};
  if (known_.count(channel) != 0)
    return answer::exists;
  if (auto i = absent_.find(channel); i != absent_.end() && now_ms - i->second < ttl_ms_)
    return answer::absent;
  return answer::unknown;
}

void channel_census::found(uint64_t channel) {
  std::lock_guard lock{m_};
  absent_.erase(channel); // its entry in order_ goes when it reaches the front
  if (known_.size() >= max_known_)
    known_.clear();
  known_.insert(channel);
}

void channel_census::missing(uint64_t channel, int64_t now_ms) {
  std::lock_guard lock{m_};
  if (known_.count(channel) != 0)
    return; // created meanwhile: creation wins over an older read
  auto [i, added] = absent_.insert_or_assign(channel, now_ms);
  if (!added)
    return;
  order_.push_back(channel);
  // Oldest first beyond the bound. order_ may also name channels found since (or listed
  // twice): forgetting one early only makes it `unknown`, which is always safe.
  while (!order_.empty() && (absent_.size() > max_absent_ || order_.size() > 2 * max_absent_)) {
    absent_.erase(order_.front());
    order_.pop_front();
  }
}

size_t channel_census::known() const {
  std::lock_guard lock{m_};
  return known_.size();
}

size_t channel_census::absent() const {
  std::lock_guard lock{m_};
  return absent_.size();
}

} // namespace sb::actors
