// SPDX-License-Identifier: Apache-2.0
// The one place stages are registered: one line each.
#include "pipeline/registry.hpp"
#include "stages/filters/indices_filter.hpp"
#include "stages/readers/orthomosaic_reader.hpp"
#include "stages/writers/cog_writer.hpp"
#include "stages/writers/preview_writer.hpp"

namespace fieldrx {

const StageRegistry& stage_registry() {
  static const StageRegistry registry = [] {
    StageRegistry r;
    r.add<OrthomosaicReader>();
    r.add<IndicesFilter>();
    r.add<CogWriter>();
    r.add<PreviewWriter>();
    return r;
  }();
  return registry;
}

}  // namespace fieldrx
