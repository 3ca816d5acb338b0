// SPDX-License-Identifier: Apache-2.0
#pragma once
// filters (captures): band-to-band registration of one capture. Pure kernels on cv::Mat.
//   Each band is registered to a reference band by a homography W that maps reference pixels
//   to band pixels (band(W x) ~ reference(x)), seeded from the rig's factory geometry and
//   refined by ECC (Evangelidis & Psarakis 2008, cv::findTransformECC) on gradient-magnitude
//   images, coarse to fine on a pyramid (as MicaSense imageutils.align does).
//   The result is then checked independently: the warped band and the reference are compared
//   patch by patch with phase correlation; the residual is the median remaining shift (px at
//   full resolution). A band converges only when ECC ran to the end at every level, the
//   correlation is high enough and the residual is below `max_residual_px`; otherwise the
//   factory seed is kept and the reason reported: never a silently wrong warp.
//   Seeds: MicaSense RigRelatives (W = (K_ref' R K_band'^-1)^-1 on undistorted cameras),
//   DJI M3M CalibratedHMatrix, DJI P4M RelativeOpticalCenter, or the translation phase
//   correlation finds on the coarsest level when the rig gives nothing (RedEdge-3).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace fieldrx {

struct AlignmentSettings {
  int coarsest_width_px = 160;   // pyramid top
  int finest_level = 1;          // ECC up to: 0 = full resolution, 1 = half (default; the
                                 // residual is still measured at full resolution)
  int max_iterations = 30;       // ECC iterations per level
  double epsilon = 1e-5;         // ECC stop on parameter change
  double min_correlation = 0.3;  // ECC correlation coefficient at the finest level
  double max_residual_px = 1.0;  // median phase-correlation shift after warping
  double max_seed_departure_px =
      80;  // a refined warp moving a corner further from the seed is rejected
};

struct BandAlignment {
  cv::Matx33d warp = cv::Matx33d::eye();  // reference px -> band px (use with WARP_INVERSE_MAP)
  cv::Matx33d seed = cv::Matx33d::eye();
  bool converged = false;
  double correlation = 0;    // ECC correlation at the finest level (NaN when not run)
  double residual_px = 0;    // NaN when it could not be measured
  int residual_patches = 0;  // patches that measured it
  std::string message;       // why it did not converge
};

// Gradient-magnitude image used for registration (min-max normalised, blurred), CV_32F.
cv::Mat alignment_gradient(const cv::Mat& image);

// Registers `band` to `reference` (same size, single channel, any depth; NaN treated as 0).
BandAlignment align_band(const cv::Mat& reference, const cv::Mat& band, const cv::Matx33d& seed,
                         const AlignmentSettings& settings = {});

// Median residual shift (px) between `reference` and `band` warped by `warp`, measured by phase
// correlation on a grid of patches; NaN when fewer than 3 patches have texture to measure it.
double alignment_residual(const cv::Mat& reference, const cv::Mat& band, const cv::Matx33d& warp,
                          int* patches = nullptr);

// band(W x) sampled onto the reference grid; pixels from outside the band become NaN.
cv::Mat warp_to_reference(const cv::Mat& band, const cv::Matx33d& warp, cv::Size reference_size);

// MicaSense rig relatives (degrees, applied as Rx(r0) Ry(r1) Rz(r2)) -> the band->reference
// homography K_ref R K_band^-1 of both cameras' undistorted camera matrices (MicaSense
// image.get_homography); the reference->band seed is its inverse (capture.get_warp_matrices).
cv::Matx33d rig_relatives_seed(const std::vector<double>& rig_relatives_deg,
                               const cv::Matx33d& band_k, const cv::Matx33d& reference_k);

}  // namespace fieldrx
