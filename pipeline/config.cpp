// SPDX-License-Identifier: Apache-2.0
#include "pipeline/config.hpp"

#include <fstream>
#include <sstream>

#include "pipeline/errors.hpp"

namespace fieldrx {

PipelineConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  YAML::Node root;
  try {
    root = YAML::Load(in);  // JSON is a subset of YAML 1.2 as far as configs go
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": line " + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  return parse_config(root, path);
}

PipelineConfig parse_config(const YAML::Node& root, const std::string& source) {
  PipelineConfig config;
  config.source = source;
  if (!root.IsMap() || !root["pipeline"] || !root["pipeline"].IsSequence()) {
    throw ConfigError(source + ": expected a map with a 'pipeline:' list of stages");
  }
  for (const auto& item : root) {
    const auto key = item.first.as<std::string>();
    if (key != "pipeline" && key != "execution" && key != "output") {
      throw ConfigError(source + ": unknown top-level key '" + key + "'; expected 'pipeline', 'execution' and 'output'");
    }
  }
  int position = 0;
  for (const auto& node : root["pipeline"]) {
    ++position;
    if (!node.IsMap() || !node["type"]) {
      throw ConfigError(source + ": stage " + std::to_string(position) + ": needs a 'type:' key");
    }
    StageConfig stage;
    stage.type = node["type"].as<std::string>();
    stage.options = YAML::Node(YAML::NodeType::Map);
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      if (key != "type") stage.options[key] = item.second;
    }
    config.stages.push_back(std::move(stage));
  }
  config.execution = root["execution"] ? root["execution"] : YAML::Node(YAML::NodeType::Map);
  if (root["output"]) config.output = root["output"].as<std::string>();
  return config;
}

void apply_override(PipelineConfig& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.substr(0, eq).rfind('.');
  if (eq == std::string::npos || dot == std::string::npos) {
    throw ConfigError("--set '" + assignment + "': expected stage.option=value, e.g. filters.indices.indices=ndvi,ndre");
  }
  const std::string stage_ref = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception&) {
    value = YAML::Node(assignment.substr(eq + 1));
  }
  if (stage_ref == "execution") {
    config.execution[key] = value;
    return;
  }
  for (std::size_t i = 0; i < config.stages.size(); ++i) {
    if (config.stages[i].type == stage_ref || std::to_string(i + 1) == stage_ref) {
      config.stages[i].options[key] = value;
      return;
    }
  }
  throw ConfigError("--set '" + assignment + "': the config has no stage '" + stage_ref +
                    "' (use a stage type from the config, its 1-based position, or 'execution')");
}

void declare_execution_options(OptionSet& options, ExecutionSettings& settings) {
  options.add("threads", settings.threads, "worker threads (0 = all cores)", 0).range(0, 1024);
  options.add("tile_px", settings.tile_px, "edge of the square processing tile", 512)
      .unit("px").range(16, 16384);
  options.add("memory_mb", settings.memory_mb, "memory budget for tiles in flight and GDAL's cache", 512)
      .unit("MiB").range(16, 1 << 20);
}

ExecutionSettings parse_execution(const PipelineConfig& config) {
  ExecutionSettings settings;
  OptionSet execution_options;
  declare_execution_options(execution_options, settings);
  for (const auto& item : config.execution) {
    try {
      execution_options.set(item.first.as<std::string>(), item.second);
    } catch (...) {
      rethrow_with_context(config.source + ": execution");
    }
  }
  return settings;
}

std::unique_ptr<Stage> create_configured_stage(const PipelineConfig& config, std::size_t position,
                                               const StageRegistry& registry) {
  const StageConfig& stage_config = config.stages[position];
  try {
    auto stage = registry.create(stage_config.type);
    for (const auto& item : stage_config.options) stage->options().set(item.first.as<std::string>(), item.second);
    return stage;
  } catch (...) {
    rethrow_with_context(config.source + ": stage " + std::to_string(position + 1) + " '" + stage_config.type + "'");
  }
}

Pipeline build_pipeline(const PipelineConfig& config, const StageRegistry& registry) {
  Pipeline pipeline;
  pipeline.execution = parse_execution(config);
  for (std::size_t position = 0; position < config.stages.size(); ++position) {
    std::unique_ptr<Stage> stage = create_configured_stage(config, position, registry);
    try {
      if (auto* reader = dynamic_cast<Reader*>(stage.get())) {
        if (pipeline.reader) throw ConfigError("a pipeline has one raster reader; this is the second");
        if (!pipeline.filters.empty() || !pipeline.writers.empty()) throw ConfigError("the reader must come first");
        stage.release();
        pipeline.reader.reset(reader);
      } else if (auto* filter = dynamic_cast<Filter*>(stage.get())) {
        if (!pipeline.writers.empty()) throw ConfigError("filters must come before writers");
        stage.release();
        pipeline.filters.emplace_back(filter);
      } else if (auto* writer = dynamic_cast<Writer*>(stage.get())) {
        stage.release();
        pipeline.writers.emplace_back(writer);
      } else {
        throw ConfigError("this stage works on whole fields: it belongs in a prescription config (with readers.fields)");
      }
    } catch (...) {
      rethrow_with_context(config.source + ": stage " + std::to_string(position + 1) + " '" + config.stages[position].type + "'");
    }
  }
  if (!pipeline.reader) throw ConfigError(config.source + ": the pipeline needs a readers.* stage first");
  if (pipeline.writers.empty()) throw ConfigError(config.source + ": the pipeline writes nothing; add a writers.* stage");
  return pipeline;
}

}  // namespace fieldrx
