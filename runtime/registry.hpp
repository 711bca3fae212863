// registry: the node's directory of named actors, looked up by (kind, key), e.g.
// ("channel", "42"). Why not CAF's registry: its names are atoms of at most 10 characters
// and it cannot page. Thread-safe, so Asio threads and actors can both look up.
//
// The restart race: a restarted actor registers its new incarnation while the old one is
// still being cleaned up and callers may still hold the old handle. Rules that make it safe:
//  - put() always installs the newest incarnation and bumps the generation;
//  - removal on termination is compare-and-delete by actor id, so the old incarnation's late
//    cleanup never removes the new entry;
//  - a caller holding an old handle gets `request_receiver_down` (or a timeout) and looks up
//    again; get() returns the current incarnation once put() for it has run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

namespace sb::runtime {

/// One registry entry: the current incarnation and how many times the name was (re)bound.
struct registry_entry {
  caf::actor handle;       ///< The current incarnation.
  uint64_t generation = 0; ///< Bumped by every put() of this name.
};

/// Named actors of one node, by (kind, key).
class registry : public std::enable_shared_from_this<registry> {
public:
  /// Creates an empty registry (always owned by a shared_ptr).
  static std::shared_ptr<registry> make();

  /// Binds (kind, key) to `handle`, replacing any previous incarnation; the entry is removed
  /// automatically when `handle` terminates, unless it was replaced meanwhile.
  /// Returns the new generation.
  uint64_t put(std::string_view kind, std::string_view key, const caf::actor& handle);

  /// Binds (kind, key) to `handle` only if the name is free; otherwise returns the entry
  /// that already holds it (for on-demand activation: exactly one winner).
  std::optional<registry_entry> put_if_absent(std::string_view kind, std::string_view key,
                                              const caf::actor& handle);

  /// The current incarnation, or an invalid handle.
  caf::actor get(std::string_view kind, std::string_view key) const;

  /// The current entry including its generation.
  std::optional<registry_entry> find(std::string_view kind, std::string_view key) const;

  /// Removes (kind, key) only if it is still bound to the actor with `id`.
  bool erase_if(std::string_view kind, std::string_view key, caf::actor_id id);

  /// Entries of one kind with key greater than `after`, in key order, at most `limit`.
  std::vector<std::pair<std::string, registry_entry>>
  list(std::string_view kind, std::string_view after, size_t limit) const;

  /// Number of bound names.
  size_t size() const;

private:
  registry() = default;

  static std::string compose(std::string_view kind, std::string_view key);
  void watch(std::string_view kind, std::string_view key, const caf::actor& handle);

  mutable std::shared_mutex mtx_;
  std::map<std::string, registry_entry, std::less<>> entries_; // "kind\0key" -> entry
  uint64_t next_generation_ = 1;
};

} // namespace sb::runtime
