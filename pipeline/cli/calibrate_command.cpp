// SPDX-License-Identifier: Apache-2.0
// `fieldrx calibrate FLIGHT_DIR -o OUTDIR`: raw multispectral captures -> aligned reflectance
// per capture (+ captures.csv, + an optional quick mosaic). Irradiance per band comes from a
// reflectance panel (--panel CAPTURE_DIR, or panel captures found in the flight folder), from
// the sun sensor (--sun-sensor), or both (the panel fixes the sun sensor's scale:
// E = E_panel * DLS_capture / DLS_panel; Parrot Sequoia's sunshine sensor needs that panel).
// Captures run in parallel (TBB), each band aligned to the reference band; a band that does not
// align is reported, never silently warped. The work is the flight calibration workflow
// (pipeline/workflows/calibrate_workflow.hpp), shared with readers.captures and `fieldrx batch`;
// this file holds the flags.
#include <iostream>
#include <limits>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "pipeline/options.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
#include "stages/readers/xmp_metadata.hpp"

namespace fieldrx {
namespace {

struct CalibrateArgs {
  FlightSettings flight;
  std::string albedo_text, corners_text, output;
  bool no_align = false, mosaic = false;
  ExecutionSettings execution;
};

std::vector<double> parse_albedo(const std::string& text) {
  std::vector<double> values;
  for (const auto& item : split_list_text(text)) {
    double v = 0;
    try {
      v = parse_number(item);
    } catch (const std::exception&) {
      throw ConfigError("--panel-albedo '" + text + "': '" + item +
                        "' is not a number; give e.g. 0.67 or 0.67,0.69,0.68,0.61,0.67");
    }
    if (!(v > 0 && v < 1)) {
      throw ConfigError("--panel-albedo: " + item +
                        " is outside (0, 1); a panel albedo is a reflectance such as 0.5");
    }
    values.push_back(v);
  }
  return values;
}

std::vector<double> parse_corners(const std::string& text) {
  std::vector<double> values;
  for (const auto& item : split_list_text(text)) {
    try {
      values.push_back(parse_number(item));
    } catch (const std::exception&) {
      throw ConfigError("--panel-corners '" + text + "': '" + item +
                        "' is not a number; give x1,y1,x2,y2,x3,y3,x4,y4 in px, e.g. "
                        "600,420,700,420,700,520,600,520");
    }
  }
  return values;
}

int run_calibrate(CalibrateArgs args) {
  set_log_quiet(args.execution.quiet);
  if (!args.albedo_text.empty()) args.flight.panel_albedo = parse_albedo(args.albedo_text);
  if (!args.corners_text.empty()) args.flight.panel_corners_px = parse_corners(args.corners_text);
  args.flight.align = !args.no_align;
  const CalibrationRun run = calibrate_flight(
      args.flight, args.output, args.mosaic ? args.output + "/mosaic.tif" : "", args.execution);
  for (const auto& path : run.outputs) std::cout << path << "\n";
  return 0;
}

}  // namespace

Subcommand add_calibrate_command(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* command = app.add_subcommand("calibrate",
                                         "raw multispectral captures -> aligned reflectance per "
                                         "capture: OUTDIR/<capture>_reflectance.tif");
  command
      ->add_option("flight", args->flight.flight_dir,
                   "flight folder as the camera wrote it (MicaSense, DJI P4M/M3M, Sequoia)")
      ->required();
  command->add_option("--panel", args->flight.panel_dir,
                      "folder holding a capture of a calibrated reflectance panel");
  command->add_option("--panel-albedo", args->albedo_text,
                      "panel reflectance: one value or one per band in camera band order, e.g. "
                      "0.67,0.69,0.68,0.61,0.67");
  command->add_option("--panel-corners", args->corners_text,
                      "the panel's corners in the --panel capture, x1,y1,...,x4,y4 (px of the "
                      "undistorted bands) for a panel without a MicaSense QR code (Sequoia)");
  command->add_flag(
      "--sun-sensor", args->flight.sun_sensor,
      "irradiance from the sun sensor per capture (with a panel: scaled by the panel)");
  command->add_flag("--no-align", args->no_align, "keep each band in its own (undistorted) frame");
  command->add_flag(
      "--align-full-res", args->flight.align_full_res,
      "refine the alignment at full resolution (about 3x slower; a few tenths of a px better)");
  command
      ->add_option("--max-residual-px", args->flight.max_residual_px,
                   "largest alignment residual accepted as converged, px (default 1)")
      ->check(CLI::Range(0.05, 20.0));
  command->add_flag("--mosaic", args->mosaic,
                    "also build a quick direct-georeferenced mosaic: OUTDIR/mosaic.tif");
  command
      ->add_option("--mosaic-gsd-m", args->flight.mosaic_gsd_m,
                   "mosaic cell size in m (default: the median capture GSD)")
      ->check(CLI::Range(0.0, 100.0));
  command->add_option(
      "--ground-elevation-m", args->flight.ground_elevation_m,
      "ground height above the GPS datum for the mosaic, m (default: the panel capture's, else the "
      "lowest capture's)");
  command->add_option("-o,--output", args->output, "output folder")->required();
  command
      ->add_option("--threads", args->execution.threads,
                   "captures processed at once (default: all cores)")
      ->check(CLI::Range(0, 1024));
  command->add_flag("--quiet,-q", args->execution.quiet, "no progress bar or info lines");
  return {command, [args] { return run_calibrate(*args); }};
}

}  // namespace fieldrx
