// SPDX-License-Identifier: Apache-2.0
#include "pipeline/workflows/prescribe_workflow.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
#include "pipeline/workflows/summary_text.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/io/prescription_geometry.hpp"
#include "pipeline/log.hpp"
#include "pipeline/runner.hpp"
#include "stages/aggregators/cell_grid.hpp"
#include "stages/filters/index_kernels.hpp"

namespace fieldrx {
namespace {

template <typename Kind>
bool take(std::unique_ptr<Stage>& stage, std::unique_ptr<Kind>& slot) {
  auto* typed = dynamic_cast<Kind*>(stage.get());
  if (typed == nullptr) return false;
  if (slot) throw ConfigError("this stage appears twice; a prescription config has one of each");
  stage.release();
  slot.reset(typed);
  return true;
}

void write_summary_csv(const std::vector<FieldOutcome>& outcomes, const std::string& output_dir) {
  AtomicOutput csv(output_dir + "/summary.csv");
  {
    std::ofstream out(csv.temp_path());
    out << "field_id,status,crop,area_ha,treated_area_ha,mean_index,zones,gvf,total_product,product_unit,rate_unit,"
           "tank_loads,folder,message\n";
    for (const auto& o : outcomes) {
      out << csv_cell(o.field_id) << ',' << o.status << ',' << csv_cell(o.crop) << ',' << fixed(o.area_ha, 4) << ','
          << fixed(o.treated_area_ha, 4) << ',' << fixed(o.mean_index, 5) << ',' << o.zones << ','
          << fixed(o.gvf, 4) << ',' << fixed(o.total_product, 3) << ',' << o.product_unit << ',' << o.unit << ','
          << o.tank_loads << ',' << csv_cell(o.folder) << ',' << csv_cell(o.message) << '\n';
    }
    if (!out.flush()) throw IoError(csv.final_path() + ": cannot write (disk full?)");
  }
  csv.commit();
}

// Zones made along an A-B line (or on oblong cells), moved onto the square north-aligned
// lat/lon grid that ISOXML grids and drone rasters carry: each delivery cell takes the zone (and rate) of the A-B cell under
// its centre. Zone polygons, areas and totals stay those of the A-B cells.
void deliver_on_north_grid(FieldPrescription& rx, const OGRGeometry& treatable, double cell_size_m, bool touching) {
  OGREnvelope box;
  treatable.getEnvelope(&box);
  CellGridGeometry north = make_cell_grid(box.MinX, box.MinY, box.MaxX, box.MaxY, cell_size_m);
  const cv::Mat touches = rasterize_on_grid(treatable, north, true);
  const cv::Mat centres = rasterize_on_grid(treatable, north, false);
  cv::Mat zones = sample_cells(rx.zones, rx.grid, north, touches);
  // A delivery cell that grazes the field can have its centre beyond the A-B cells that do.
  fill_unzoned_cells(zones, touches);
  cv::Mat treated = touching ? touches : centres;
  if (cv::countNonZero(treated) == 0) {
    throw StageError("no " + fixed(cell_size_m, 2) + " m delivery cell centre lies in the field; set a smaller "
                     "delivery_cell_size_m or edge_cells: touching");
  }
  std::vector<double> rate_of_zone;
  for (const auto& row : rx.zone_rows) {
    if (static_cast<std::size_t>(row.zone) > rate_of_zone.size()) rate_of_zone.resize(static_cast<std::size_t>(row.zone), 0.0);
    rate_of_zone[static_cast<std::size_t>(row.zone - 1)] = row.rate;
  }
  rx.rates = cell_rates(zones, treated, rate_of_zone);
  rx.zones = zones;
  rx.cell_in_field = treated;
  rx.zoning_grid = rx.grid;
  rx.grid = north;
}

// Everything for one field; throws on anything that makes this field's prescription unsafe.
FieldOutcome prescribe_field(const PrescribeJob& job, const RasterLayout& layout, const Field& field,
                             const std::string& crop, const std::string& ab_line, const LonLatTransform& lonlat,
                             const ExecutionSettings& settings) {
  FieldOutcome outcome;
  outcome.field_id = field.id;
  outcome.crop = crop;
  outcome.area_ha = field.boundary.area_ha();
  if (!field.ok()) throw StageError(field.message);

  FieldPrescription rx;
  rx.field = &field;
  rx.crop = crop;
  if (field.status == FieldStatus::warning) rx.warnings.push_back(field.message);

  const OGRGeometry& treatable = *field.treatable.wgs84;
  rx.grid = job.zones->zoning_grid(main_outer_ring(*field.boundary.wgs84), geometry_vertices(treatable), ab_line);
  const cv::Mat touches = rasterize_on_grid(treatable, rx.grid, true);
  const cv::Mat centres = rasterize_on_grid(treatable, rx.grid, false);
  rx.cell_in_field = job.zones->edge_cells_touching() ? touches : centres;
  if (cv::countNonZero(rx.cell_in_field) == 0) {
    throw StageError("the field (" + fixed(field.treatable.area_m2, 1) + " m2 after buffers and exclusions) holds no " +
                     fixed(job.zones->cell_size_m(), 1) + " m prescription cell" +
                     (job.zones->edge_cells_touching() ? "" : " centre") +
                     "; use a smaller cell_size_m (--cell-size) or edge_cells: touching, or leave the field out");
  }

  // One tile pass over the field's pixels.
  FieldPassAggregator::Setup setup;
  setup.field = &field;
  setup.grid = rx.grid;
  setup.lonlat = &lonlat;
  setup.field_window = field_pixel_window(field, layout.georef, layout.width, layout.height);
  setup.zoning_layers = job.zones->indices();
  setup.index_layers = setup.zoning_layers;
  for (const auto& layer : layout.layers()) {
    if (layer.kind == RasterLayout::LayerKind::derived &&
        std::find(setup.index_layers.begin(), setup.index_layers.end(), layer.name) == setup.index_layers.end()) {
      setup.index_layers.push_back(layer.name);
    }
  }
  std::unique_ptr<FieldPassAggregator> aggregator = job.statistics->for_field(setup);
  aggregator->prepare(layout);
  TilePass pass;
  pass.reader = job.image.get();
  for (const auto& filter : job.filters) pass.filters.push_back(filter.get());
  pass.aggregators = {aggregator.get()};
  pass.region = setup.field_window;
  pass.progress_label = field.id;
  ExecutionSettings quiet = settings;
  quiet.quiet = true;  // the per-field bar would fight the batch's own output
  run_tile_pass(pass, layout, quiet);
  aggregator->fill(rx);
  if (rx.valid_pixels == 0) {
    throw StageError("no valid " + setup.zoning_layers.front() + " pixel inside the field (all nodata, or the field lies where the image has no data)");
  }
  const double preview_scale = setup.field_window.width / std::max(1.0, double(rx.index_preview.cols));
  rx.preview_metres_per_pixel = 0;
  {
    OGRSpatialReference srs;
    if (srs.importFromWkt(layout.georef.crs_wkt.c_str()) == OGRERR_NONE && srs.IsProjected()) {
      rx.preview_metres_per_pixel = std::abs(layout.georef.pixel_width()) * srs.GetLinearUnits() * preview_scale;
    }
  }

  job.zones->make_field_zones(rx, touches, centres, clipped_cell_areas(rx.grid, treatable, touches, field.utm_epsg));
  ZonePolygons polygons = zone_polygons(rx.zones, rx.grid, treatable, field.utm_epsg);
  for (auto& row : rx.zone_rows) row.area_m2 = polygons.area_m2.count(row.zone) ? polygons.area_m2[row.zone] : 0.0;
  rx.zone_polygons_wgs84 = std::move(polygons.wgs84);
  job.prescription->prescribe(rx, rx.cell_in_field);
  // Writers get square north-aligned cells: ISOXML and drone rasters are lat/lon grids, and
  // the report draws cells as square pixels.
  if (!rx.grid.north_aligned() || rx.grid.cell_size_m != rx.grid.cell_width_m) {
    deliver_on_north_grid(rx, treatable, job.zones->delivery_cell_size_m(), job.zones->edge_cells_touching());
  }

  const std::string folder = job.output_dir + "/" + field_folder_name(field.id);
  make_directories(folder);
  for (const auto& writer : job.writers) {
    for (auto& path : writer->write_field(rx, folder)) outcome.outputs.push_back(path);
  }

  outcome.status = rx.warnings.empty() ? "ok" : "warning";
  std::string joined;
  for (const auto& w : rx.warnings) joined += (joined.empty() ? "" : "; ") + w;
  outcome.message = joined;
  outcome.treated_area_ha = rx.treated_area_m2 / 10000.0;
  for (const auto& s : rx.index_statistics) {
    if (s.name == setup.zoning_layers.front()) outcome.mean_index = s.summary.mean;
  }
  outcome.gvf = rx.gvf;
  outcome.zones = static_cast<int>(rx.zone_rows.size());
  outcome.total_product = rx.total_product;
  outcome.tank_loads = rx.tank_loads;
  outcome.unit = rx.rate_unit;
  outcome.product_unit = rx.rate_unit == "kg/ha" ? "kg" : "L";
  outcome.folder = folder;
  return outcome;
}

}  // namespace

std::string field_folder_name(const std::string& field_id) {
  std::string name;
  for (unsigned char c : field_id) name += (std::isalnum(c) || c == '-' || c == '_' || c == '.') ? char(c) : '_';
  if (name.empty() || name == "." || name == "..") name = "_" + name;
  return name;
}

bool is_prescription_config(const PipelineConfig& config) {
  return std::any_of(config.stages.begin(), config.stages.end(),
                     [](const StageConfig& s) { return s.type == "readers.fields"; });
}

PrescribeJob build_prescribe_job(const PipelineConfig& config, const StageRegistry& registry) {
  PrescribeJob job;
  job.source = config.source;
  job.execution = parse_execution(config);
  job.output_dir = config.output;
  for (std::size_t position = 0; position < config.stages.size(); ++position) {
    std::unique_ptr<Stage> stage = create_configured_stage(config, position, registry);
    try {
      std::unique_ptr<FieldWriter> writer;
      std::unique_ptr<Filter> filter;
      if (take(stage, job.image) || take(stage, job.fields) || take(stage, job.statistics) || take(stage, job.zones) ||
          take(stage, job.prescription)) {
        continue;
      }
      if (take(stage, filter)) {
        job.filters.push_back(std::move(filter));
      } else if (take(stage, writer)) {
        job.writers.push_back(std::move(writer));
      } else {
        throw ConfigError("this stage writes whole rasters; a prescription config takes writers.isoxml, writers.zones, "
                          "writers.rx_raster and writers.report (run raster writers with a separate config)");
      }
    } catch (...) {
      rethrow_with_context(config.source + ": stage " + std::to_string(position + 1) + " '" + config.stages[position].type + "'");
    }
  }
  auto missing = [&](const char* what) { return ConfigError(config.source + ": a prescription config needs a '" + std::string(what) + "' stage"); };
  if (!job.image) throw missing("readers.orthomosaic' or 'readers.captures");
  if (!job.fields) throw missing("readers.fields");
  if (!job.zones) throw missing("aggregators.zones");
  if (!job.prescription) throw missing("aggregators.prescription");
  if (!job.statistics) {
    job.statistics = create_stage<FieldStatisticsAggregator>(registry, "aggregators.field_statistics");
  }
  if (job.writers.empty()) throw ConfigError(config.source + ": the prescription writes nothing; add writers.isoxml, writers.zones, writers.rx_raster or writers.report");
  if (job.output_dir.empty()) throw ConfigError(config.source + ": no output folder; set top-level 'output:' or pass -o");
  return job;
}

namespace {
std::string value_or_empty(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto it = values.find(key);
  return it == values.end() ? std::string() : it->second;
}
}  // namespace

std::string OpenedPrescribeJob::crop_of(const std::string& field_id) const { return value_or_empty(crops, field_id); }
std::string OpenedPrescribeJob::ab_line_of(const std::string& field_id) const { return value_or_empty(ab_lines, field_id); }

OpenedPrescribeJob open_prescribe_job(PrescribeJob& job) {
  job.zones->validate();
  OpenedPrescribeJob opened;
  prepare_image_reader(*job.image, job.output_dir, job.execution);  // a raw flight: its mosaic
  opened.layout = job.image->open();
  RasterLayout& layout = opened.layout;
  // The zoning indices must be computed: add them to the indices filter, or make one.
  for (auto& filter : job.filters) filter->prepare(layout);
  for (const auto& name : job.zones->indices()) {
    if (layout.find_layer(name) < 0) {
      throw ConfigError(job.source + ": zones are made from '" + name + "', which no stage computes; add it to filters.indices 'indices'");
    }
  }
  job.prescription->validate(job.zones->zone_count());
  opened.fields = job.fields->read(layout.georef.crs_wkt);
  check_raster_crs(opened.fields, layout.georef, job.image->describe());
  opened.crops = job.fields->crops();
  opened.ab_lines = job.fields->ab_lines();
  opened.lonlat = std::make_unique<LonLatTransform>(layout.georef.crs_wkt);
  return opened;
}

FieldOutcome prescribe_one_field(const PrescribeJob& job, const OpenedPrescribeJob& opened, const Field& field,
                                 const ExecutionSettings& pass) {
  return prescribe_field(job, opened.layout, field, opened.crop_of(field.id), opened.ab_line_of(field.id), *opened.lonlat,
                         pass);
}

FieldOutcome failed_field_outcome(const Field& field, const std::string& crop, const std::string& message) {
  FieldOutcome failed;
  failed.field_id = field.id;
  failed.crop = crop;
  failed.status = "error";
  failed.area_ha = field.boundary.area_m2 / 10000.0;
  failed.message = message;
  return failed;
}

std::vector<FieldOutcome> run_prescribe_job(PrescribeJob& job) {
  configure_gdal(gdal_cache_for_budget(static_cast<long long>(job.execution.memory_mb) << 20));
  const OpenedPrescribeJob opened = open_prescribe_job(job);
  make_directories(job.output_dir);
  const FieldSet& fields = opened.fields;

  std::vector<FieldOutcome> outcomes;
  ProgressBar progress("fields", static_cast<long long>(fields.fields.size()),
                       !job.execution.quiet && (job.execution.force_progress || stderr_is_terminal()));
  for (const Field& field : fields.fields) {
    try {
      outcomes.push_back(prescribe_one_field(job, opened, field, job.execution));
    } catch (const std::exception& e) {
      outcomes.push_back(failed_field_outcome(field, opened.crop_of(field.id), e.what()));
      log_warning("field " + field.id + ": " + e.what());
    }
    progress.advance(1);
  }
  progress.finish();
  write_summary_csv(outcomes, job.output_dir);
  return outcomes;
}

}  // namespace fieldrx
