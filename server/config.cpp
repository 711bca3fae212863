// Option table and config validation of a node.
#include "server/config.hpp"

#include <fstream>

#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

namespace sb::server {

namespace {

/// Walks a parsed config file and names the first key no option declares.
std::string find_unknown_key(const caf::settings& xs, const caf::config_option_set& opts,
                             const std::string& category) {
  for (auto& [key, value] : xs) {
    if (auto* sub = caf::get_if<caf::settings>(&value)) {
      auto nested = category.empty() || category == "global" ? key : category + "." + key;
      if (auto err = find_unknown_key(*sub, opts, nested); !err.empty())
        return err;
      continue;
    }
    auto cat = category.empty() ? std::string{"global"} : category;
    if (opts.qualified_name_lookup(cat, key) == nullptr)
      return cat == "global" ? key : cat + "." + key;
  }
  return {};
}

} // namespace

node_config::node_config() {
  opt_group{custom_options_, "global"}
    .add(data_dir, "data-dir", "directory of the node's RocksDB data (default: ./data)")
    .add(node_id, "node-id", "snowflake node id, 0..1023, unique per node (default: 0)");
}

std::string node_config::load(int argc, char** argv) {
  if (auto err = parse(argc, argv))
    return "invalid configuration: " + render(err);
  if (cli_helptext_printed)
    return {};
  if (!remainder.empty())
    return "unknown command-line argument: " + remainder.front()
           + " (see --help for the options)";
  // CAF 0.17 drops unknown keys of the config file without a word; a misspelled limit
  // must not silently run with its default.
  if (std::ifstream probe{config_file_path}; probe.good()) {
    auto file = parse_config(probe, custom_options_);
    if (!file)
      return "config file " + config_file_path + ": " + render(file.error());
    if (auto key = find_unknown_key(*file, custom_options_, ""); !key.empty())
      return "config file " + config_file_path + ": unknown option '" + key + "'";
  }
  if (node_id > 1023)
    return "node-id must be within 0..1023, got " + std::to_string(node_id);
  if (data_dir.empty())
    return "data-dir must not be empty";
  return {};
}

} // namespace sb::server
