// Each subcommand of `hive` registers its options on the application and returns itself with the
// function that runs it (called only when that subcommand was given).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace hive::tools {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_train_local_command(CLI::App& app);
Command add_keygen_command(CLI::App& app);
Command add_dht_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_train_command(CLI::App& app);
Command add_swarm_command(CLI::App& app);

}  // namespace hive::tools
