// SPDX-License-Identifier: Apache-2.0
#pragma once
// The flight calibration workflow: a raw multispectral flight folder -> aligned reflectance per
// capture -> an optional quick mosaic. One implementation for `fieldrx calibrate`, for
// readers.captures in `fieldrx run` configs and for `flight_dir:` jobs of `fieldrx batch`:
//
//   scan the folder, group captures (readers: capture_metadata)
//   -> the panel: --panel/panel_dir, else panel captures among the first/last five
//   -> irradiance per band: panel, sun sensor, or both (E_panel * DLS_capture / DLS_panel)
//   -> captures in parallel (one TBB arena): calibrate_capture (filters: radiometric_*,
//      band_alignment) -> <capture>_reflectance.tif (+ lwir_celsius band)   [parallel]
//   -> captures.csv -> build_quick_mosaic (writers: capture_mosaic)         [serial]
//
// Up to date: ensure_flight_mosaic() records beside the mosaic (mosaic.json) the hash of the
// band files (relative path, size, mtime), the settings and the fieldrx version, and skips the
// whole calibration when they and the mosaic file itself are unchanged.
#include <string>
#include <vector>

#include "pipeline/stage.hpp"
#include "stages/readers/captures_reader.hpp"

namespace fieldrx {

struct CalibrationRun {
  std::vector<std::string> outputs;  // captures.csv, then mosaic.tif when built
  std::size_t captures = 0, failed = 0;
  double seconds = 0;
};

// Calibrates every capture of settings.flight_dir into `capture_dir` (<capture>_reflectance.tif,
// captures.csv) and, when `mosaic_path` is not empty, mosaics them there. A capture that fails is
// a warning and a captures.csv row; throws when no capture could be calibrated, or for problems of
// the whole flight (no captures, no irradiance source, a bad panel).
CalibrationRun calibrate_flight(const FlightSettings& settings, const std::string& capture_dir,
                                const std::string& mosaic_path, const ExecutionSettings& execution);

// Hash of everything a flight's mosaic depends on (see above). Throws ConfigError when the flight
// or panel folder is not a folder.
std::string flight_inputs_hash(const FlightSettings& settings);

struct FlightMosaic {
  std::string path;      // <folder>/mosaic.tif
  bool rebuilt = false;  // false: it was up to date
};
// <folder>/mosaic.tif of the flight, calibrated (per-capture files in <folder>/flight/) only when
// <folder>/mosaic.json does not record the same inputs hash, mosaic size and mtime.
bool flight_mosaic_up_to_date(const FlightSettings& settings, const std::string& folder);
FlightMosaic ensure_flight_mosaic(const FlightSettings& settings, const std::string& folder,
                                  const ExecutionSettings& execution);

// The mosaic folder of a readers.captures stage: its `workspace`, else `output_dir`. Throws
// ConfigError when both are empty.
std::string flight_mosaic_folder(const CapturesReader& reader, const std::string& output_dir);

// Readies a job's image reader before open(): a readers.captures stage gets its flight's mosaic
// (built when not up to date); any other reader is left as it is.
void prepare_image_reader(Reader& reader, const std::string& output_dir,
                          const ExecutionSettings& execution);

}  // namespace fieldrx
