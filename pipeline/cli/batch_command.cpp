// SPDX-License-Identifier: Apache-2.0
// `fieldrx batch` (a manifest of prescription jobs over a farm) and `fieldrx merge` (shard
// summaries -> one farm summary). The work is in pipeline/workflows/batch_workflow.hpp.
#include <iostream>
#include <memory>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "pipeline/workflows/batch_workflow.hpp"

namespace fieldrx {

Subcommand add_batch_command(CLI::App& app) {
  struct Args {
    std::string manifest, output, shard;
    bool force = false, dry_run = false, quiet = false, progress = false;
    int threads = 0, tile_px = 0, memory_mb = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("batch", "a manifest of prescription jobs over a farm: fields in parallel, resumable, shardable");
  c->add_option("manifest", args->manifest, "jobs in YAML (jobs: [...]) or CSV (one job per row)")->required();
  c->add_option("-o,--output", args->output, "output folder: <job>/<field>/..., summary.csv, summary.json, index.html")->required();
  c->add_flag("--force", args->force, "redo every field, also those already done with the same inputs and settings");
  c->add_flag("--dry-run", args->dry_run, "print which fields would run or be skipped; write nothing");
  c->add_option("--shard", args->shard,
                "K/N: only the K-th of N shares of the (job, field)-sorted list; default from SLURM_ARRAY_TASK_ID/"
                "SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX/FIELDRX_SHARD_COUNT");
  c->add_option("--threads", args->threads, "worker threads shared by all fields (default: all cores)")->check(CLI::Range(0, 1024));
  c->add_option("--tile", args->tile_px, "processing tile edge in px (default 512)")->check(CLI::Range(16, 16384));
  c->add_option("--memory-mb", args->memory_mb, "memory budget in MiB for tiles in flight over all fields (default 512)")
      ->check(CLI::Range(16, 1 << 20));
  c->add_flag("--quiet,-q", args->quiet, "no progress bar or info lines (for cron logs); warnings and the result still print");
  c->add_flag("--progress", args->progress, "draw the progress bar even when stderr is not a terminal");
  return {c, [args] {
            const BatchManifest manifest = load_manifest(args->manifest);
            BatchOptions options;
            options.output_dir = args->output;
            options.force = args->force;
            options.dry_run = args->dry_run;
            options.quiet = args->quiet;
            options.force_progress = args->progress;
            options.threads = args->threads;
            options.tile_px = args->tile_px;
            options.memory_mb = args->memory_mb;
            options.shard = args->shard.empty() ? shard_from_environment() : parse_shard(args->shard);
            set_log_quiet(args->quiet);
            if (options.shard.sharded()) log_info("fieldrx batch: " + options.shard.name());
            const BatchResult result = run_batch(manifest, options);
            if (args->dry_run) {
              for (const auto& line : result.plan) std::cout << line << "\n";
              std::cout << result.plan.size() - result.skipped << " to run or failing, " << result.skipped << " up to date (dry run: nothing written)\n";
              return 0;
            }
            for (const auto& row : result.rows) {
              if (row.status == "error") std::cout << row.job << "/" << row.field << "\terror\t" << row.error << "\n";
            }
            const std::string summary = options.shard.sharded() ? args->output + "/summary-" + options.shard.name() + ".json"
                                                                : args->output + "/summary.csv";
            std::cout << result.rows.size() << " fields: " << result.ran << " run, " << result.skipped << " up to date, "
                      << result.failed << " failed\n"
                      << summary << "\n";
            // 5: the batch ran, but some jobs or fields failed; their errors are in the summary.
            return result.failed == 0 ? 0 : 5;
          }};
}

Subcommand add_merge_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> inputs;
    std::string output;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("merge", "join the shard summaries of a sharded batch into one farm summary (csv, json, index.html)");
  c->add_option("outdirs", args->inputs, "batch output folders holding summary-shard-K-of-N.json")->required();
  c->add_option("-o,--output", args->output, "where the farm summary goes (default: the first folder)");
  return {c, [args] {
            const std::string output = args->output.empty() ? args->inputs.front() : args->output;
            const auto rows = merge_batch_shards(args->inputs, output);
            int failed = 0;
            for (const auto& row : rows) failed += row.status == "error";
            std::cout << rows.size() << " fields, " << failed << " failed\n" << output << "/summary.csv\n";
            return failed == 0 ? 0 : 5;
          }};
}

}  // namespace fieldrx
