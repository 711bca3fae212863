// The storage schema: every column family, every kind of key-value record and the builders
// of their keys, and the format 2 prefixes that the upgrade to format 3 translates.
// Layouts and the upgrade are documented in docs/storage.md; the event-side key layouts
// (events, indexes) are in storage/keys.hpp. Callers never build record keys by hand.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "storage/keys.hpp"

namespace sb::storage {

/// Storage format version in `metadata/format_version`: 3 = one column family per kind of
/// record (format 2 kept them all in `auth`, told apart by key prefixes).
inline constexpr std::uint32_t storage_format_version = 3;

/// The kinds of key-value records, each in its own column family of the same name.
/// All integers are be64, so keys of one owner form one contiguous range.
enum class table : std::uint8_t {
  user_names,         ///< lowercased user name -> be64 user id (unique: put_record_if_absent)
  user_accounts,      ///< be64 user -> account record; be64 user | 0x01 -> log-in backoff
  sessions,           ///< SHA-256(token), 32 bytes -> be64 user | be64 expiry ms
  workspaces,         ///< be64 workspace -> workspace record (accounts/workspaces.cpp)
  workspace_members,  ///< be64 workspace | be64 user -> u8 role (1 member, 2 owner)
  user_workspaces,    ///< be64 user | be64 workspace -> "" (same write as the member entry)
  workspace_channels, ///< be64 workspace | be64 channel -> "" (channels created there)
  dms,                ///< be64 member ids, ascending -> be64 channel (one per member set)
  presence_status,    ///< be64 user -> manual status | NUL | custom text
  audit,              ///< be64 audit id (rises with time) -> JSON audit record
};
inline constexpr std::size_t table_count = 10;

namespace schema {

/// Column families in the order the store holds their handles; record tables last, in the
/// order of `table`. RocksDB's "default" family is opened too (it must be) but unused.
enum cf : std::size_t {
  cf_events,
  cf_channels,
  cf_users,
  cf_members,
  cf_user_channels,
  cf_read_state,
  cf_idempotency,
  cf_threads,
  cf_metadata,
  cf_reactions,
  cf_unread,
  cf_first_table,
  cf_count = cf_first_table + table_count,
};

inline constexpr std::array<const char*, cf_count> cf_names = {
  "events", "channels", "users", "members", "user_channels", "read_state", "idempotency",
  "threads", "metadata", "reactions", "unread",
  // tables, in enum order
  "user_names", "user_accounts", "sessions", "workspaces", "workspace_members",
  "user_workspaces", "workspace_channels", "dms", "presence_status", "audit",
};

/// The column family of a record table.
constexpr cf cf_of(table t) noexcept {
  return static_cast<cf>(cf_first_table + static_cast<std::size_t>(t));
}

/// Name (= column family name) of a table, e.g. "sessions".
constexpr const char* name_of(table t) noexcept {
  return cf_names[cf_of(t)];
}

/// Key of `metadata` holding the decimal format version.
inline constexpr std::string_view format_version_key = "format_version";

// -- record keys ------------------------------------------------------------------------

inline std::string user_name_key(std::string_view lowered_name) {
  return std::string{lowered_name};
}
inline std::string user_account_key(std::uint64_t user) { return keys::id_key(user); }
/// The log-in backoff of a user (accounts/accounts.hpp), in `user_accounts` beside the
/// record: be64 user | 0x01, so it lives (and moves) with the user's home partition.
inline std::string login_failures_key(std::uint64_t user) {
  auto k = keys::id_key(user);
  k.push_back('\x01');
  return k;
}
/// Where a user's session index rows start (accounts/accounts.hpp): be64 user | 0x02, in
/// `user_accounts`, so a user's sessions are listed by one prefix scan at their home.
inline std::string session_index_prefix(std::uint64_t user) {
  auto k = keys::id_key(user);
  k.push_back('\x02');
  return k;
}
/// One session's index row: be64 user | 0x02 | the 32-byte SHA-256 of its token.
inline std::string session_index_key(std::uint64_t user,
                                     std::span<const unsigned char> token_hash) {
  auto k = session_index_prefix(user);
  k.append(reinterpret_cast<const char*>(token_hash.data()), token_hash.size());
  return k;
}
/// `token_hash`: the 32-byte SHA-256 of a session token (never the token itself).
inline std::string session_key(std::span<const unsigned char> token_hash) {
  return std::string{reinterpret_cast<const char*>(token_hash.data()), token_hash.size()};
}
inline std::string workspace_key(std::uint64_t ws) { return keys::id_key(ws); }
inline std::string workspace_member_key(std::uint64_t ws, std::uint64_t user) {
  return keys::pair_key(ws, user);
}
inline std::string user_workspace_key(std::uint64_t user, std::uint64_t ws) {
  return keys::pair_key(user, ws);
}
inline std::string workspace_channel_key(std::uint64_t ws, std::uint64_t channel) {
  return keys::pair_key(ws, channel);
}
/// `members`: the DM's member ids, sorted ascending and unique.
inline std::string dm_key(std::span<const std::uint64_t> members) {
  std::string k;
  k.reserve(8 * members.size());
  for (auto m : members)
    keys::put_be64(k, m);
  return k;
}
inline std::string presence_status_key(std::uint64_t user) { return keys::id_key(user); }
inline std::string audit_key(std::uint64_t id) { return keys::id_key(id); }

/// Prefix of every key of `table` owned by `first` (a workspace's members, a user's
/// workspaces, a workspace's channels): for `store::scan_records`.
inline std::string owner_prefix(std::uint64_t first) { return keys::id_key(first); }

// -- format 2 -----------------------------------------------------------------------------

/// Format 2 kept every record in one column family, told apart by key prefix; the upgrade
/// to format 3 moves each record into its table (see upgrade.cpp).
namespace v2 {

inline constexpr const char* auth_cf = "auth";

/// A format 2 record kind: key prefix and the table it moves to. The key after the prefix
/// is the format 3 key, except for presence_status (v2: decimal user id, v3: be64).
struct record_kind {
  std::string_view prefix;
  table to;
};

inline constexpr std::array<record_kind, table_count> record_kinds = {{
  {"n:", table::user_names},
  {"u:", table::user_accounts},
  {"t:", table::sessions},
  {"w:", table::workspaces},
  {"wm:", table::workspace_members},
  {"uw:", table::user_workspaces},
  {"wc:", table::workspace_channels},
  {"d:", table::dms},
  {"ps:", table::presence_status},
  {"audit:", table::audit},
}};

} // namespace v2

} // namespace schema

} // namespace sb::storage
