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
    if (key != "pipeline" && key != "execution") {
      throw ConfigError(source + ": unknown top-level key '" + key + "'; expected 'pipeline' and 'execution'");
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

Pipeline build_pipeline(const PipelineConfig& config, const StageRegistry& registry) {
  Pipeline pipeline;
  {
    OptionSet execution_options;
    declare_execution_options(execution_options, pipeline.execution);
    for (const auto& item : config.execution) {
      try {
        execution_options.set(item.first.as<std::string>(), item.second);
      } catch (...) {
        rethrow_with_context(config.source + ": execution");
      }
    }
  }
  int position = 0;
  for (const auto& stage_config : config.stages) {
    ++position;
    const std::string where = config.source + ": stage " + std::to_string(position) + " '" + stage_config.type + "'";
    try {
      auto stage = registry.create(stage_config.type);
      for (const auto& item : stage_config.options) {
        stage->options().set(item.first.as<std::string>(), item.second);
      }
      switch (stage->kind()) {
        case StageKind::reader:
          if (pipeline.reader) throw ConfigError("a pipeline has one reader; this is the second");
          if (!pipeline.filters.empty() || !pipeline.writers.empty()) throw ConfigError("the reader must come first");
          pipeline.reader.reset(dynamic_cast<Reader*>(stage.release()));
          break;
        case StageKind::filter:
          if (!pipeline.writers.empty()) throw ConfigError("filters must come before writers");
          pipeline.filters.emplace_back(dynamic_cast<Filter*>(stage.release()));
          break;
        case StageKind::writer:
          pipeline.writers.emplace_back(dynamic_cast<Writer*>(stage.release()));
          break;
        case StageKind::aggregator:
          throw ConfigError("aggregators run in the prescription workflow (fieldrx prescribe), not in a tile pass");
      }
    } catch (...) {
      rethrow_with_context(where);
    }
  }
  if (!pipeline.reader) throw ConfigError(config.source + ": the pipeline needs a readers.* stage first");
  if (pipeline.writers.empty()) throw ConfigError(config.source + ": the pipeline writes nothing; add a writers.* stage");
  return pipeline;
}

}  // namespace fieldrx
