// SPDX-License-Identifier: Apache-2.0
#pragma once
// filters (captures): one capture from raw frames to an aligned reflectance stack.
//   raw -> radiance (radiometric_calibration) -> reflectance rho = pi L / E_band
//   -> undistorted (lens model) -> registered to the reference band (band_alignment).
//   Output bands are CV_32F reflectance on the reference band's undistorted grid, NaN where
//   a band does not cover the reference frame. A thermal (Altum LWIR) band is not reflectance:
//   it is converted to degrees Celsius, undistorted and placed on the reference grid by the
//   factory rig geometry (its 160x120 frame has too little texture in common with the
//   multispectral bands for ECC), and kept apart in `lwir_celsius`.
//   The irradiance per band is the caller's choice (panel, sun sensor, both).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "stages/filters/band_alignment.hpp"
#include "stages/readers/capture_metadata.hpp"

namespace fieldrx {

struct CaptureCalibrationOptions {
  bool align = true;
  AlignmentSettings alignment;
};

struct CalibratedCapture {
  std::vector<std::string> band_names;   // canonical names of the stacked bands
  std::vector<cv::Mat> reflectance;      // CV_32F, reference grid
  std::vector<BandAlignment> alignment;  // per stacked band (the reference: identity, converged)
  std::vector<std::size_t> source_band;  // index into Capture::bands of each stacked band
  std::size_t reference_band = 0;        // index into Capture::bands
  cv::Mat lwir_celsius;  // CV_32F degrees Celsius on the reference grid; empty: no thermal band
  cv::Matx33d reference_camera =
      cv::Matx33d::eye();      // undistorted camera matrix of the output grid
  double max_residual_px = 0;  // worst residual of the converged bands (NaN if none)
  bool all_converged = true;
  std::vector<std::string> warnings;
};

// Index into capture.bands of the band the others are registered to: the rig's reference
// camera when the metadata names one, else the second band (MicaSense's choice), else the first.
std::size_t reference_band_index(const Capture& capture);
// Factory reference->band homography for capture.bands[band] (identity when none is known),
// for cv::WARP_INVERSE_MAP on the undistorted frames. MicaSense: the inverse of
// K_ref R K_band^-1 (image.get_homography maps band to reference; capture.get_warp_matrices
// inverts it). A band of another frame size without rig relatives (a thermal camera): K_band
// K_ref^-1, i.e. the same optical axis.
cv::Matx33d factory_seed(const Capture& capture, std::size_t band, std::size_t reference);

// `irradiance[i]` belongs to capture.bands[i] (ignored for thermal bands).
CalibratedCapture calibrate_capture(const Capture& capture, const std::vector<cv::Mat>& raw,
                                    const std::vector<double>& irradiance,
                                    const CaptureCalibrationOptions& options);

}  // namespace fieldrx
