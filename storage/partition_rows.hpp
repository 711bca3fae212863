// partition_rows: which cluster partition each stored row belongs to, and the types of a
// partition's export and import (docs/storage.md, "Partitions of rows"). A planned move
// (docs/cluster.md, "Moving a partition") copies exactly the rows `partition_of_row` puts
// in the moving partition, so this function must agree with where the actors write:
//   channel-side rows (events, channels, members, idempotency, threads, reactions, unread
//     except mentions and follows)          partition_of(channel), the channel's owner
//   user_channels, read_state, unread 'p' and 'f' rows (user | channel ...): written by
//     the channel actor at the channel's owner    partition_of(channel)
//   users, user_accounts, presence_status   partition_of(user), the user's home
//   user_names                              partition_of_name(name)
//   sessions                                partition_of(user in the value)
//   workspaces, workspace_members, workspace_channels   partition_of(workspace)
//   user_workspaces (user | workspace), written with the member row   partition_of(workspace)
//   dms                                     partition_of_name(key bytes), the set's home
//   metadata, audit                         none: the node's own rows, never moved
// A row too short for its layout is put in partition_of_name(whole key), so it still moves
// with some partition and never stays behind silently.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/placement.hpp"

namespace sb::storage {

/// One bit per cluster partition.
using partition_set = std::bitset<cluster::partition_count>;

/// The partition `key` = `value` of column family `cf_index` (schema::cf) belongs to, or
/// nullopt for the node's own rows (metadata, audit).
std::optional<std::uint32_t> partition_of_row(std::size_t cf_index, std::string_view key,
                                              std::string_view value) noexcept;

/// One row of a partition as exported: its column family (schema::cf), key and value.
/// Merge-operated rows (read cursors) export their merged value.
struct partition_row {
  std::uint8_t cf = 0;
  std::string key;
  std::string value;
  friend bool operator==(const partition_row&, const partition_row&) = default;
};

/// Where an export continues: the column family and the last key exported from it.
struct export_cursor {
  std::uint8_t cf = 0;
  std::string after; ///< "" = from the start of `cf`
  bool done = false; ///< nothing left
};

/// One page of an export; `next` continues it (`next.done` after the last page).
struct export_page {
  std::vector<partition_row> rows;
  export_cursor next;
};

/// What a partition holds: row count, key + value bytes, and an order-independent hash
/// (sum of a 64-bit hash of each row), so two stores compare in one scan each.
struct partition_digest {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t hash = 0;
  friend bool operator==(const partition_digest&, const partition_digest&) = default;
};

} // namespace sb::storage
