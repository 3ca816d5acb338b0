// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prescription workflow, field by field:
//   image (readers.orthomosaic, or readers.captures: a raw flight mosaicked once into
//   OUTPUT/mosaic.tif by calibrate_workflow.hpp) + boundaries (readers.fields)
//   -> one tile pass over the field's window: indices (filters.indices) and, for the pixels in
//      the field, statistics and prescription-grid cell means (aggregators.field_statistics)
//   -> zones on the grid (aggregators.zones) -> zone polygons clipped to the field, exact areas
//   -> rates, totals, tank loads (aggregators.prescription)
//   -> writers.isoxml, writers.zones, writers.rx_raster, writers.report into OUTDIR/<field id>/
// and OUTDIR/summary.csv over all fields. A field that fails gets its error in the summary and
// the others go on.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/config.hpp"
#include "pipeline/field_writer.hpp"
#include "pipeline/io/fields.hpp"
#include "pipeline/io/prescription_geometry.hpp"
#include "stages/aggregators/field_statistics_aggregator.hpp"
#include "stages/aggregators/prescription_aggregator.hpp"
#include "stages/aggregators/zones_aggregator.hpp"
#include "stages/readers/fields_reader.hpp"

namespace fieldrx {

struct PrescribeJob {
  std::string source;  // config file, for messages
  std::unique_ptr<Reader> image;
  std::unique_ptr<FieldsReader> fields;
  std::vector<std::unique_ptr<Filter>> filters;
  std::unique_ptr<FieldStatisticsAggregator> statistics;
  std::unique_ptr<ZonesAggregator> zones;
  std::unique_ptr<PrescriptionAggregator> prescription;
  std::vector<std::unique_ptr<FieldWriter>> writers;
  ExecutionSettings execution;
  std::string output_dir;
};

struct FieldOutcome {
  std::string field_id;
  std::string status;   // ok | warning | error
  std::string message;  // the error, or the warnings "; "-joined
  std::string crop;
  double area_ha = 0, treated_area_ha = 0, mean_index = 0, gvf = 0, total_product = 0;
  int zones = 0, tank_loads = 0;
  std::string unit, product_unit, folder;
  std::vector<std::string> outputs;
};

// True when the config is a prescription workflow (it has readers.fields).
bool is_prescription_config(const PipelineConfig& config);
PrescribeJob build_prescribe_job(const PipelineConfig& config, const StageRegistry& registry);
std::vector<FieldOutcome> run_prescribe_job(PrescribeJob& job);

// A job opened for its fields: the image opened once (its reader shared by every field), the
// filters prepared, the boundaries read in the image's CRS. run_prescribe_job and the farm batch
// (pipeline/workflows/batch_workflow.hpp) both start here.
struct OpenedPrescribeJob {
  RasterLayout layout;
  FieldSet fields;
  std::map<std::string, std::string> crops;     // field id -> crop
  std::map<std::string, std::string> ab_lines;  // field id -> its A-B line text (readers.fields ab_line_attribute)
  std::unique_ptr<LonLatTransform> lonlat;
  std::string crop_of(const std::string& field_id) const;
  std::string ab_line_of(const std::string& field_id) const;
};
// Validates the stages, opens the image, prepares the filters, reads the boundaries; writes
// nothing, except the mosaic of a readers.captures flight when it is not up to date. Throws for
// whole-job problems (bad image or flight, bad boundary file, wrong CRS).
OpenedPrescribeJob open_prescribe_job(PrescribeJob& job);

// One field, start to finish, into job.output_dir/<field folder>/. Throws on anything that makes
// this field's prescription unsafe. Thread-safe: several fields of one job may run at once (the
// stages are const after validation; the reader reads through per-thread datasets). `pass`
// sets the field's tile pass (threads, tile size, memory); it is always run quiet.
FieldOutcome prescribe_one_field(const PrescribeJob& job, const OpenedPrescribeJob& opened, const Field& field,
                                 const ExecutionSettings& pass);
// The outcome recorded for a field that threw `message`.
FieldOutcome failed_field_outcome(const Field& field, const std::string& crop, const std::string& message);

// A field id as a folder name: characters other than letters, digits, '-', '_' and '.' become '_'.
std::string field_folder_name(const std::string& field_id);

}  // namespace fieldrx
