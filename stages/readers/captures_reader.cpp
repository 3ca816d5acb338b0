// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/captures_reader.hpp"

#include <yaml-cpp/yaml.h>

#include "pipeline/errors.hpp"
#include "stages/readers/orthomosaic_reader.hpp"

namespace fieldrx {

CapturesReader::CapturesReader()
    : Reader({"readers.captures",
              "raw multispectral flight folder -> calibrated, aligned quick mosaic (built once, "
              "OUTPUT/mosaic.tif) -> reflectance band layers by role",
              "docs/captures.md"}) {}

CapturesReader::~CapturesReader() = default;

void CapturesReader::declare_options(OptionSet& options) {
  options
      .add("flight_dir", flight_.flight_dir,
           "flight folder as the camera wrote it (MicaSense, DJI P4M/M3M, Sequoia)", "")
      .required();
  options.add("panel_dir", flight_.panel_dir,
              "folder holding a capture of a calibrated reflectance panel (default: panel "
              "captures at the start or end of the flight)",
              "");
  options
      .add("panel_albedo", flight_.panel_albedo,
           "panel reflectance: one value or one per band in camera band order (default: the "
           "metadata or the panel serial)",
           NumberList{})
      .range(0.001, 0.999);
  options
      .add("panel_corners_px", flight_.panel_corners_px,
           "the panel's four corners x1,y1,...,x4,y4 in the panel capture's undistorted frames "
           "(a panel without a MicaSense QR code, e.g. Parrot Sequoia's; needs panel_dir)",
           NumberList{})
      .unit("px")
      .range(0.0, 100000.0);
  options.add("sun_sensor", flight_.sun_sensor,
              "irradiance from the sun sensor per capture (with a panel: scaled by the panel)",
              false);
  options.add("align", flight_.align,
              "register every band to the reference band (false: factory rig geometry only)", true);
  options.add("align_full_res", flight_.align_full_res,
              "refine the alignment at full resolution (about 3x slower)", false);
  options
      .add("max_residual_px", flight_.max_residual_px,
           "largest alignment residual accepted as converged", 1.0)
      .unit("px")
      .range(0.05, 20.0);
  options
      .add("mosaic_gsd_m", flight_.mosaic_gsd_m,
           "mosaic cell size (0: the median capture ground sample distance)", 0.0)
      .unit("m")
      .range(0.0, 100.0);
  options
      .add("ground_elevation_m", flight_.ground_elevation_m,
           "ground height above the GPS datum (default: the panel capture's, else the lowest "
           "capture's)",
           std::numeric_limits<double>::quiet_NaN())
      .unit("m")
      .range(-500.0, 9000.0);
  options.add("workspace", workspace_,
              "folder for mosaic.tif, mosaic.json and flight/ (per-capture reflectance); default: "
              "the config's output folder",
              "");
}

void CapturesReader::use_mosaic(const std::string& mosaic_path) {
  mosaic_path_ = mosaic_path;
}

RasterLayout CapturesReader::do_open() {
  if (mosaic_path_.empty()) {
    throw StageError(flight_.flight_dir +
                     ": the flight has not been calibrated into a mosaic; readers.captures runs "
                     "in `fieldrx run` configs and `fieldrx batch` jobs, which build "
                     "<workspace>/mosaic.tif before reading it");
  }
  mosaic_ = std::make_unique<OrthomosaicReader>();
  mosaic_->declare();
  YAML::Node files(YAML::NodeType::Sequence);
  files.push_back(mosaic_path_);
  mosaic_->options().set("files", files);
  return mosaic_->open();
}

void CapturesReader::do_read(Tile& tile) const {
  mosaic_->read(tile);
}

std::string CapturesReader::describe() const {
  return "flight " + flight_.flight_dir + (mosaic_ ? " -> " + mosaic_->describe() : "");
}

}  // namespace fieldrx
