// Workspaces: named groups of users that own channels (Slack's workspace, Discord's server).
//
// Records live in the store's tables (storage/schema.hpp, docs/storage.md; all integers
// be64):
//   workspaces          <ws>            -> u8 version=1 | be64 id | be64 owner
//                                          | be64 created_ms | str name (be16 len + bytes)
//   workspace_members   <ws><user>      -> u8 role (1 = member, 2 = owner)
//   user_workspaces     <user><ws>      -> ""  (a user's workspaces, same write)
//   workspace_channels  <ws><channel>   -> ""  (channels created there; read by "browse")
// Each change is one atomic `store::write_records`. Workspace 0 is the node's default
// workspace: it has no record, every user is a member, and channels created without a
// workspace are listed under it. Plain C++20 (no CAF); thread-safe (the store serializes
// record writes; reads are RocksDB point reads and bounded scans).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/accounts.hpp"
#include "storage/store.hpp"

namespace sb::accounts {

/// The node's default workspace: implicit, every user belongs to it.
inline constexpr std::uint64_t default_workspace = 0;
/// Workspace names: 1..80 bytes of valid UTF-8 without control characters.
inline constexpr std::size_t max_workspace_name_bytes = 80;
/// Page size cap of `members` / `channels` / `of_user`.
inline constexpr std::size_t max_workspace_page = 1000;

/// A member's role in a workspace.
enum class workspace_role : std::uint8_t { member = 1, owner = 2 };

/// One workspace as stored.
struct workspace {
  std::uint64_t id = 0;
  std::uint64_t owner = 0;
  std::uint64_t created_ms = 0;
  std::string name;
  friend bool operator==(const workspace&, const workspace&) = default;
};

/// Workspaces and their members and channels, over the store's workspace tables.
class workspaces {
public:
  /// `next_id` must return unique non-zero ids (e.g. storage::id_generator).
  workspaces(storage::store& db, std::function<std::uint64_t()> next_id,
             std::function<std::uint64_t()> now_ms = &system_now_ms);

  /// Creates a workspace owned (and joined) by `owner`. `id_fits`, when given, picks the id:
  /// ids are drawn until it accepts one (a cluster node draws one in a partition it owns, so
  /// the workspace's rows are its to write). Errors: bad_name, storage.
  result<workspace> create(std::string_view name, std::uint64_t owner,
                           const std::function<bool(std::uint64_t)>& id_fits = {});

  /// A workspace by id (the default workspace reads as {0, 0, 0, "default"}).
  /// Errors: not_found, storage.
  result<workspace> get(std::uint64_t id) const;

  /// Whether `user` belongs to workspace `ws` (always true for the default workspace).
  /// Errors: storage.
  result<bool> is_member(std::uint64_t ws, std::uint64_t user) const;

  /// The role of `user` in `ws`. Errors: not_found (not a member, or no such workspace;
  /// the default workspace has no roles: member for everyone), storage.
  result<workspace_role> role(std::uint64_t ws, std::uint64_t user) const;

  /// Adds `user` as a member: true when added, false when already one. Errors: not_found
  /// (no such workspace; the default workspace cannot be changed), storage.
  result<bool> add_member(std::uint64_t ws, std::uint64_t user);

  /// Removes `user` (true when removed, false when not a member). Errors: not_found
  /// (unknown or default workspace), forbidden (the owner cannot leave their workspace),
  /// storage.
  result<bool> remove_member(std::uint64_t ws, std::uint64_t user);

  /// Members of `ws` with id > `after`, ascending, at most min(limit, max_workspace_page).
  /// Errors: not_found (unknown workspace or the default one: it lists no members), storage.
  result<std::vector<std::uint64_t>> members(std::uint64_t ws, std::uint64_t after,
                                             std::size_t limit) const;

  /// Workspaces of `user` with id > `after`, ascending (the default one is not listed).
  result<std::vector<std::uint64_t>> of_user(std::uint64_t user, std::uint64_t after,
                                             std::size_t limit) const;

  /// Records that `channel` was created in `ws` (also for the default workspace); true.
  /// With `sync` false the entry becomes durable with the next synced write of the store
  /// (they share one WAL): the channel's own synced channel_created event. Errors: storage.
  result<bool> add_channel(std::uint64_t ws, std::uint64_t channel, bool sync = true);

  /// Channels created in `ws` with id > `after`, ascending.
  result<std::vector<std::uint64_t>> channels(std::uint64_t ws, std::uint64_t after,
                                              std::size_t limit) const;

private:
  storage::store& db_;
  std::function<std::uint64_t()> next_id_;
  std::function<std::uint64_t()> now_ms_;
};

} // namespace sb::accounts
