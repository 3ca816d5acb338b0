// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <fstream>

#include "pipeline/config.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/registry.hpp"
#include "pipeline/workflows/prescribe_workflow.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {
std::string build_error(const std::string& yaml) {
  try {
    build_pipeline(parse_config(YAML::Load(yaml), "test.yaml"), stage_registry());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("config errors name the file, the stage and the option", "[pipeline][config]") {
  // Guards the message a user reads for a typo in a config.
  const std::string bad_option = build_error(R"(
pipeline:
  - {type: readers.orthomosaic, files: [a.tif]}
  - {type: filters.indices, indices: [ndvi, ndvj]}
  - {type: writers.cog, directory: out}
)");
  CHECK_THAT(bad_option, Catch::Contains("test.yaml: stage 2 'filters.indices': option 'indices': 'ndvj' is not one of"));
  CHECK_THAT(build_error("pipeline:\n  - {type: filters.nope}\n"),
             Catch::Contains("test.yaml: stage 1 'filters.nope': unknown stage type 'filters.nope'; known stages: readers.orthomosaic"));
  CHECK_THAT(build_error("pipeline:\n  - {type: readers.orthomosaic, files: [a.tif], band: [red]}\n"),
             Catch::Contains("unknown option 'band'; this stage takes [files, bands,"));
  CHECK_THAT(build_error("pipeline:\n  - {type: readers.orthomosaic, files: [a.tif]}\nexecution: {threads: -1}\n"),
             Catch::Contains("test.yaml: execution: option 'threads' is -1, outside its range"));
  CHECK_THAT(build_error("pipeline:\n  - {type: readers.orthomosaic, files: [a.tif]}\n"),
             Catch::Contains("writes nothing"));
  CHECK_THAT(build_error("stages: []\n"), Catch::Contains("expected a map with a 'pipeline:' list"));
}

TEST_CASE("config overrides (--set) address a stage option by type or position", "[pipeline][config]") {
  // Guards the documented override syntax stage.option=value.
  PipelineConfig config = parse_config(YAML::Load(R"(
pipeline:
  - {type: readers.orthomosaic, files: [a.tif]}
  - {type: filters.indices, indices: [ndvi]}
  - {type: writers.cog, directory: out}
)"), "t.yaml");
  apply_override(config, "filters.indices.indices=ndvi,ndre");
  apply_override(config, "3.compress=none");
  apply_override(config, "execution.threads=1");
  CHECK(config.stages[1].options["indices"].as<std::string>() == "ndvi,ndre");
  CHECK(config.stages[2].options["compress"].as<std::string>() == "none");
  CHECK(config.execution["threads"].as<int>() == 1);
  CHECK_THROWS_WITH(apply_override(config, "writers.png.max_px=5"), Catch::Contains("has no stage 'writers.png'"));
  CHECK_THROWS_WITH(apply_override(config, "threads"), Catch::Contains("expected stage.option=value"));
}

TEST_CASE("every shipped config builds", "[pipeline][config]") {
  // Guards configs/ against drifting from the stages' options (each config is also run e2e).
  for (const auto& entry : std::filesystem::directory_iterator(test::source_path("configs"))) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const PipelineConfig config = load_config(entry.path().string());
    if (is_prescription_config(config)) {
      CHECK_NOTHROW(build_prescribe_job(config, stage_registry()));
    } else {
      CHECK_NOTHROW(build_pipeline(config, stage_registry()));
    }
  }
}

TEST_CASE("every registered stage lists documented options", "[stage][registry]") {
  // Guards `fieldrx stages`: each stage has a description, a source link and described options.
  for (const auto& info : stage_registry().stages()) {
    INFO(info.name);
    CHECK_FALSE(info.description.empty());
    CHECK_FALSE(info.link.empty());
    auto stage = stage_registry().create(info.name);
    for (const auto& spec : stage->options().specs()) CHECK_FALSE(spec.description().empty());
  }
}
