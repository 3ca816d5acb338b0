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
//       relative, exact only for normalised-difference indices); Sequoia: the sunshine
//       sensor's relative reading, usable only scaled by a panel capture's.
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
// Lens models: MicaSense / DJI perspective (OpenCV Brown-Conrady) and the Sequoia fisheye
// (radiometric_kernels.hpp FisheyeLens: PrincipalPoint mm and FocalLength mm times
// FocalPlaneX/YResolution px/mm). A Sequoia frame recorded turned by 180 degrees (EXIF
// Orientation 3) is turned upright by band_radiance, so its maps and camera are turned too.
bool band_has_lens_model(const BandMetadata& band);
// The camera matrix of the lens (perspective), or of the pinhole camera a fisheye is
// undistorted to, in the frame as recorded.
cv::Matx33d band_camera_matrix(const BandMetadata& band);
FisheyeLens band_fisheye_lens(const BandMetadata& band);
// Remap tables from band_radiance's frame to the undistorted frame, and that frame's camera.
UndistortMaps band_undistort_maps(const BandMetadata& band);
cv::Matx33d band_undistorted_camera(const BandMetadata& band);

// Irradiance from the sun sensor (W/m^2/nm; DJI: relative; Sequoia: the sunshine sensor's
// relative S = CH0 / (gain * t), radiometric_sunshine.hpp), or a StageError when the band has
// no usable reading.
double sun_sensor_irradiance(const BandMetadata& band);
// True when sun_sensor_irradiance gives an absolute irradiance (MicaSense DLS).
bool sun_sensor_is_absolute(const BandMetadata& band);
// True when the sun sensor alone gives reflectance, exact or up to one scale common to all bands
// (MicaSense, DJI). Sequoia's sunshine sensor has an arbitrary scale per band and unit (Parrot),
// so alone it gives not even band ratios: it needs a panel capture to fix each band's scale.
bool sun_sensor_usable_without_panel(const BandMetadata& band);

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
