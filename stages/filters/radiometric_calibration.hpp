// SPDX-License-Identifier: Apache-2.0
#pragma once
// filters (captures): binds one band's metadata to the radiometric kernels.
//   band_radiance: MicaSense radiance W/m^2/sr/nm; Altum LWIR degC; DJI relative signal X;
//     Sequoia sensor-model irradiance units. CV_32F, same size as the raw frame.
//   Irradiance for reflectance (rho = pi * L / E), per band:
//     - a panel capture: E = pi * mean(undistorted L over the panel) / albedo, panel area from
//       given corners, the camera's ReflectArea, or QR detection; albedo given, from the
//       metadata (auto-calibration) or from an RP04+ serial;
//     - the sun sensor: MicaSense DLS2 HorizontalIrradiance (when its firmware computes it
//       right; otherwise direct*sin(elevation)+scattered), DLS1 with the angle correction of
//       radiometric_sun.hpp; DJI: E = pi * Irradiance / SensorGainAdjustment, which makes
//       rho proportional to X * SensorGainAdjustment / Irradiance (DJI's guide; the scale is
//       relative, exact only for normalised-difference indices).
//   Errors are StageErrors that name the file and say which option would fix them.
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stages/filters/radiometric_kernels.hpp"
#include "stages/filters/radiometric_panel.hpp"
#include "stages/readers/capture_metadata.hpp"

namespace fieldrx {

cv::Mat band_radiance(const BandMetadata& band, const cv::Mat& raw);
cv::Matx33d band_camera_matrix(const BandMetadata& band);
UndistortMaps band_undistort_maps(const BandMetadata& band);

// Irradiance from the sun sensor (W/m^2/nm; DJI: relative), or a StageError when the band
// has no usable reading.
double sun_sensor_irradiance(const BandMetadata& band);
// True when sun_sensor_irradiance gives an absolute irradiance (MicaSense DLS).
bool sun_sensor_is_absolute(const BandMetadata& band);

struct PanelMeasurement {
  std::vector<cv::Point> corners;  // panel area in the undistorted frame
  std::string source;              // "given", "metadata", "detected"
  RegionStats raw, radiance;       // raw DN (undistorted) and radiance over the area
  double albedo = 0;
  std::string albedo_source;  // "given", "metadata", "serial"
  double irradiance = 0;      // pi * mean radiance / albedo
};

// Measures the panel in one band of a panel capture. `corners` (undistorted px) and `albedo`
// override what the metadata or detection gives.
PanelMeasurement measure_panel(const BandMetadata& band, const cv::Mat& raw,
                               const std::optional<std::vector<cv::Point>>& corners = std::nullopt,
                               std::optional<double> albedo = std::nullopt);

}  // namespace fieldrx
