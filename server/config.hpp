// node_config: every setting of a Switchboard node, read through CAF's config system
// (command line `--flags` plus an ini file), with the unknown-key check CAF 0.17 lacks.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_system_config.hpp>

namespace sb::server {

/// All settings of one node. Defaults are what `switchboard` runs with when given nothing.
class node_config : public caf::actor_system_config {
public:
  node_config();

  /// Directory of the node's RocksDB data. Default: ./data.
  std::string data_dir = "./data";
  /// Snowflake node id, 0..1023; unique per node of a cluster. Default: 0.
  uint16_t node_id = 0;

  /// Parses argv and the config file. Returns an empty string when the node may start,
  /// or a human-readable reason to stop (unknown option, bad value, unknown key in the
  /// file). CAF 0.17 silently ignores unknown config-file keys, so they are checked here.
  std::string load(int argc, char** argv);

  /// True if `--help` was given (CAF printed the help text; exit 0).
  bool help_printed() const { return cli_helptext_printed; }
};

} // namespace sb::server
