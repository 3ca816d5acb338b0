// SPDX-License-Identifier: Apache-2.0
#pragma once
// readers.captures — a raw multispectral flight folder as band layers named by role.
//   Input: the folder a MicaSense, DJI P4M/M3M or Parrot Sequoia camera wrote (raw band files,
//   stages/readers/capture_metadata.hpp), optionally a panel capture folder.
//   What runs: the flight is calibrated to reflectance, aligned and mosaicked ONCE into
//   <workspace>/mosaic.tif (a quick direct-georeferenced mosaic, stages/writers/capture_mosaic.hpp)
//   by the flight calibration workflow (pipeline/workflows/calibrate_workflow.hpp), which also
//   skips that work when <workspace>/mosaic.json records the same inputs. The mosaic is then
//   served exactly as readers.orthomosaic serves a file: band roles from its band descriptions,
//   NaN nodata, one GDAL dataset per thread.
//   Output layers: one Float32 reflectance layer per band role (blue, green, red, red_edge, nir;
//   a RedEdge-MX Dual's second set as blue_444 ... red_edge_740). An Altum's lwir_celsius band is
//   a temperature, not a reflectance, and is not read.
//   Options (the `fieldrx calibrate` flags): flight_dir, panel_dir, panel_albedo,
//   panel_corners_px, sun_sensor,
//   align, align_full_res, max_residual_px, mosaic_gsd_m, ground_elevation_m, workspace.
// The stage cannot build the mosaic itself (the workflow sits above the stage library); the
// pipeline hands it over with use_mosaic() before open(). Radiometry and alignment sources are in
// docs/captures.md.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/stage.hpp"

namespace fieldrx {

class OrthomosaicReader;

// What a flight calibration depends on: the `fieldrx calibrate` flags and readers.captures options.
struct FlightSettings {
  std::string flight_dir;
  std::string panel_dir;                 // a capture folder with a reflectance panel; empty: search
                                         // the flight's first and last captures
  std::vector<double> panel_albedo;      // one value, or one per band; empty: metadata or serial
  std::vector<double> panel_corners_px;  // x1,y1..x4,y4 in the panel capture's undistorted
                                         // frames; empty: the camera's ReflectArea or a QR code
  bool sun_sensor = false;
  bool align = true;
  bool align_full_res = false;
  double max_residual_px = 1.0;
  double mosaic_gsd_m = 0;  // 0: the median capture GSD
  double ground_elevation_m = std::numeric_limits<double>::quiet_NaN();  // NaN: panel / lowest
};

class CapturesReader : public Reader {
 public:
  CapturesReader();
  ~CapturesReader() override;
  std::string describe() const override;

  const FlightSettings& flight() const { return flight_; }
  // The folder for mosaic.tif; empty: the job's output folder.
  const std::string& workspace() const { return workspace_; }
  // The flight's mosaic, built by the pipeline before open().
  void use_mosaic(const std::string& mosaic_path);

 private:
  void declare_options(OptionSet& options) override;
  RasterLayout do_open() override;
  void do_read(Tile& tile) const override;

  FlightSettings flight_;
  std::string workspace_;
  std::string mosaic_path_;
  std::unique_ptr<OrthomosaicReader> mosaic_;
};

}  // namespace fieldrx
