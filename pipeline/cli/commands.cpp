// SPDX-License-Identifier: Apache-2.0
#include "pipeline/cli/commands.hpp"

#include <cstdio>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"

namespace fieldrx {

int cli_main(int argc, char** argv) {
  CLI::App app{"fieldrx: multispectral drone imagery -> crop-health maps and variable-rate prescriptions"};
  app.set_version_flag("--version", std::string("fieldrx ") + FIELDRX_VERSION);
  app.require_subcommand(1);
  std::vector<Subcommand> commands;
  for (SubcommandFactory add : subcommand_table()) commands.push_back(add(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (auto& command : commands) {
      if (command.command->parsed()) return command.run();
    }
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "fieldrx: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fieldrx: unexpected error: %s\n", e.what());
    return 1;
  }
}

}  // namespace fieldrx
