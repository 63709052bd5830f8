// Subcommands whose options can also come from a file: `hive serve --config server.toml`. The
// file holds `name = value` lines (TOML or INI, names without the leading dashes); an option
// given on the command line wins over the file, and a name the subcommand does not know is an
// error naming it. CLI11 2.1's own set_config() reads files for the main app only.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace hive::tools {

// A subcommand of `parent` that already has its --config option.
CLI::App* add_configurable_subcommand(CLI::App& parent, std::string name, std::string description);

}  // namespace hive::tools
