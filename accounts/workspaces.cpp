// accounts::workspaces: workspace records, memberships (workspace_members and
// user_workspaces) and channel lists (workspace_channels) in the store's tables (layout in
// accounts/workspaces.hpp).
//
// Membership changes are check-then-write (read the member entry, then one atomic
// write_records of it and the user's entry). A process-wide mutex serializes those two
// steps so that concurrent add/remove calls report exact true/false answers; the store's
// record mutex keeps every write atomic.
#include "accounts/workspaces.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

#include "accounts/record_codec.hpp"
#include "storage/keys.hpp"
#include "storage/schema.hpp"

namespace sb::accounts {

namespace {

constexpr std::uint8_t workspace_record_version = 1;
using storage::table;
using write_ops = std::vector<storage::record_op>;

/// Serializes the read-then-write of add_member/remove_member (see the note at the top).
std::mutex& membership_mutex() {
  static std::mutex m;
  return m;
}

error storage_error(const storage::status& st) {
  return error{errc::storage, "storage: " + st.to_string()};
}

error no_such_workspace(std::uint64_t ws) {
  return error{errc::not_found, "no such workspace " + std::to_string(ws)};
}

/// 1..max_workspace_name_bytes bytes of display text (accounts' rule for names).
bool workspace_name_ok(std::string_view s) {
  return !s.empty() && s.size() <= max_workspace_name_bytes && is_name_text(s);
}

// -- keys ---------------------------------------------------------------------------------

using storage::schema::user_workspace_key;
using storage::schema::workspace_channel_key;
using storage::schema::workspace_key;
using storage::schema::workspace_member_key;

// -- records ------------------------------------------------------------------------------

using detail::get_str;
using detail::put_str;

std::string encode_workspace(const workspace& w) {
  std::string out;
  out.reserve(1 + 24 + 2 + w.name.size());
  out.push_back(static_cast<char>(workspace_record_version));
  storage::keys::put_be64(out, w.id);
  storage::keys::put_be64(out, w.owner);
  storage::keys::put_be64(out, w.created_ms);
  put_str(out, w.name);
  return out;
}

std::optional<workspace> decode_workspace(std::string_view in) {
  if (in.size() < 25 || static_cast<std::uint8_t>(in[0]) != workspace_record_version)
    return std::nullopt;
  workspace w;
  w.id = storage::keys::get_be64(in.data() + 1);
  w.owner = storage::keys::get_be64(in.data() + 9);
  w.created_ms = storage::keys::get_be64(in.data() + 17);
  in.remove_prefix(25);
  if (!get_str(in, w.name) || !in.empty())
    return std::nullopt;
  return w;
}

/// The role byte of a member entry; nullopt when it is not a known role.
std::optional<workspace_role> decode_role(std::string_view v) {
  if (v.size() != 1)
    return std::nullopt;
  auto b = static_cast<std::uint8_t>(v[0]);
  if (b == static_cast<std::uint8_t>(workspace_role::member))
    return workspace_role::member;
  if (b == static_cast<std::uint8_t>(workspace_role::owner))
    return workspace_role::owner;
  return std::nullopt;
}

std::string encode_role(workspace_role r) {
  return std::string(1, static_cast<char>(static_cast<std::uint8_t>(r)));
}

// -- reads --------------------------------------------------------------------------------

/// Whether the record of `ws` exists (false for the default workspace, which has no record).
result<bool> workspace_exists(const storage::store& db, std::uint64_t ws) {
  auto raw = db.get_record(table::workspaces, workspace_key(ws));
  if (!raw)
    return storage_error(raw.error());
  return raw->has_value();
}

/// The stored role of `user` in `ws`, or nullopt when not a member.
result<std::optional<workspace_role>> stored_role(const storage::store& db, std::uint64_t ws,
                                                  std::uint64_t user) {
  auto raw = db.get_record(table::workspace_members, workspace_member_key(ws, user));
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value())
    return std::optional<workspace_role>{};
  auto r = decode_role(**raw);
  if (!r)
    return error{errc::storage, "corrupt membership entry of workspace " + std::to_string(ws)};
  return std::optional<workspace_role>{*r};
}

/// Second halves of the keys `be64(first) | be64(second)` of `t` with second > `after`,
/// ascending, at most min(limit, max_workspace_page).
result<std::vector<std::uint64_t>> scan_ids(const storage::store& db, table t,
                                            std::uint64_t first, std::uint64_t after,
                                            std::size_t limit) {
  std::vector<std::uint64_t> out;
  limit = std::min(limit, max_workspace_page);
  if (limit == 0)
    return out;
  auto scan_prefix = storage::schema::owner_prefix(first);
  auto rows = db.scan_records(t, scan_prefix, storage::keys::pair_key(first, after), limit);
  if (!rows)
    return storage_error(rows.error());
  out.reserve(rows->size());
  for (auto& [k, v] : *rows) {
    if (k.size() != scan_prefix.size() + 8)
      return error{errc::storage, "corrupt workspace index key"};
    out.push_back(storage::keys::get_be64(k.data() + scan_prefix.size()));
  }
  return out;
}

} // namespace

workspaces::workspaces(storage::store& db, std::function<std::uint64_t()> next_id,
                       std::function<std::uint64_t()> now_ms)
  : db_(db), next_id_(std::move(next_id)), now_ms_(std::move(now_ms)) {}

result<workspace> workspaces::create(std::string_view name, std::uint64_t owner,
                                     const std::function<bool(std::uint64_t)>& id_fits) {
  if (!workspace_name_ok(name))
    return error{errc::bad_name,
                 "workspace name must be 1-80 bytes of UTF-8 without control, invisible or "
                 "direction-override characters, nor spaces at either end"};
  if (!next_id_ || !now_ms_)
    return error{errc::storage, "workspaces: no id generator or clock"};
  workspace w;
  w.id = next_id_();
  for (int tries = 1; id_fits && tries < 4096 && !id_fits(w.id); ++tries)
    w.id = next_id_();
  if (w.id == default_workspace)
    return error{errc::storage, "id generator returned 0"};
  if (id_fits && !id_fits(w.id))
    return error{errc::storage, "could not draw a workspace id in a partition of this node"};
  w.owner = owner;
  w.created_ms = now_ms_();
  w.name = std::string{name};

  write_ops ops;
  ops.reserve(3);
  ops.push_back({table::workspaces, workspace_key(w.id), encode_workspace(w)});
  ops.push_back({table::workspace_members, workspace_member_key(w.id, owner),
                 encode_role(workspace_role::owner)});
  ops.push_back({table::user_workspaces, user_workspace_key(owner, w.id), std::string{}});
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  return w;
}

result<workspace> workspaces::get(std::uint64_t id) const {
  if (id == default_workspace)
    return workspace{default_workspace, 0, 0, "default"};
  auto raw = db_.get_record(table::workspaces, workspace_key(id));
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value())
    return no_such_workspace(id);
  auto w = decode_workspace(**raw);
  if (!w || w->id != id)
    return error{errc::storage, "corrupt workspace record " + std::to_string(id)};
  return std::move(*w);
}

result<bool> workspaces::is_member(std::uint64_t ws, std::uint64_t user) const {
  if (ws == default_workspace)
    return true;
  auto r = stored_role(db_, ws, user);
  if (!r)
    return r.error();
  return r->has_value();
}

result<workspace_role> workspaces::role(std::uint64_t ws, std::uint64_t user) const {
  if (ws == default_workspace)
    return workspace_role::member;
  auto r = stored_role(db_, ws, user);
  if (!r)
    return r.error();
  if (!r->has_value())
    return error{errc::not_found, "user " + std::to_string(user) + " is not a member of workspace "
                                    + std::to_string(ws)};
  return **r;
}

namespace {

/// Why `ws` has no member list to read or change (the default workspace, or none stored);
/// nullopt when it has one.
std::optional<error> not_listed(const storage::store& db, std::uint64_t ws) {
  if (ws == default_workspace)
    return error{errc::not_found, "the default workspace has no member list"};
  auto exists = workspace_exists(db, ws);
  if (!exists)
    return exists.error();
  if (!*exists)
    return no_such_workspace(ws);
  return std::nullopt;
}

} // namespace

result<bool> workspaces::add_member(std::uint64_t ws, std::uint64_t user) {
  if (auto why = not_listed(db_, ws))
    return *why;
  std::lock_guard guard{membership_mutex()};
  auto current = stored_role(db_, ws, user);
  if (!current)
    return current.error();
  if (current->has_value())
    return false;
  write_ops ops;
  ops.reserve(2);
  ops.push_back({table::workspace_members, workspace_member_key(ws, user),
                 encode_role(workspace_role::member)});
  ops.push_back({table::user_workspaces, user_workspace_key(user, ws), std::string{}});
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  return true;
}

result<bool> workspaces::remove_member(std::uint64_t ws, std::uint64_t user) {
  if (auto why = not_listed(db_, ws))
    return *why;
  std::lock_guard guard{membership_mutex()};
  auto current = stored_role(db_, ws, user);
  if (!current)
    return current.error();
  if (!current->has_value())
    return false;
  if (**current == workspace_role::owner)
    return error{errc::forbidden, "the owner cannot leave workspace " + std::to_string(ws)};
  write_ops ops;
  ops.reserve(2);
  ops.push_back({table::workspace_members, workspace_member_key(ws, user), std::nullopt});
  ops.push_back({table::user_workspaces, user_workspace_key(user, ws), std::nullopt});
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  return true;
}

result<std::vector<std::uint64_t>> workspaces::members(std::uint64_t ws, std::uint64_t after,
                                                       std::size_t limit) const {
  if (auto why = not_listed(db_, ws))
    return *why;
  return scan_ids(db_, table::workspace_members, ws, after, limit);
}

result<std::vector<std::uint64_t>> workspaces::of_user(std::uint64_t user, std::uint64_t after,
                                                       std::size_t limit) const {
  return scan_ids(db_, table::user_workspaces, user, after, limit);
}

result<bool> workspaces::add_channel(std::uint64_t ws, std::uint64_t channel, bool sync) {
  write_ops ops;
  ops.push_back({table::workspace_channels, workspace_channel_key(ws, channel), std::string{}});
  if (auto st = db_.write_records(ops, sync && db_.options().sync); !st.ok())
    return storage_error(st);
  return true;
}

result<std::vector<std::uint64_t>> workspaces::channels(std::uint64_t ws, std::uint64_t after,
                                                        std::size_t limit) const {
  return scan_ids(db_, table::workspace_channels, ws, after, limit);
}

} // namespace sb::accounts
