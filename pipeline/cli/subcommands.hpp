// SPDX-License-Identifier: Apache-2.0
#pragma once
// Each fieldrx command adds itself to the CLI11 app and returns the action to run when chosen.
#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

#include "pipeline/config.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

struct Subcommand {
  CLI::App* command;
  std::function<int()> run;  // returns the exit code
};
using SubcommandFactory = Subcommand (*)(CLI::App& app);

// Every command, in the order `fieldrx --help` lists them (pipeline/cli/subcommands.cpp).
const std::vector<SubcommandFactory>& subcommand_table();

// Shared --threads/--tile/--memory-mb/--quiet options of commands that run tile passes.
void add_execution_flags(CLI::App& command, ExecutionSettings& settings);

Subcommand add_run_command(CLI::App& app);
Subcommand add_index_command(CLI::App& app);
Subcommand add_stages_command(CLI::App& app);
Subcommand add_calibrate_command(CLI::App& app);
Subcommand add_synth_command(CLI::App& app);
Subcommand add_prescribe_command(CLI::App& app);
Subcommand add_batch_command(CLI::App& app);
Subcommand add_merge_command(CLI::App& app);

// Runs a prescription config and prints one line per field; exit 5 when some fields failed.
int run_prescribe_config(const PipelineConfig& config, bool quiet);

}  // namespace fieldrx
