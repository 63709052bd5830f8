// `hive keygen`: creates (or reads) an identity file and prints the peer id it gives. The same
// file passed to `hive dht` or `hive serve` later makes the node keep its peer id across restarts.
#include <cstdio>
#include <memory>
#include <string>

#include "net/identity/identity.h"
#include "tools/hive/commands.h"

namespace hive::tools {

Command add_keygen_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand(
      "keygen", "create an ed25519 identity file (mode 0600) if missing and print its peer id");
  auto path = std::make_shared<std::string>("hive_identity.key");
  command->add_option("--identity", *path, "identity file")->capture_default_str();
  return Command{command, [path] {
                   auto identity = net::Identity::load_or_create(*path);
                   if (!identity.is_ok()) {
                     std::fprintf(stderr, "hive keygen: %s\n", identity.status().to_string().c_str());
                     return 1;
                   }
                   std::printf("identity=%s\npeer_id=%s\n", path->c_str(),
                               identity.value().peer_id().to_hex().c_str());
                   return 0;
                 }};
}

}  // namespace hive::tools
