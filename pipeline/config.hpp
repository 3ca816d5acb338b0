// SPDX-License-Identifier: Apache-2.0
#pragma once
// Pipeline configs: YAML (or JSON) with the stages in order, each a `type` plus its options,
// and one `execution` block. Example:
//   pipeline:
//     - type: readers.orthomosaic
//       files: [samples/615/615.tif]
//       bands: [blue, green, red, red_edge, nir]
//     - type: filters.indices
//       indices: [ndvi, ndre]
//     - type: writers.cog
//       directory: out/indices
//   execution: {threads: 0, tile_px: 512, memory_mb: 512}
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline/registry.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

struct StageConfig {
  std::string type;
  YAML::Node options;  // every key but `type`
};

struct PipelineConfig {
  std::string source = "<command line>";  // the file name, for error messages
  std::vector<StageConfig> stages;
  YAML::Node execution;
  std::string output;  // top-level `output:` folder of workflows that write per-field folders
};

PipelineConfig load_config(const std::string& path);
PipelineConfig parse_config(const YAML::Node& root, const std::string& source);

// Applies "stage.option=value" where stage is a stage type ("filters.indices") or its
// 1-based position, and value is YAML ("ndvi,ndre", "[1, 2]", "0.5").
void apply_override(PipelineConfig& config, const std::string& assignment);

// Declares the execution block's options (threads, tile_px, memory_mb) on `settings`.
void declare_execution_options(OptionSet& options, ExecutionSettings& settings);

struct Pipeline {
  std::unique_ptr<Reader> reader;
  std::vector<std::unique_ptr<Filter>> filters;
  std::vector<std::unique_ptr<Writer>> writers;
  ExecutionSettings execution;
};

// The execution block's settings (errors name the config file).
ExecutionSettings parse_execution(const PipelineConfig& config);

// The stage at `position` (0-based), created by name with its options set; errors are prefixed
// "<file>: stage N '<type>'".
std::unique_ptr<Stage> create_configured_stage(const PipelineConfig& config, std::size_t position,
                                               const StageRegistry& registry);

// Creates every stage by name and sets its options; errors name file, stage and option.
Pipeline build_pipeline(const PipelineConfig& config, const StageRegistry& registry);

}  // namespace fieldrx
