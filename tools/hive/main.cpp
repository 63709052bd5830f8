// hive: decentralized Mixture-of-Experts training. `hive --help` lists the subcommands.
#include <cstdio>
#include <exception>
#include <vector>

#include "engine/core/error.h"
#include "tools/hive/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"hive: train neural networks whose layers are decentralized mixtures of experts"};
  app.require_subcommand(1);
  const std::vector<hive::tools::Command> commands = {
      hive::tools::add_train_local_command(app),
      hive::tools::add_keygen_command(app),
      hive::tools::add_dht_command(app),
      hive::tools::add_serve_command(app),
      hive::tools::add_train_command(app),
      hive::tools::add_swarm_command(app),
  };

  CLI11_PARSE(app, argc, argv);
  try {
    for (const hive::tools::Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const hive::Error& error) {
    std::fprintf(stderr, "hive: error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hive: unexpected error: %s\n", error.what());
    return 1;
  }
  return 0;
}
