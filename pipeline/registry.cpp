// SPDX-License-Identifier: Apache-2.0
#include "pipeline/registry.hpp"

#include "pipeline/errors.hpp"

namespace fieldrx {

std::unique_ptr<Stage> StageRegistry::create(const std::string& name) const {
  for (const auto& entry : entries_) {
    if (entry.info.name == name) {
      auto stage = entry.make();
      stage->declare();
      return stage;
    }
  }
  std::string known;
  for (const auto& entry : entries_) known += (known.empty() ? "" : ", ") + entry.info.name;
  throw ConfigError("unknown stage type '" + name + "'; known stages: " + known);
}

std::vector<StageInfo> StageRegistry::stages() const {
  std::vector<StageInfo> infos;
  for (const auto& entry : entries_) infos.push_back(entry.info);
  return infos;
}

}  // namespace fieldrx
