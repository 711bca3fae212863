// records: what the cluster keeps in etcd, and its JSON form. The layout (docs/cluster.md):
//
//   <prefix>config             {"protocol","partitions"}           created once; every node
//                                                                   compares, refuses on mismatch
//   <prefix>nodes/<id>         node_record, bound to the node's lease: present = alive;
//                              create_revision = the node's incarnation
//   <prefix>members/<id>       node_record without lease: every node that ever joined, so a
//                              dead node is still listed (as down)
//   <prefix>controller         {"node"} bound to the controller's lease; its create_revision
//                              is the controller's epoch
//   <prefix>partitions/<p>     partition_record; its mod_revision is the partition's epoch
//                              (a fencing token: every change of owner bumps it)
//
// Partition records can hold a replica set from day one (replication is a later stage):
// today `replicas` is always {primary}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::cluster {

/// The cluster protocol this build speaks: nodes of another protocol refuse to join
/// (etcd config record) and CAF's BASP handshake refuses them too (app identifier). Bump it
/// whenever the cross-node message set changes (the type-ID block in chat_messages.hpp):
/// c2 added the partition-move messages; c3 the rewrite fields of storage::event (edited,
/// deleted: "delete means gone").
inline constexpr std::string_view protocol_version = "switchboard-c3";

struct config_record {
  std::string protocol;
  uint32_t partitions = 0;
  friend bool operator==(const config_record&, const config_record&) = default;
};

struct node_record {
  uint32_t id = 0;
  std::string cluster_host; ///< where its CAF middleman listens
  uint16_t cluster_port = 0;
  std::string http;         ///< "host:port" of its client listener
  std::string version;      ///< build version (informational)
  uint32_t pid = 0;
  uint64_t started_ms = 0;
  friend bool operator==(const node_record&, const node_record&) = default;
};

enum class partition_state { stable, moving, offline };
const char* to_string(partition_state s) noexcept;

struct partition_record {
  uint32_t primary = 0;
  std::vector<uint32_t> replicas; ///< primary first; {primary} until replication exists
  partition_state state = partition_state::stable;
  uint32_t move_to = 0;           ///< the target while state == moving
  friend bool operator==(const partition_record&, const partition_record&) = default;
};

/// The controller key's value: which node holds the role.
struct controller_record {
  uint32_t node = 0;
};

std::string encode(const config_record& r);
std::string encode(const controller_record& r);
std::string encode(const node_record& r);
std::string encode(const partition_record& r);
std::optional<config_record> decode_config(std::string_view json);
std::optional<node_record> decode_node(std::string_view json);
std::optional<partition_record> decode_partition(std::string_view json);
std::optional<controller_record> decode_controller(std::string_view json);

/// Key names under a prefix (e.g. "/sb/v1/").
struct keys {
  std::string prefix;
  std::string config() const { return prefix + "config"; }
  std::string nodes() const { return prefix + "nodes/"; }
  std::string node(uint32_t id) const { return nodes() + std::to_string(id); }
  std::string members() const { return prefix + "members/"; }
  std::string member(uint32_t id) const { return members() + std::to_string(id); }
  std::string controller() const { return prefix + "controller"; }
  std::string partitions() const { return prefix + "partitions/"; }
  /// Zero-padded so the partitions sort in order: partitions/007.
  std::string partition(uint32_t p) const;
  /// The number after `what` in `key` (nodes/12 → 12), nullopt when `key` is not one.
  static std::optional<uint32_t> number_after(std::string_view key, std::string_view what);
};

} // namespace sb::cluster
