// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_capture.hpp"

#include <cmath>
#include <limits>

#include "pipeline/errors.hpp"
#include "stages/filters/radiometric_calibration.hpp"

namespace fieldrx {

std::size_t reference_band_index(const Capture& capture) {
  const int wanted = capture.bands.front().rig_reference_index;
  for (std::size_t i = 0; i < capture.bands.size(); ++i) {
    if (wanted >= 0 && capture.bands[i].band_index == wanted && !capture.bands[i].is_thermal())
      return i;
  }
  return capture.bands.size() > 1 ? 1 : 0;
}

cv::Matx33d factory_seed(const Capture& capture, std::size_t band, std::size_t reference) {
  const BandMetadata& b = capture.bands[band];
  const BandMetadata& r = capture.bands[reference];
  if (band == reference) return cv::Matx33d::eye();
  const bool both_modelled = band_has_lens_model(b) && band_has_lens_model(r);
  if (b.rig_relatives_deg.size() == 3 && both_modelled) {
    const cv::Matx33d warp = rig_relatives_seed(b.rig_relatives_deg, band_undistorted_camera(b),
                                                band_undistorted_camera(r))
                                 .inv();
    return warp * (1.0 / warp(2, 2));
  }
  if (b.calibrated_hmatrix.size() == 9 && r.calibrated_hmatrix.size() == 9) {
    // M3M: each band's CalibratedHMatrix maps it onto the common reference; band<-reference
    // is then H_band^-1 H_reference.
    const cv::Matx33d hb(b.calibrated_hmatrix.data()), hr(r.calibrated_hmatrix.data());
    cv::Matx33d w = hb.inv() * hr;
    return w * (1.0 / w(2, 2));
  }
  if (b.relative_optical_center_x == b.relative_optical_center_x &&
      r.relative_optical_center_x == r.relative_optical_center_x) {
    // P4M: optical centres relative to the NIR camera, px.
    return cv::Matx33d(1, 0, b.relative_optical_center_x - r.relative_optical_center_x, 0, 1,
                       b.relative_optical_center_y - r.relative_optical_center_y, 0, 0, 1);
  }
  if ((b.width != r.width || b.height != r.height) && both_modelled) {
    // same optical axis, other camera
    return band_undistorted_camera(b) * band_undistorted_camera(r).inv();
  }
  return cv::Matx33d::eye();
}

CalibratedCapture calibrate_capture(const Capture& capture, const std::vector<cv::Mat>& raw,
                                    const std::vector<double>& irradiance,
                                    const CaptureCalibrationOptions& options) {
  if (raw.size() != capture.bands.size() || irradiance.size() != capture.bands.size()) {
    throw StageError("capture " + capture.id + ": " + std::to_string(raw.size()) + " frames and " +
                     std::to_string(irradiance.size()) + " irradiances for " +
                     std::to_string(capture.bands.size()) + " bands");
  }
  CalibratedCapture out;
  out.reference_band = reference_band_index(capture);
  const BandMetadata& ref = capture.bands[out.reference_band];
  const cv::Size grid(ref.width, ref.height);
  std::vector<cv::Mat> undistorted(capture.bands.size());
  for (std::size_t i = 0; i < capture.bands.size(); ++i) {
    const BandMetadata& b = capture.bands[i];
    if (b.is_thermal()) continue;
    const cv::Mat rho = reflectance_from_radiance(band_radiance(b, raw[i]), irradiance[i]);
    if (band_has_lens_model(b)) {
      undistorted[i] =
          undistort(rho, band_undistort_maps(b), std::numeric_limits<double>::quiet_NaN());
    } else {
      undistorted[i] = rho;
      out.warnings.push_back(b.path +
                             ": no lens model in the metadata; the band is not undistorted");
    }
  }
  if (band_has_lens_model(ref)) out.reference_camera = band_undistorted_camera(ref);
  out.max_residual_px = 0;
  bool any_measured = false;
  for (std::size_t i = 0; i < capture.bands.size(); ++i) {
    const BandMetadata& b = capture.bands[i];
    if (b.is_thermal()) continue;
    BandAlignment a;
    const cv::Matx33d seed = factory_seed(capture, i, out.reference_band);
    a.seed = a.warp = seed;
    cv::Mat stacked;
    if (i == out.reference_band) {
      a.converged = true;
      a.residual_px = 0;
      a.correlation = 1;
      stacked = undistorted[i];
    } else if (!options.align) {
      a.converged = false;
      a.residual_px = std::numeric_limits<double>::quiet_NaN();
      a.correlation = std::numeric_limits<double>::quiet_NaN();
      a.message = "alignment not run (--no-align)";
      stacked = undistorted[i].size() == grid ? undistorted[i]
                                              : warp_to_reference(undistorted[i], seed, grid);
    } else if (undistorted[i].size() != grid) {
      a.message = "frame size differs from the reference band; placed by the factory geometry only";
      a.residual_px = a.correlation = std::numeric_limits<double>::quiet_NaN();
      stacked = warp_to_reference(undistorted[i], seed, grid);
    } else {
      a = align_band(undistorted[out.reference_band], undistorted[i], seed, options.alignment);
      stacked = warp_to_reference(undistorted[i], a.warp, grid);
    }
    if (!a.converged && options.align) {
      out.all_converged = false;
      out.warnings.push_back("capture " + capture.id + " band " + b.band_name +
                             ": alignment did not converge (" + a.message +
                             "); the factory rig geometry is used instead");
    }
    if (a.converged && i != out.reference_band) {
      out.max_residual_px = std::max(out.max_residual_px, a.residual_px);
      any_measured = true;
    }
    out.band_names.push_back(b.canonical_band_name());
    out.reflectance.push_back(stacked);
    out.alignment.push_back(a);
    out.source_band.push_back(i);
  }
  // The thermal band: degrees Celsius, placed by the factory geometry (see the header).
  for (std::size_t i = 0; i < capture.bands.size(); ++i) {
    const BandMetadata& b = capture.bands[i];
    if (!b.is_thermal()) continue;
    if (!out.lwir_celsius.empty()) {
      out.warnings.push_back(b.path + ": a second thermal band; only the first is kept");
      continue;
    }
    cv::Mat celsius = band_radiance(b, raw[i]);
    if (band_has_lens_model(b)) {
      celsius =
          undistort(celsius, band_undistort_maps(b), std::numeric_limits<double>::quiet_NaN());
    }
    out.lwir_celsius =
        warp_to_reference(celsius, factory_seed(capture, i, out.reference_band), grid);
  }
  if (!any_measured) out.max_residual_px = std::numeric_limits<double>::quiet_NaN();
  if (!options.align) out.all_converged = false;
  return out;
}

}  // namespace fieldrx
