// SPDX-License-Identifier: Apache-2.0
// `fieldrx prescribe`: the prescription workflow from flags (the same stages a config lists).
// The imagery is --image (readers.orthomosaic) or --flight, a raw camera flight folder
// (readers.captures with --panel, --panel-albedo, --panel-corners, --sun-sensor), which the
// prescription workflow calibrates and mosaics once (pipeline/workflows/calibrate_workflow.hpp).
#include <iostream>
#include <memory>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "pipeline/workflows/prescribe_workflow.hpp"

namespace fieldrx {

int report_prescribe_outcomes(const std::vector<FieldOutcome>& outcomes, const std::string& output_dir) {
  int failed = 0;
  for (const auto& o : outcomes) {
    if (o.status == "error") {
      ++failed;
      std::cout << o.field_id << "\terror\t" << o.message << "\n";
    } else {
      std::cout << o.field_id << "\t" << o.status << "\t" << o.area_ha << " ha\t" << o.zones << " zones\t"
                << o.total_product << " " << o.product_unit << "\t" << o.tank_loads << " tank loads\t" << o.folder << "\n";
    }
  }
  std::cout << output_dir << "/summary.csv\n";
  log_info(std::to_string(outcomes.size() - failed) + " of " + std::to_string(outcomes.size()) + " fields prescribed" +
           (failed ? "; " + std::to_string(failed) + " failed (see summary.csv)" : ""));
  // 5: the job ran, but some fields failed; their errors are in summary.csv.
  return failed == 0 ? 0 : 5;
}

int run_prescribe_config(const PipelineConfig& config, bool quiet) {
  set_log_quiet(quiet);
  PrescribeJob job = build_prescribe_job(config, stage_registry());
  job.execution.quiet = quiet;
  return report_prescribe_outcomes(run_prescribe_job(job), job.output_dir);
}

Subcommand add_prescribe_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> images;
    std::string flight, panel, panel_albedo, panel_corners;
    bool sun_sensor = false;
    std::string bands, nodata, scale, fields, field_id, ids, crop_attribute, index = "ndvi", method = "jenks";
    std::string rates, rate_mode = "absolute", base_rate, rate_function, unit = "L/ha", machine, product, exclusions;
    std::string edge_cells = "centre", output, customer, farm, ab_line = "north", ab_line_attribute;
    int zones = 3, isoxml_version = 4, grid_type = 2, smoothing = 3;
    double cell_size = 10, cell_width = 0, delivery_cell_size = 0, min_zone_area = 500, buffer = 0, exclusion_buffer = 0, label_min = 0, label_max = 0;
    bool no_report = false;
    ExecutionSettings execution;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("prescribe", "fields + image -> zones -> variable-rate prescriptions (ISOXML, Shapefile, GeoTIFF, report)");
  c->add_option("--image", args->images, "orthomosaic, per-band GeoTIFFs, or a ready index map");
  // Or a raw camera flight: readers.captures, calibrated and mosaicked once into OUTDIR/mosaic.tif
  // by the flight calibration workflow (as configs/flight_to_prescription.yaml does).
  c->add_option("--flight", args->flight,
                "instead of --image: a raw multispectral flight folder (MicaSense, DJI P4M/M3M, Sequoia), "
                "calibrated and mosaicked once into OUTDIR/mosaic.tif (docs/captures.md)");
  c->add_option("--panel", args->panel, "with --flight: folder holding a capture of a calibrated reflectance panel");
  c->add_option("--panel-albedo", args->panel_albedo,
                "with --flight: panel reflectance, one value or one per band in camera band order");
  c->add_option("--panel-corners", args->panel_corners,
                "with --flight --panel: the panel's corners x1,y1,...,x4,y4 (px) when it has no MicaSense QR code");
  c->add_flag("--sun-sensor", args->sun_sensor,
              "with --flight: irradiance from the sun sensor per capture (with a panel: scaled by the panel)");
  c->add_option("--bands", args->bands, "band roles in order, e.g. blue,green,red,red_edge,nir (or ndvi for an NDVI map)");
  c->add_option("--nodata", args->nodata, "image nodata value (default: the file's)");
  c->add_option("--scale", args->scale, "reflectance per digital number, e.g. 1/65535");
  c->add_option("--fields", args->fields, "field boundaries: GeoJSON, Shapefile, KML/KMZ, GeoPackage")->required();
  c->add_option("--field-id", args->field_id, "attribute holding the field id")->required();
  c->add_option("--ids", args->ids, "only these field ids, comma-separated");
  c->add_option("--crop-attribute", args->crop_attribute, "attribute holding the crop (for reports)");
  c->add_option("--index", args->index, "zoning index; several (comma-separated) with --method kmeans");
  c->add_option("--zones", args->zones, "number of zones, 2-7 (default 3)");
  c->add_option("--method", args->method, "quantile, equal_interval, jenks (default) or kmeans");
  c->add_option("--rates", args->rates, "rate per zone, zone 1 (lowest index) first, e.g. 12,15,18");
  c->add_option("--rate-mode", args->rate_mode, "absolute (default) or percent_of_base");
  c->add_option("--base-rate", args->base_rate, "base rate for --rate-mode percent_of_base");
  c->add_option("--rate-function", args->rate_function, "instead of --rates: index,rate pairs, e.g. 0.3,20,0.8,10");
  c->add_option("--unit", args->unit, "L/ha (default), kg/ha, L/mu or kg/mu");
  c->add_option("--label-min", args->label_min, "product label's minimum rate, in --unit");
  c->add_option("--label-max", args->label_max, "product label's maximum rate, in --unit");
  c->add_option("--product", args->product, "product name for ISOXML and reports");
  c->add_option("--cell-size", args->cell_size, "prescription grid cell edge in m (default 10; along the A-B line)");
  c->add_option("--cell-width", args->cell_width, "cell edge across the A-B line in m, e.g. the swath (default: --cell-size)");
  c->add_option("--ab-line", args->ab_line,
                "grid along an A-B line: auto (the field's longest edge), a bearing in degrees (e.g. 35.5), "
                "or lonA,latA,lonB,latB; default north (north-aligned grid)");
  c->add_option("--ab-line-attribute", args->ab_line_attribute,
                "boundary attribute holding each field's own A-B line (same forms; empty values use --ab-line)");
  c->add_option("--delivery-cell-size", args->delivery_cell_size,
                "with --ab-line: north-aligned cell edge in m of the ISOXML grid and drone raster (default: half the A-B cell)");
  c->add_option("--min-zone-area", args->min_zone_area, "minimum zone patch area in m2 (default 500)");
  c->add_option("--smoothing", args->smoothing, "majority filter window 0, 3 (default) or 5");
  c->add_option("--edge-cells", args->edge_cells, "grid cells treated at the boundary: centre (default) or touching");
  c->add_option("--buffer", args->buffer, "inner edge buffer in m (no-spray strip)");
  c->add_option("--exclusions", args->exclusions, "areas to leave out (water, buildings, poles)");
  c->add_option("--exclusion-buffer", args->exclusion_buffer, "buffer around exclusions in m");
  c->add_option("--machine", args->machine, "machine profile name in configs/machines, or a YAML path");
  c->add_option("--isoxml-version", args->isoxml_version, "ISOXML version 4 (v4.3, default) or 3 (v3.3)");
  c->add_option("--grid-type", args->grid_type, "ISOXML grid type 2 (default) or 1");
  c->add_option("--customer", args->customer, "ISOXML customer");
  c->add_option("--farm", args->farm, "ISOXML farm");
  c->add_flag("--no-report", args->no_report, "skip the HTML report and maps");
  c->add_option("-o,--output", args->output, "output folder: one folder per field + summary.csv")->required();
  add_execution_flags(*c, args->execution);
  return {c, [args, c] {
            auto stage = [](const char* type) { return StageConfig{type, YAML::Node(YAML::NodeType::Map)}; };
            PipelineConfig config;
            config.source = "fieldrx prescribe";
            config.output = args->output;
            if (args->images.empty() == args->flight.empty()) {
              throw ConfigError(args->images.empty()
                                    ? "fieldrx prescribe: no imagery; give --image (an orthomosaic) or --flight (a raw camera flight folder)"
                                    : "fieldrx prescribe: both --image and --flight; give one");
            }
            StageConfig image = stage(args->flight.empty() ? "readers.orthomosaic" : "readers.captures");
            if (args->flight.empty()) {
              for (const char* flag : {"--panel", "--panel-albedo", "--panel-corners", "--sun-sensor"}) {
                if (c->count(flag)) throw ConfigError(std::string("fieldrx prescribe: ") + flag + " applies to --flight, not to --image");
              }
              for (const auto& path : args->images) image.options["files"].push_back(path);
              if (!args->bands.empty()) image.options["bands"] = args->bands;
              if (!args->nodata.empty()) image.options["nodata"] = args->nodata;
              if (!args->scale.empty()) image.options["scale"] = args->scale;
            } else {
              for (const char* flag : {"--bands", "--nodata", "--scale"}) {
                if (c->count(flag)) throw ConfigError(std::string("fieldrx prescribe: ") + flag + " applies to --image; a --flight mosaic names its bands itself");
              }
              image.options["flight_dir"] = args->flight;
              if (!args->panel.empty()) image.options["panel_dir"] = args->panel;
              if (!args->panel_albedo.empty()) image.options["panel_albedo"] = args->panel_albedo;
              if (!args->panel_corners.empty()) image.options["panel_corners_px"] = args->panel_corners;
              image.options["sun_sensor"] = args->sun_sensor;
            }
            StageConfig fields = stage("readers.fields");
            fields.options["file"] = args->fields;
            fields.options["field_id"] = args->field_id;
            if (!args->ids.empty()) fields.options["ids"] = args->ids;
            if (!args->crop_attribute.empty()) fields.options["crop_attribute"] = args->crop_attribute;
            if (!args->ab_line_attribute.empty()) fields.options["ab_line_attribute"] = args->ab_line_attribute;
            fields.options["buffer_m"] = args->buffer;
            if (!args->exclusions.empty()) fields.options["exclusions"] = args->exclusions;
            fields.options["exclusion_buffer_m"] = args->exclusion_buffer;
            StageConfig indices = stage("filters.indices");
            // A ready index map (--bands ndvi) passes through; other indices are computed.
            indices.options["indices"] = args->index;
            StageConfig zones = stage("aggregators.zones");
            zones.options["indices"] = args->index;
            zones.options["zones"] = args->zones;
            zones.options["method"] = args->method;
            zones.options["cell_size_m"] = args->cell_size;
            zones.options["cell_width_m"] = args->cell_width;
            zones.options["ab_line"] = args->ab_line;
            zones.options["delivery_cell_size_m"] = args->delivery_cell_size;
            zones.options["smoothing"] = args->smoothing;
            zones.options["min_zone_area_m2"] = args->min_zone_area;
            zones.options["edge_cells"] = args->edge_cells;
            StageConfig prescription = stage("aggregators.prescription");
            if (!args->rates.empty()) prescription.options["rates"] = args->rates;
            prescription.options["rate_mode"] = args->rate_mode;
            if (!args->base_rate.empty()) prescription.options["base_rate"] = args->base_rate;
            if (!args->rate_function.empty()) prescription.options["rate_function"] = args->rate_function;
            prescription.options["unit"] = args->unit;
            prescription.options["label_min_rate"] = args->label_min;
            prescription.options["label_max_rate"] = args->label_max;
            if (!args->machine.empty()) prescription.options["machine"] = args->machine;
            if (!args->product.empty()) prescription.options["product"] = args->product;
            StageConfig isoxml = stage("writers.isoxml");
            isoxml.options["version"] = args->isoxml_version;
            isoxml.options["grid_type"] = args->grid_type;
            if (!args->customer.empty()) isoxml.options["customer"] = args->customer;
            if (!args->farm.empty()) isoxml.options["farm"] = args->farm;
            config.stages = {image, fields, indices, zones, prescription, isoxml, stage("writers.zones"), stage("writers.rx_raster")};
            if (!args->no_report) config.stages.push_back(stage("writers.report"));
            config.execution = YAML::Node(YAML::NodeType::Map);
            if (c->count("--threads")) config.execution["threads"] = args->execution.threads;
            if (c->count("--tile")) config.execution["tile_px"] = args->execution.tile_px;
            if (c->count("--memory-mb")) config.execution["memory_mb"] = args->execution.memory_mb;
            return run_prescribe_config(config, args->execution.quiet);
          }};
}

}  // namespace fieldrx
