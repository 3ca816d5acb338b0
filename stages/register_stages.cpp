// SPDX-License-Identifier: Apache-2.0
// The one place stages are registered: one line each.
#include "pipeline/registry.hpp"
#include "stages/aggregators/field_statistics_aggregator.hpp"
#include "stages/aggregators/prescription_aggregator.hpp"
#include "stages/aggregators/zones_aggregator.hpp"
#include "stages/filters/indices_filter.hpp"
#include "stages/readers/captures_reader.hpp"
#include "stages/readers/fields_reader.hpp"
#include "stages/readers/orthomosaic_reader.hpp"
#include "stages/writers/cog_writer.hpp"
#include "stages/writers/prescription_writers.hpp"
#include "stages/writers/preview_writer.hpp"
#include "stages/writers/report_writer.hpp"

namespace fieldrx {

const StageRegistry& stage_registry() {
  static const StageRegistry registry = [] {
    StageRegistry r;
    r.add<OrthomosaicReader>();
    r.add<CapturesReader>();
    r.add<FieldsReader>();
    r.add<IndicesFilter>();
    r.add<FieldStatisticsAggregator>();
    r.add<ZonesAggregator>();
    r.add<PrescriptionAggregator>();
    r.add<CogWriter>();
    r.add<PreviewWriter>();
    r.add<IsoxmlWriter>();
    r.add<ZonesVectorWriter>();
    r.add<RxRasterWriter>();
    r.add<ReportWriter>();
    return r;
  }();
  return registry;
}

}  // namespace fieldrx
