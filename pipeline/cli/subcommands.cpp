// SPDX-License-Identifier: Apache-2.0
#include "pipeline/cli/subcommands.hpp"

namespace fieldrx {

const std::vector<SubcommandFactory>& subcommand_table() {
  static const std::vector<SubcommandFactory> table = {
      add_run_command,
      add_index_command,
      add_stages_command,
      add_calibrate_command,
      add_prescribe_command,
      add_batch_command,
      add_merge_command,
      add_synth_command,
  };
  return table;
}

void add_execution_flags(CLI::App& command, ExecutionSettings& settings) {
  command.add_option("--threads", settings.threads, "worker threads (default: all cores)")->check(CLI::Range(0, 1024));
  command.add_option("--tile", settings.tile_px, "processing tile edge in px (default 512)")->check(CLI::Range(16, 16384));
  command.add_option("--memory-mb", settings.memory_mb, "memory budget in MiB for tiles in flight (default 512)")
      ->check(CLI::Range(16, 1 << 20));
  command.add_flag("--quiet,-q", settings.quiet, "no progress bar or info lines");
}

}  // namespace fieldrx
