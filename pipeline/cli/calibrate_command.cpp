// SPDX-License-Identifier: Apache-2.0
// `fieldrx calibrate FLIGHT_DIR -o OUTDIR`: raw multispectral captures -> aligned reflectance
// per capture (+ captures.csv, + an optional quick mosaic). Irradiance per band comes from a
// reflectance panel (--panel CAPTURE_DIR, or panel captures found in the flight folder), from
// the sun sensor (--sun-sensor), or both (the panel fixes the sun sensor's scale:
// E = E_panel * DLS_capture / DLS_panel). Captures run in parallel (TBB), each band aligned to
// the reference band; a band that does not align is reported, never silently warped.
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <mutex>
#include <opencv2/core.hpp>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/filters/radiometric_capture.hpp"
#include "stages/readers/capture_reader.hpp"
#include "stages/writers/capture_mosaic.hpp"
#include "stages/writers/capture_mosaic_writer.hpp"

namespace fieldrx {
namespace {

struct CalibrateArgs {
  std::string flight, panel, albedo_text, output;
  bool sun_sensor = false, no_align = false, mosaic = false, align_full_res = false;
  double max_residual_px = 1.0;
  double mosaic_gsd_m = 0;
  double ground_elevation_m = std::numeric_limits<double>::quiet_NaN();
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

// Panel irradiance per band of `panel`, with the albedo given, from the metadata, or the serial.
std::vector<PanelMeasurement> measure_panel_capture(const Capture& panel,
                                                    const std::vector<double>& albedo) {
  if (!albedo.empty() && albedo.size() != 1 && albedo.size() != panel.bands.size()) {
    throw ConfigError("--panel-albedo: " + std::to_string(albedo.size()) + " values for a " +
                      std::to_string(panel.bands.size()) +
                      "-band camera; give one value or one per band (band order " +
                      "of the camera)");
  }
  const std::vector<cv::Mat> raw = read_capture_pixels(panel);
  std::vector<PanelMeasurement> out(panel.bands.size());
  for (std::size_t i = 0; i < panel.bands.size(); ++i) {
    const BandMetadata& b = panel.bands[i];
    if (b.is_thermal()) continue;
    std::optional<double> given;
    if (!albedo.empty()) given = albedo.size() == 1 ? albedo[0] : albedo[i];
    out[i] = measure_panel(b, raw[i], std::nullopt, given);
    if (!(out[i].albedo > 0)) {
      throw ConfigError(
          b.path +
          ": the panel's albedo is not in the metadata nor in its serial (RP02/RP03 panels); "
          "give it with --panel-albedo, e.g. --panel-albedo 0.67,0.69,0.68,0.61,0.67 from the "
          "panel's calibration sheet");
    }
    log_info("panel " + panel.id + " " + b.band_name + ": " +
             std::to_string(out[i].radiance.count) + " px (" + out[i].source + "), albedo " +
             std::to_string(out[i].albedo) + " (" + out[i].albedo_source + "), irradiance " +
             std::to_string(out[i].irradiance) + " W/m2/nm");
  }
  return out;
}

// A capture with a panel in view: an auto-calibration image, or a detectable panel QR code.
bool holds_panel(const Capture& capture) {
  if (capture.is_panel_capture()) return true;
  if (capture.family != CameraFamily::micasense) return false;
  const std::size_t b = capture.bands.size() > 1 ? 1 : 0;
  const BandMetadata& band = capture.bands[b];
  if (band.is_thermal() || !band.intrinsics.valid()) return false;
  const cv::Mat raw = read_raw_band(band.path);
  return detect_micasense_panel(undistort(band_radiance(band, raw), band_undistort_maps(band)), raw)
      .found;
}

int run_calibrate(const CalibrateArgs& args) {
  set_log_quiet(args.execution.quiet);
  const auto start = std::chrono::steady_clock::now();
  FlightScan scan = scan_flight_folder(args.flight);
  for (const auto& problem : scan.problems) log_warning(problem);
  if (scan.captures.empty()) {
    throw StageError(
        args.flight + ": no complete capture found (" + std::to_string(scan.files_seen) +
        " band files matched the camera naming patterns); give the folder the camera wrote");
  }
  const std::vector<double> albedo =
      args.albedo_text.empty() ? std::vector<double>{} : parse_albedo(args.albedo_text);

  // The panel: a given capture folder, else panel captures at the start or end of the flight.
  std::optional<Capture> panel;
  if (!args.panel.empty()) {
    FlightScan panel_scan = scan_flight_folder(args.panel);
    for (auto& capture : panel_scan.captures) {
      if (holds_panel(capture)) {
        panel = std::move(capture);
        break;
      }
    }
    if (!panel)
      throw StageError(args.panel + ": no capture with a readable reflectance panel found");
  } else if (!args.sun_sensor || !albedo.empty()) {
    std::vector<Capture> flight;
    const std::size_t n = scan.captures.size();
    for (std::size_t i = 0; i < n; ++i) {
      const bool edge = i < 5 || i + 5 >= n;  // panels are shot before and after the flight
      if (!panel && edge && holds_panel(scan.captures[i])) {
        panel = scan.captures[i];
        log_info("panel capture " + panel->id +
                 " found in the flight folder; it is not written as a flight capture");
        continue;
      }
      if (edge && panel && holds_panel(scan.captures[i])) continue;
      flight.push_back(std::move(scan.captures[i]));
    }
    scan.captures = std::move(flight);
    if (!panel && !args.sun_sensor) {
      throw ConfigError(
          args.flight +
          ": no reflectance panel capture found; give one with --panel CAPTURE_DIR, or use "
          "the sun sensor with --sun-sensor");
    }
  }
  std::vector<PanelMeasurement> panel_bands;
  if (panel) panel_bands = measure_panel_capture(*panel, albedo);
  if (scan.captures.empty())
    throw StageError(args.flight + ": the folder holds only panel captures");

  // Irradiance of band i of a capture.
  auto irradiance_of = [&](const Capture& capture) {
    std::vector<double> e(capture.bands.size(), 0.0);
    for (std::size_t i = 0; i < capture.bands.size(); ++i) {
      const BandMetadata& b = capture.bands[i];
      if (b.is_thermal()) continue;
      if (panel) {
        if (panel->bands.size() != capture.bands.size() ||
            panel->bands[i].band_name != b.band_name) {
          throw StageError("capture " + capture.id +
                           ": its bands differ from the panel capture's (" + panel->model +
                           "); calibrate each camera with its own panel capture");
        }
        e[i] = panel_bands[i].irradiance;
        if (args.sun_sensor)
          e[i] *= sun_sensor_irradiance(b) / sun_sensor_irradiance(panel->bands[i]);
      } else {
        e[i] = sun_sensor_irradiance(b);
      }
    }
    return e;
  };
  if (args.sun_sensor && !panel && !sun_sensor_is_absolute(scan.captures.front().bands.front())) {
    log_warning(camera_family_name(scan.captures.front().family) +
                ": the sun sensor gives relative irradiance; reflectance is proportional (right "
                "for normalised "
                "indices such as NDVI, not absolute); add --panel for absolute reflectance");
  }

  make_directories(args.output);
  cv::setNumThreads(1);  // parallelism is across captures
  CaptureCalibrationOptions options;
  options.align = !args.no_align;
  options.alignment.max_residual_px = args.max_residual_px;
  options.alignment.finest_level = args.align_full_res ? 0 : 1;
  std::vector<CaptureRow> rows(scan.captures.size());
  std::vector<MosaicFrame> frames(scan.captures.size());
  std::mutex log_mutex;
  std::atomic<int> failed{0};
  const int threads =
      args.execution.threads > 0 ? args.execution.threads : tbb::this_task_arena::max_concurrency();
  tbb::task_arena arena(threads);
  ProgressBar progress(
      "calibrate", static_cast<long long>(scan.captures.size()),
      !args.execution.quiet && (stderr_is_terminal() || args.execution.force_progress));
  std::atomic<long long> done{0};
  arena.execute([&] {
    tbb::parallel_for(std::size_t(0), scan.captures.size(), [&](std::size_t c) {
      const Capture& capture = scan.captures[c];
      const BandMetadata& first = capture.reference_band();
      CaptureRow& row = rows[c];
      row.capture = capture.id;
      row.time = first.utc_us ? format_utc(*first.utc_us) : "";
      row.lat = first.latitude_deg;
      row.lon = first.longitude_deg;
      row.alt = first.altitude_m;
      try {
        const std::vector<double> e = irradiance_of(capture);
        const CalibratedCapture out =
            calibrate_capture(capture, read_capture_pixels(capture), e, options);
        for (std::size_t k = 0; k < out.band_names.size(); ++k) {
          row.band_names.push_back(out.band_names[k]);
          row.irradiance.push_back(e[out.source_band[k]]);
        }
        row.residual_px = out.max_residual_px;
        row.converged = args.no_align ? "skipped" : out.all_converged ? "yes" : "no";
        const std::string path = args.output + "/" + capture.id + "_reflectance.tif";
        write_float_stack(path, out.reflectance, out.band_names,
                          {{"CAPTURE_ID", capture.id},
                           {"UTC", row.time},
                           {"CAMERA", capture.model},
                           {"ALIGNMENT_CONVERGED", row.converged}});
        if (args.mosaic) frames[c] = mosaic_frame(capture, out, path);
        std::lock_guard<std::mutex> lock(log_mutex);
        for (const auto& w : out.warnings) log_warning(w);
      } catch (const Error& e) {
        ++failed;
        row.converged = std::string("error: ") + e.what();
        std::lock_guard<std::mutex> lock(log_mutex);
        log_warning("capture " + capture.id + ": " + e.what());
      }
      const long long now = ++done;
      std::lock_guard<std::mutex> lock(log_mutex);
      progress.advance(now);
    });
  });
  progress.finish();
  write_captures_csv(args.output + "/captures.csv", rows);
  std::cout << args.output + "/captures.csv\n";
  if (args.mosaic) {
    std::vector<MosaicFrame> usable;
    for (auto& f : frames) {
      if (!f.path.empty()) usable.push_back(std::move(f));
    }
    const std::string mosaic = args.output + "/mosaic.tif";
    // Ground height: given, else the panel capture's (taken standing on the ground), else the
    // lowest frame of the flight.
    std::optional<double> ground;
    if (std::isfinite(args.ground_elevation_m))
      ground = args.ground_elevation_m;
    else if (panel && std::isfinite(panel->reference_band().altitude_m))
      ground = panel->reference_band().altitude_m;
    build_quick_mosaic(usable, mosaic, args.mosaic_gsd_m, ground);
    std::cout << mosaic << "\n";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info(std::to_string(scan.captures.size() - failed) + " of " +
           std::to_string(scan.captures.size()) + " captures calibrated in " +
           std::to_string(seconds) + " s");
  if (failed == static_cast<int>(scan.captures.size())) {
    throw StageError(args.flight + ": every capture failed; see the warnings above");
  }
  return 0;
}

}  // namespace

Subcommand add_calibrate_command(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* command = app.add_subcommand("calibrate",
                                         "raw multispectral captures -> aligned reflectance per "
                                         "capture: OUTDIR/<capture>_reflectance.tif");
  command
      ->add_option("flight", args->flight,
                   "flight folder as the camera wrote it (MicaSense, DJI P4M/M3M, Sequoia)")
      ->required();
  command->add_option("--panel", args->panel,
                      "folder holding a capture of a calibrated reflectance panel");
  command->add_option("--panel-albedo", args->albedo_text,
                      "panel reflectance: one value or one per band in camera band order, e.g. "
                      "0.67,0.69,0.68,0.61,0.67");
  command->add_flag(
      "--sun-sensor", args->sun_sensor,
      "irradiance from the sun sensor per capture (with a panel: scaled by the panel)");
  command->add_flag("--no-align", args->no_align, "keep each band in its own (undistorted) frame");
  command->add_flag(
      "--align-full-res", args->align_full_res,
      "refine the alignment at full resolution (about 3x slower; a few tenths of a px better)");
  command
      ->add_option("--max-residual-px", args->max_residual_px,
                   "largest alignment residual accepted as converged, px (default 1)")
      ->check(CLI::Range(0.05, 20.0));
  command->add_flag("--mosaic", args->mosaic,
                    "also build a quick direct-georeferenced mosaic: OUTDIR/mosaic.tif");
  command
      ->add_option("--mosaic-gsd-m", args->mosaic_gsd_m,
                   "mosaic cell size in m (default: the median capture GSD)")
      ->check(CLI::Range(0.0, 100.0));
  command->add_option(
      "--ground-elevation-m", args->ground_elevation_m,
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
