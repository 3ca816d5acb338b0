// SPDX-License-Identifier: Apache-2.0
#include "pipeline/workflows/calibrate_workflow.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/workflows/stable_hash.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/filters/radiometric_capture.hpp"
#include "stages/readers/capture_reader.hpp"
#include "stages/writers/capture_mosaic.hpp"
#include "stages/writers/capture_mosaic_writer.hpp"

namespace fieldrx {
namespace fs = std::filesystem;
namespace {

// The unit of a band's irradiance (and of captures.csv's irradiance columns): the radiance unit
// of band_radiance times sr.
std::string irradiance_unit(const BandMetadata& b) {
  switch (b.family) {
    case CameraFamily::micasense:
      return "W/m2/nm";
    case CameraFamily::dji_p4m:
    case CameraFamily::dji_m3m:
      return "DJI relative";
    case CameraFamily::sequoia:
      return "Sequoia relative";
  }
  return "";
}

// The panel area given as x1,y1,...,x4,y4 (px of each band's undistorted frame), if any.
std::optional<std::vector<cv::Point>> given_panel_corners(const FlightSettings& s) {
  if (s.panel_corners_px.empty()) return std::nullopt;
  if (s.panel_corners_px.size() != 8) {
    throw ConfigError("panel corners (--panel-corners / panel_corners_px): " +
                      std::to_string(s.panel_corners_px.size()) +
                      " numbers; give the four corners as x1,y1,x2,y2,x3,y3,x4,y4 (px)");
  }
  std::vector<cv::Point> corners;
  for (std::size_t i = 0; i < 8; i += 2) {
    corners.emplace_back(static_cast<int>(std::lround(s.panel_corners_px[i])),
                         static_cast<int>(std::lround(s.panel_corners_px[i + 1])));
  }
  return corners;
}

// Panel irradiance per band of `panel`, with the albedo given, from the metadata, or the serial.
std::vector<PanelMeasurement> measure_panel_capture(
    const Capture& panel, const std::vector<double>& albedo,
    const std::optional<std::vector<cv::Point>>& corners) {
  if (!albedo.empty() && albedo.size() != 1 && albedo.size() != panel.bands.size()) {
    throw ConfigError(
        "panel albedo (--panel-albedo / panel_albedo): " + std::to_string(albedo.size()) +
        " values for a " + std::to_string(panel.bands.size()) +
        "-band camera; give one value or one per band (band order of the camera)");
  }
  const std::vector<cv::Mat> raw = read_capture_pixels(panel);
  std::vector<PanelMeasurement> out(panel.bands.size());
  for (std::size_t i = 0; i < panel.bands.size(); ++i) {
    const BandMetadata& b = panel.bands[i];
    if (b.is_thermal()) continue;
    std::optional<double> given;
    if (!albedo.empty()) given = albedo.size() == 1 ? albedo[0] : albedo[i];
    out[i] = measure_panel(b, raw[i], corners, given);
    if (!(out[i].albedo > 0)) {
      throw ConfigError(
          b.path +
          ": the panel's albedo is not in the metadata nor in its serial (RP02/RP03 panels); "
          "give it from the panel's calibration sheet, e.g. --panel-albedo "
          "0.67,0.69,0.68,0.61,0.67 (panel_albedo: [...] in a config)");
    }
    log_info("panel " + panel.id + " " + b.band_name + ": " +
             std::to_string(out[i].radiance.count) + " px (" + out[i].source + "), albedo " +
             std::to_string(out[i].albedo) + " (" + out[i].albedo_source + "), irradiance " +
             std::to_string(out[i].irradiance) + " " + irradiance_unit(b));
  }
  return out;
}

// A capture with a panel in view: an auto-calibration image, or a detectable panel QR code.
bool holds_panel(const Capture& capture) {
  if (capture.is_panel_capture()) return true;
  const std::size_t b = capture.bands.size() > 1 ? 1 : 0;
  const BandMetadata& band = capture.bands[b];
  if (band.is_thermal() || !band_has_lens_model(band)) return false;
  const cv::Mat raw = read_raw_band(band.path);
  return detect_micasense_panel(undistort(band_radiance(band, raw), band_undistort_maps(band)), raw)
      .found;
}

// The panel capture (given folder, or found among the first/last five captures, which are then
// no flight captures). Throws when neither a panel nor the sun sensor gives irradiance.
std::optional<Capture> find_panel(const FlightSettings& s, FlightScan& scan) {
  std::optional<Capture> panel;
  if (!s.panel_dir.empty()) {
    FlightScan panel_scan = scan_flight_folder(s.panel_dir);
    for (auto& capture : panel_scan.captures) {
      // Given corners mark the panel themselves: the folder's first capture is the panel's.
      if (!s.panel_corners_px.empty() || holds_panel(capture)) {
        panel = std::move(capture);
        break;
      }
    }
    if (!panel) {
      throw StageError(s.panel_dir +
                       ": no capture with a readable reflectance panel found (no MicaSense panel "
                       "QR code in view); give the panel's corners with --panel-corners "
                       "(panel_corners_px)");
    }
    return panel;
  }
  if (!s.panel_corners_px.empty()) {
    throw ConfigError(
        "--panel-corners (panel_corners_px) marks the panel in a panel capture; give "
        "that capture's folder with --panel CAPTURE_DIR (panel_dir)");
  }
  // A sun sensor that needs no panel: no search (unless an albedo asks for a panel).
  const bool sun_alone = std::all_of(
      scan.captures.begin(), scan.captures.end(),
      [](const Capture& c) { return sun_sensor_usable_without_panel(c.bands.front()); });
  if (s.sun_sensor && s.panel_albedo.empty() && sun_alone) return panel;
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
  if (!panel && !s.sun_sensor) {
    throw ConfigError(s.flight_dir +
                      ": no reflectance panel capture found; give one with --panel " +
                      (sun_alone ? "CAPTURE_DIR (panel_dir), or use the sun sensor with "
                                   "--sun-sensor (sun_sensor: true)"
                                 : "CAPTURE_DIR and, for a panel without a MicaSense QR code, "
                                   "its corners with --panel-corners (panel_corners_px)"));
  }
  return panel;
}

// The band files of a folder (the names the camera patterns match), sorted.
std::vector<fs::path> band_files(const std::string& folder, const char* what) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw ConfigError(folder + ": not a folder; give the " + what +
                      " folder that holds the camera's band files");
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(
           folder, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file() && family_from_file_name(it->path().filename().string())) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

void hash_folder(StableHash& hash, const std::string& folder, const char* what) {
  for (const auto& file : band_files(folder, what)) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    const auto mtime = fs::last_write_time(file, ec);
    hash.add(file.lexically_relative(folder).generic_string() + "|" +
             std::to_string(ec ? 0 : size) + "|" +
             std::to_string(ec ? 0 : mtime.time_since_epoch().count()));
  }
}

std::string number_text(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

// Size and mtime of a file, "" when it is missing: a replaced or half-copied mosaic differs.
std::string file_stamp(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return "";
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return "";
  return std::to_string(size) + "|" + std::to_string(mtime.time_since_epoch().count());
}

}  // namespace

CalibrationRun calibrate_flight(const FlightSettings& s, const std::string& capture_dir,
                                const std::string& mosaic_path,
                                const ExecutionSettings& execution) {
  const auto start = std::chrono::steady_clock::now();
  FlightScan scan = scan_flight_folder(s.flight_dir);
  for (const auto& problem : scan.problems) log_warning(problem);
  if (scan.captures.empty()) {
    throw StageError(
        s.flight_dir + ": no complete capture found (" + std::to_string(scan.files_seen) +
        " band files matched the camera naming patterns); give the folder the camera wrote");
  }
  const std::optional<Capture> panel = find_panel(s, scan);
  std::vector<PanelMeasurement> panel_bands;
  if (panel) panel_bands = measure_panel_capture(*panel, s.panel_albedo, given_panel_corners(s));
  if (scan.captures.empty())
    throw StageError(s.flight_dir + ": the folder holds only panel captures");

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
        if (s.sun_sensor) e[i] *= sun_sensor_irradiance(b) / sun_sensor_irradiance(panel->bands[i]);
      } else if (!sun_sensor_usable_without_panel(b)) {
        throw StageError(
            b.path + ": " + camera_family_name(b.family) +
            "'s sunshine sensor is uncalibrated: its readings are relative, with an arbitrary "
            "scale per band and per unit (Parrot), so alone they give no reflectance, not even "
            "NDVI; add a panel capture (--panel CAPTURE_DIR [--panel-corners ...], panel_dir) and "
            "the sunshine sensor follows the light from it: E = E_panel * S_capture / S_panel");
      } else {
        e[i] = sun_sensor_irradiance(b);
      }
    }
    return e;
  };
  const BandMetadata& first_band = scan.captures.front().bands.front();
  if (s.sun_sensor && panel && !sun_sensor_usable_without_panel(first_band)) {
    log_info(camera_family_name(first_band.family) +
             ": irradiance follows the light from the panel capture by the sunshine sensor's "
             "reading nearest each capture, E = E_panel * S_capture / S_panel; the readings are "
             "used as recorded (no correction for the sensor's tilt)");
  }
  if (s.sun_sensor && !panel && !sun_sensor_is_absolute(first_band) &&
      sun_sensor_usable_without_panel(first_band)) {
    log_warning(camera_family_name(scan.captures.front().family) +
                ": the sun sensor gives relative irradiance; reflectance is proportional (right "
                "for normalised indices such as NDVI, not absolute); add a panel for absolute "
                "reflectance");
  }

  make_directories(capture_dir);
  cv::setNumThreads(1);  // parallelism is across captures
  CaptureCalibrationOptions options;
  options.align = s.align;
  options.alignment.max_residual_px = s.max_residual_px;
  options.alignment.finest_level = s.align_full_res ? 0 : 1;
  std::vector<CaptureRow> rows(scan.captures.size());
  std::vector<MosaicFrame> frames(scan.captures.size());
  std::mutex log_mutex;
  std::atomic<std::size_t> failed{0};
  tbb::task_arena arena(resolve_threads(execution.threads));
  ProgressBar progress("calibrate", static_cast<long long>(scan.captures.size()),
                       !execution.quiet && (stderr_is_terminal() || execution.force_progress));
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
      row.irradiance_source = !panel ? "sun sensor" : s.sun_sensor ? "panel x sun sensor" : "panel";
      row.irradiance_unit = irradiance_unit(first);
      try {
        const std::vector<double> e = irradiance_of(capture);
        const CalibratedCapture out =
            calibrate_capture(capture, read_capture_pixels(capture), e, options);
        for (std::size_t k = 0; k < out.band_names.size(); ++k) {
          row.band_names.push_back(out.band_names[k]);
          row.irradiance.push_back(e[out.source_band[k]]);
        }
        row.residual_px = out.max_residual_px;
        row.converged = !s.align ? "skipped" : out.all_converged ? "yes" : "no";
        const std::string path = capture_dir + "/" + capture.id + "_reflectance.tif";
        std::vector<cv::Mat> bands = out.reflectance;
        std::vector<std::string> names = out.band_names;
        std::vector<std::string> units(names.size(), "");
        if (!out.lwir_celsius.empty()) {  // a temperature, named so that nobody reads it as rho
          bands.push_back(out.lwir_celsius);
          names.emplace_back(kLwirCelsiusBand);
          units.emplace_back("degC");
        }
        write_float_stack(path, bands, names,
                          {{"CAPTURE_ID", capture.id},
                           {"UTC", row.time},
                           {"CAMERA", capture.model},
                           {"ALIGNMENT_CONVERGED", row.converged}},
                          nullptr, "", false, units);
        if (!mosaic_path.empty()) frames[c] = mosaic_frame(capture, out, path);
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
  CalibrationRun run;
  run.captures = scan.captures.size();
  run.failed = failed;
  write_captures_csv(capture_dir + "/captures.csv", rows);
  run.outputs.push_back(capture_dir + "/captures.csv");
  if (run.failed == run.captures) {
    throw StageError(s.flight_dir + ": every capture failed (" + rows.front().capture + ": " +
                     rows.front().converged.substr(std::string("error: ").size()) +
                     "); see captures.csv and the warnings above");
  }
  if (!mosaic_path.empty()) {
    std::vector<MosaicFrame> usable;
    for (auto& f : frames) {
      if (!f.path.empty()) usable.push_back(std::move(f));
    }
    // Ground height: given, else the panel capture's (taken standing on the ground), else the
    // lowest frame of the flight.
    std::optional<double> ground;
    if (std::isfinite(s.ground_elevation_m))
      ground = s.ground_elevation_m;
    else if (panel && std::isfinite(panel->reference_band().altitude_m))
      ground = panel->reference_band().altitude_m;
    build_quick_mosaic(usable, mosaic_path, s.mosaic_gsd_m, ground);
    run.outputs.push_back(mosaic_path);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info(std::to_string(run.captures - run.failed) + " of " + std::to_string(run.captures) +
           " captures calibrated in " + std::to_string(run.seconds) + " s");
  return run;
}

std::string flight_inputs_hash(const FlightSettings& s) {
  StableHash hash;
  hash.add(std::string("fieldrx ") + FIELDRX_VERSION);
  hash_folder(hash, s.flight_dir, "flight");
  hash.add("panel");
  if (!s.panel_dir.empty()) hash_folder(hash, s.panel_dir, "panel capture");
  std::string albedo;
  for (double a : s.panel_albedo) albedo += number_text(a) + ",";
  hash.add(albedo);
  if (!s.panel_corners_px.empty()) {  // only when given: older records stay valid
    std::string corners = "corners";
    for (double v : s.panel_corners_px) {
      corners += ',';
      corners += number_text(v);
    }
    hash.add(corners);
  }
  hash.add(std::string(s.sun_sensor ? "sun" : "-") + (s.align ? "align" : "-") +
           (s.align_full_res ? "full" : "-"));
  for (double v : {s.max_residual_px, s.mosaic_gsd_m, s.ground_elevation_m})
    hash.add(number_text(v));
  return hash.hex();
}

bool flight_mosaic_up_to_date(const FlightSettings& settings, const std::string& folder) {
  const std::string mosaic = folder + "/mosaic.tif", record = folder + "/mosaic.json";
  if (!fs::exists(mosaic) || !fs::exists(record)) return false;
  std::ifstream in(record);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  return j.value("inputs_hash", "") == flight_inputs_hash(settings) &&
         j.value("mosaic_stamp", "") == file_stamp(mosaic);
}

FlightMosaic ensure_flight_mosaic(const FlightSettings& settings, const std::string& folder,
                                  const ExecutionSettings& execution) {
  FlightMosaic result;
  result.path = folder + "/mosaic.tif";
  const std::string record = folder + "/mosaic.json";
  if (flight_mosaic_up_to_date(settings, folder)) {
    log_info(result.path + " is up to date with " + settings.flight_dir + " (" + record +
             "); the flight is not calibrated again");
    return result;
  }
  const std::string hash = flight_inputs_hash(settings);
  make_directories(folder);
  // The record goes first: from here until the new one is written the mosaic is not up to date.
  std::error_code ignored;
  fs::remove(record, ignored);
  log_info("calibrating " + settings.flight_dir + " into " + result.path);
  const CalibrationRun run = calibrate_flight(settings, folder + "/flight", result.path, execution);
  nlohmann::json j{{"fieldrx_version", FIELDRX_VERSION},     {"flight_dir", settings.flight_dir},
                   {"panel_dir", settings.panel_dir},        {"captures", run.captures},
                   {"failed_captures", run.failed},          {"inputs_hash", hash},
                   {"mosaic_stamp", file_stamp(result.path)}};
  AtomicOutput out(record);
  {
    std::ofstream file(out.temp_path());
    file << j.dump(1) << "\n";
    if (!file.flush()) throw IoError(record + ": cannot write (disk full?)");
  }
  out.commit();
  result.rebuilt = true;
  return result;
}

std::string flight_mosaic_folder(const CapturesReader& reader, const std::string& output_dir) {
  if (!reader.workspace().empty()) return reader.workspace();
  if (output_dir.empty()) {
    throw ConfigError(
        "no folder for the flight's mosaic; set the stage's "
        "'workspace' option or the config's top-level 'output:' (or pass -o)");
  }
  return output_dir;
}

void prepare_image_reader(Reader& reader, const std::string& output_dir,
                          const ExecutionSettings& execution) {
  auto* captures = dynamic_cast<CapturesReader*>(&reader);
  if (captures == nullptr) return;
  try {
    captures->use_mosaic(ensure_flight_mosaic(captures->flight(),
                                              flight_mosaic_folder(*captures, output_dir),
                                              execution)
                             .path);
  } catch (...) {
    rethrow_with_context("stage 'readers.captures'");
  }
}

}  // namespace fieldrx
