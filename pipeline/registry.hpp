// SPDX-License-Identifier: Apache-2.0
#pragma once
// Explicit stage registry: one line per stage in stages/register_stages.cpp (static
// self-registration would be dropped by the linker from static libraries).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/stage.hpp"

namespace fieldrx {

class StageRegistry {
 public:
  template <typename StageType>
  void add() {
    const StageInfo info = StageType().info();
    stage_kind_of(info.name);  // rejects a badly named stage at start-up
    entries_.push_back({info, [] { return std::unique_ptr<Stage>(new StageType()); }});
  }
  // A new stage with its options declared and set to defaults.
  std::unique_ptr<Stage> create(const std::string& name) const;
  std::vector<StageInfo> stages() const;

 private:
  struct Entry {
    StageInfo info;
    std::function<std::unique_ptr<Stage>()> make;
  };
  std::vector<Entry> entries_;
};

// Every stage fieldrx has (defined in stages/register_stages.cpp).
const StageRegistry& stage_registry();

// Creates a stage and checks it is of the expected class (Reader, Filter, ...).
template <typename Kind>
std::unique_ptr<Kind> create_stage(const StageRegistry& registry, const std::string& name) {
  std::unique_ptr<Stage> stage = registry.create(name);
  auto* typed = dynamic_cast<Kind*>(stage.get());
  if (typed == nullptr) throw ConfigError("stage '" + name + "' is not of the kind needed here");
  stage.release();
  return std::unique_ptr<Kind>(typed);
}

}  // namespace fieldrx
