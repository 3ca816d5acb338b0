// SPDX-License-Identifier: Apache-2.0
// `fieldrx run`, `fieldrx index` and `fieldrx stages`: tile passes from a config or from flags.
#include <iostream>
#include <memory>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/config.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "pipeline/registry.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
#include "pipeline/workflows/prescribe_workflow.hpp"

namespace fieldrx {
namespace {

// Command-line execution flags override the config's execution block where given.
void apply_execution_flags(const CLI::App& command, const ExecutionSettings& flags, PipelineConfig& config) {
  if (command.count("--threads")) config.execution["threads"] = flags.threads;
  if (command.count("--tile")) config.execution["tile_px"] = flags.tile_px;
  if (command.count("--memory-mb")) config.execution["memory_mb"] = flags.memory_mb;
}

int run_config(PipelineConfig config, bool quiet) {
  set_log_quiet(quiet);
  Pipeline pipeline = build_pipeline(config, stage_registry());
  pipeline.execution.quiet = quiet;
  prepare_image_reader(*pipeline.reader, config.output, pipeline.execution);  // a raw flight
  const RunReport report = run_pipeline(pipeline);
  log_info("done in " + std::to_string(report.seconds) + " s (" + std::to_string(report.tiles) + " tiles)");
  for (const auto& path : report.outputs) std::cout << path << "\n";
  return 0;
}

}  // namespace

Subcommand add_run_command(CLI::App& app) {
  struct Args {
    std::string config;
    std::vector<std::string> overrides;
    std::string output;
    ExecutionSettings execution;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("run", "run a pipeline config (YAML or JSON)");
  command->add_option("config", args->config, "config file, e.g. configs/indices.yaml")->required();
  command->add_option("--set", args->overrides, "override a stage option: stage.option=value (repeatable)");
  command->add_option("-o,--output", args->output, "output folder of a prescription config (overrides its 'output:')");
  add_execution_flags(*command, args->execution);
  return {command, [args, command] {
            PipelineConfig config = load_config(args->config);
            for (const auto& assignment : args->overrides) apply_override(config, assignment);
            apply_execution_flags(*command, args->execution, config);
            if (!args->output.empty()) config.output = args->output;
            if (is_prescription_config(config)) return run_prescribe_config(config, args->execution.quiet);
            return run_config(std::move(config), args->execution.quiet);
          }};
}

Subcommand add_index_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> inputs;
    std::string bands, indices = "ndvi", nodata, scale, output, compress = "zstd";
    std::vector<std::string> expressions;
    bool no_overviews = false, no_preview = false;
    ExecutionSettings execution;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("index", "vegetation index maps from an orthomosaic: OUTDIR/<index>.tif");
  command->add_option("inputs", args->inputs, "one multi-band GeoTIFF or one GeoTIFF per band")->required();
  command->add_option("--bands,-b", args->bands, "band roles in order, e.g. blue,green,red,red_edge,nir");
  command->add_option("--index,-i", args->indices, "indices, e.g. ndvi,ndre,gndvi (default ndvi)");
  command->add_option("--expr", args->expressions, "extra output NAME=EXPRESSION over band roles (repeatable)");
  command->add_option("--nodata", args->nodata, "input nodata value (default: the file's)");
  command->add_option("--scale", args->scale, "reflectance per digital number, e.g. 1/65535");
  command->add_option("--compress", args->compress, "COG compression: zstd (default), deflate, lzw, none");
  command->add_flag("--no-overviews", args->no_overviews, "write no internal overviews");
  command->add_flag("--no-preview", args->no_preview, "write no PNG previews");
  command->add_option("-o,--output", args->output, "output folder")->required();
  add_execution_flags(*command, args->execution);
  return {command, [args, command] {
            PipelineConfig config;
            config.source = "fieldrx index";
            StageConfig reader{"readers.orthomosaic", YAML::Node(YAML::NodeType::Map)};
            for (const auto& input : args->inputs) reader.options["files"].push_back(input);
            if (!args->bands.empty()) reader.options["bands"] = args->bands;
            if (!args->nodata.empty()) reader.options["nodata"] = args->nodata;
            if (!args->scale.empty()) reader.options["scale"] = args->scale;
            StageConfig indices{"filters.indices", YAML::Node(YAML::NodeType::Map)};
            indices.options["indices"] = args->indices;
            for (const auto& expression : args->expressions) {
              const auto eq = expression.find('=');
              if (eq == std::string::npos || eq == 0) {
                throw ConfigError("--expr '" + expression + "': expected NAME=EXPRESSION, e.g. wdrvi=(0.1*nir-red)/(0.1*nir+red)");
              }
              indices.options["expressions"][expression.substr(0, eq)] = expression.substr(eq + 1);
            }
            StageConfig cog{"writers.cog", YAML::Node(YAML::NodeType::Map)};
            cog.options["directory"] = args->output;
            cog.options["compress"] = args->compress;
            cog.options["overviews"] = !args->no_overviews;
            config.stages = {reader, indices, cog};
            if (!args->no_preview) {
              StageConfig preview{"writers.preview", YAML::Node(YAML::NodeType::Map)};
              preview.options["directory"] = args->output;
              config.stages.push_back(preview);
            }
            config.execution = YAML::Node(YAML::NodeType::Map);
            apply_execution_flags(*command, args->execution, config);
            return run_config(std::move(config), args->execution.quiet);
          }};
}

Subcommand add_stages_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("stages", "list every stage and its options");
  return {command, [] {
            for (const auto& info : stage_registry().stages()) {
              auto stage = stage_registry().create(info.name);
              std::cout << info.name << "\n  " << info.description << "\n  source: " << info.link << "\n";
              for (const auto& spec : stage->options().specs()) {
                std::cout << "    " << spec.summary() << "\n        " << spec.description() << "\n";
              }
              std::cout << "\n";
            }
            return 0;
          }};
}

}  // namespace fieldrx
