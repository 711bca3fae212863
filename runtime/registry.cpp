// See registry.hpp for the restart-race rules this file implements.
#include "runtime/registry.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>

namespace sb::runtime {

std::shared_ptr<registry> registry::make() {
  return std::shared_ptr<registry>(new registry);
}

std::string registry::compose(std::string_view kind, std::string_view key) {
  std::string k;
  k.reserve(kind.size() + 1 + key.size());
  k.append(kind);
  k.push_back('\0'); // kinds never contain NUL, so (kind, key) pairs cannot collide
  k.append(key);
  return k;
}

void registry::watch(std::string_view kind, std::string_view key,
                     const caf::actor& handle) {
  // The functor runs when the actor terminates (at once if it already has).
  std::weak_ptr<registry> self = shared_from_this();
  auto id = handle.id();
  caf::actor_cast<caf::abstract_actor*>(handle)->attach_functor(
    [self, k = std::string{kind}, v = std::string{key}, id] {
      if (auto reg = self.lock())
        reg->erase_if(k, v, id);
    });
}

uint64_t registry::put(std::string_view kind, std::string_view key,
                       const caf::actor& handle) {
  uint64_t gen;
  {
    std::unique_lock guard{mtx_};
    gen = next_generation_++;
    entries_[compose(kind, key)] = registry_entry{handle, gen};
  }
  watch(kind, key, handle); // outside the lock: may run erase_if at once
  return gen;
}

std::optional<registry_entry>
registry::put_if_absent(std::string_view kind, std::string_view key,
                        const caf::actor& handle) {
  {
    std::unique_lock guard{mtx_};
    auto [i, added] = entries_.try_emplace(compose(kind, key));
    if (!added)
      return i->second;
    i->second = registry_entry{handle, next_generation_++};
  }
  watch(kind, key, handle);
  return std::nullopt;
}

caf::actor registry::get(std::string_view kind, std::string_view key) const {
  std::shared_lock guard{mtx_};
  auto i = entries_.find(compose(kind, key));
  return i == entries_.end() ? caf::actor{} : i->second.handle;
}

std::optional<registry_entry> registry::find(std::string_view kind,
                                             std::string_view key) const {
  std::shared_lock guard{mtx_};
  auto i = entries_.find(compose(kind, key));
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

bool registry::erase_if(std::string_view kind, std::string_view key, caf::actor_id id) {
  caf::actor dropped; // released outside the lock
  std::unique_lock guard{mtx_};
  auto i = entries_.find(compose(kind, key));
  if (i == entries_.end() || i->second.handle.id() != id)
    return false;
  dropped = std::move(i->second.handle);
  entries_.erase(i);
  return true;
}

std::vector<std::pair<std::string, registry_entry>>
registry::list(std::string_view kind, std::string_view after, size_t limit) const {
  std::vector<std::pair<std::string, registry_entry>> out;
  auto prefix = compose(kind, {});
  std::shared_lock guard{mtx_};
  auto i = after.empty() ? entries_.lower_bound(prefix)
                         : entries_.upper_bound(compose(kind, after));
  for (; i != entries_.end() && out.size() < limit; ++i) {
    if (i->first.compare(0, prefix.size(), prefix) != 0)
      break;
    out.emplace_back(i->first.substr(prefix.size()), i->second);
  }
  return out;
}

size_t registry::size() const {
  std::shared_lock guard{mtx_};
  return entries_.size();
}

} // namespace sb::runtime
