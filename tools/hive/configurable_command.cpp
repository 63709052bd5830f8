#include "tools/hive/configurable_command.h"

#include <memory>
#include <utility>

namespace hive::tools {
namespace {

// Reaches CLI11's config parsing of one app, which is protected.
class ConfigurableCommand : public CLI::App {
 public:
  ConfigurableCommand(std::string description, std::string name, CLI::App& parent)
      : CLI::App(std::move(description), std::move(name), &parent) {
    allow_config_extras(CLI::config_extras_mode::error);
    // Declared before every other option: CLI11 runs option callbacks in declaration order once
    // the command line is parsed, so the file's values land in options the command line left
    // empty before those options' own callbacks run.
    add_option_function<std::string>(
        "--config",
        [this](const std::string& path) { _parse_config(get_config_formatter()->from_file(path)); },
        "Read options from this TOML/INI file: `name = value`, names without the dashes; the "
        "command line wins")
        ->check(CLI::ExistingFile);
  }
};

}  // namespace

CLI::App* add_configurable_subcommand(CLI::App& parent, std::string name, std::string description) {
  return parent.add_subcommand(
      std::make_shared<ConfigurableCommand>(std::move(description), std::move(name), parent));
}

}  // namespace hive::tools
