// SPDX-License-Identifier: Apache-2.0
#pragma once
// filters (captures): band-to-band registration of one capture. Pure kernels on cv::Mat.
//   Each band is registered to a reference band by a homography W that maps reference pixels
//   to band pixels (band(W x) ~ reference(x)), seeded from the rig's factory geometry and
//   refined by ECC (Evangelidis & Psarakis 2008, cv::findTransformECC) on gradient-magnitude
//   images, coarse to fine on a pyramid (as MicaSense imageutils.align does).
//   The result is then checked independently at full resolution, patch by patch (128 px patches
//   on a grid over the frame): the band is warped onto the reference grid and each patch's
//   remaining shift is measured by phase correlation (cv::phaseCorrelate, Hanning window, patch
//   means removed). A patch counts only when it can show a shift in every direction: the smaller
//   eigenvalue of the structure tensor (mean of the gradient outer products, px^-2 units of the
//   gradient image) of both the reference and the warped band over the patch must be at least
//   `min_texture`, and the correlation response at least `min_response`. On a smooth scene
//   (waves of 170 px and more: eigenvalue <= 3e-4) the shift is not observable and phase
//   correlation returns numbers near zero whatever the error, so such patches are counted as
//   smooth, never as agreeing. The residual is the median shift of the counted patches and the
//   worst patch is reported with its place. A band converges only when ECC ran to the end at
//   every level, its correlation is high enough, at least 3 counted patches span two rows and two
//   columns of the grid, the median is <= `max_residual_px` and the worst patch <=
//   `max_patch_residual_px`; otherwise the factory seed is kept and the reason reported ("too
//   little texture to verify (smooth scene)" when the patches are smooth): never a silently wrong
//   warp.
//   Seeds: MicaSense RigRelatives (W = (K_ref' R K_band'^-1)^-1 on undistorted cameras),
//   DJI M3M CalibratedHMatrix, DJI P4M RelativeOpticalCenter, or the translation phase
//   correlation finds on the coarsest level when the rig gives nothing (RedEdge-3).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace fieldrx {

struct AlignmentSettings {
  int coarsest_width_px = 160;         // pyramid top
  int finest_level = 1;                // ECC up to: 0 = full resolution, 1 = half (default; the
                                       // residual is still measured at full resolution)
  int max_iterations = 30;             // ECC iterations per level
  double epsilon = 1e-5;               // ECC stop on parameter change
  double min_correlation = 0.3;        // ECC correlation coefficient at the finest level
  double max_residual_px = 1.0;        // median phase-correlation shift after warping
  double max_patch_residual_px = 2.0;  // the worst counted patch's shift
  // Smaller structure-tensor eigenvalue a patch needs in both images (see the header): two
  // crossing waves of 100 px period give 2.2e-3, the real MicaSense captures 0.016-0.76 per
  // patch, waves of 170 px and more 3e-4 or less.
  double min_texture = 2e-3;
  double min_response = 0.05;  // phase-correlation peak a counted patch needs
  double max_seed_departure_px =
      80;  // a refined warp moving a corner further from the seed is rejected
};

struct BandAlignment {
  cv::Matx33d warp = cv::Matx33d::eye();  // reference px -> band px (use with WARP_INVERSE_MAP)
  cv::Matx33d seed = cv::Matx33d::eye();
  bool converged = false;
  double correlation = 0;         // ECC correlation at the finest level (NaN when not run)
  double residual_px = 0;         // median patch shift; NaN when it could not be measured
  int residual_patches = 0;       // patches that measured it
  double worst_patch_px = 0;      // largest counted patch shift; NaN when none
  cv::Point worst_patch{-1, -1};  // its centre (reference px)
  int smooth_patches = 0;         // patches with too little texture to verify a shift
  std::string message;            // why it did not converge
};

// Gradient-magnitude image used for registration (min-max normalised, blurred), CV_32F.
cv::Mat alignment_gradient(const cv::Mat& image);

// Registers `band` to `reference` (same size, single channel, any depth; NaN treated as 0).
BandAlignment align_band(const cv::Mat& reference, const cv::Mat& band, const cv::Matx33d& seed,
                         const AlignmentSettings& settings = {});

// The independent full-resolution check of a warp (see the header).
struct ResidualCheck {
  double median_px = 0;        // median shift of the counted patches; NaN when none
  double worst_px = 0;         // largest counted shift; NaN when none
  cv::Point worst_at{-1, -1};  // centre of that patch (reference px)
  int patches = 0;             // counted patches
  int smooth_patches = 0;      // too little texture (structure tensor) in either image
  int weak_patches = 0;        // textured, but the band does not correlate (low response)
  int grid_patches = 0;        // patches the warped band covers
  bool spread = false;         // counted patches span >= 2 grid rows and >= 2 columns
};

// Measures the remaining shift between `reference` and `band` warped by `warp`, patch by patch.
ResidualCheck check_alignment(const cv::Mat& reference, const cv::Mat& band,
                              const cv::Matx33d& warp, const AlignmentSettings& settings = {});

// Smaller eigenvalue of the mean structure tensor of `image` (CV_32F): the squared gradient
// (per px) along the direction where the image changes least.
double structure_tensor_min_eigenvalue(const cv::Mat& image);

// band(W x) sampled onto the reference grid; pixels from outside the band become NaN.
cv::Mat warp_to_reference(const cv::Mat& band, const cv::Matx33d& warp, cv::Size reference_size);

// MicaSense rig relatives (degrees, applied as Rx(r0) Ry(r1) Rz(r2)) -> the band->reference
// homography K_ref R K_band^-1 of both cameras' undistorted camera matrices (MicaSense
// image.get_homography); the reference->band seed is its inverse (capture.get_warp_matrices).
cv::Matx33d rig_relatives_seed(const std::vector<double>& rig_relatives_deg,
                               const cv::Matx33d& band_k, const cv::Matx33d& reference_k);

}  // namespace fieldrx
