// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/band_alignment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

namespace fieldrx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;

cv::Matx33d scaled(const cv::Matx33d& w, double s) {
  const cv::Matx33d S(s, 0, 0, 0, s, 0, 0, 0, 1), Si(1 / s, 0, 0, 0, 1 / s, 0, 0, 0, 1);
  cv::Matx33d out = S * w * Si;
  return out * (1.0 / out(2, 2));
}

// Largest displacement of the four image corners between two warps (px).
double corner_departure(const cv::Matx33d& a, const cv::Matx33d& b, cv::Size size) {
  double worst = 0;
  for (const cv::Vec3d& p : {cv::Vec3d(0, 0, 1), cv::Vec3d(size.width, 0, 1),
                             cv::Vec3d(0, size.height, 1), cv::Vec3d(size.width, size.height, 1)}) {
    const cv::Vec3d pa = a * p, pb = b * p;
    worst =
        std::max(worst, std::hypot(pa[0] / pa[2] - pb[0] / pb[2], pa[1] / pa[2] - pb[1] / pb[2]));
  }
  return worst;
}

}  // namespace

cv::Mat alignment_gradient(const cv::Mat& image) {
  cv::Mat f;
  image.convertTo(f, CV_32F);
  const cv::Mat invalid = f != f;  // NaN: outside the frame after undistortion or warping
  cv::patchNaNs(f, 0);
  // Robust min-max: 1st and 99th percentile of a subsample, so a few hot pixels do not flatten it.
  std::vector<float> sample;
  const std::size_t step = std::max<std::size_t>(1, f.total() / 20000);
  for (std::size_t i = 0; i < f.total(); i += step) {
    if (!invalid.data[i])
      sample.push_back(f.at<float>(static_cast<int>(i / f.cols), static_cast<int>(i % f.cols)));
  }
  if (sample.size() < 16) return cv::Mat(f.size(), CV_32F, cv::Scalar(0));
  std::sort(sample.begin(), sample.end());
  const float lo = sample[sample.size() / 100], hi = sample[sample.size() * 99 / 100];
  cv::Mat u8;
  f.convertTo(u8, CV_8U, hi > lo ? 255.0 / (hi - lo) : 0.0,
              hi > lo ? -lo * 255.0 / (hi - lo) : 0.0);
  // Local contrast equalisation (MicaSense equalises with a disk of 1/5 of the width): makes
  // edges of bands with inverted contrast (vegetation in red vs NIR) comparable.
  const int tiles = std::max(2, f.cols / 160);
  cv::createCLAHE(2.0, cv::Size(tiles, std::max(2, tiles * f.rows / f.cols)))->apply(u8, u8);
  u8.convertTo(f, CV_32F, 1.0 / 255);
  cv::GaussianBlur(f, f, cv::Size(0, 0), 1.0);
  cv::Mat gx, gy;
  cv::Sobel(f, gx, CV_32F, 1, 0, 5);
  cv::Sobel(f, gy, CV_32F, 0, 1, 5);
  cv::Mat g;
  cv::addWeighted(cv::abs(gx), 0.5, cv::abs(gy), 0.5, 0, g);
  // No gradient at the frame's edge: it is the lens's, not the scene's.
  if (cv::countNonZero(invalid) > 0) {
    cv::Mat near_invalid;
    cv::dilate(invalid, near_invalid, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(7, 7)));
    g.setTo(0, near_invalid);
  }
  return g;
}

cv::Mat warp_to_reference(const cv::Mat& band, const cv::Matx33d& warp, cv::Size reference_size) {
  cv::Mat src;
  band.convertTo(src, CV_32F);
  cv::Mat out;
  cv::warpPerspective(src, out, cv::Mat(warp), reference_size,
                      cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                      cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
  return out;
}

double structure_tensor_min_eigenvalue(const cv::Mat& image) {
  cv::Mat gx, gy;
  cv::Sobel(image, gx, CV_32F, 1, 0, 3, 1.0 / 8);  // per px
  cv::Sobel(image, gy, CV_32F, 0, 1, 3, 1.0 / 8);
  const double a = cv::mean(gx.mul(gx))[0], b = cv::mean(gx.mul(gy))[0],
               c = cv::mean(gy.mul(gy))[0];
  return 0.5 * (a + c - std::sqrt((a - c) * (a - c) + 4 * b * b));
}

ResidualCheck check_alignment(const cv::Mat& reference, const cv::Mat& band,
                              const cv::Matx33d& warp, const AlignmentSettings& settings) {
  ResidualCheck check;
  const cv::Mat ref_g = alignment_gradient(reference);
  cv::Mat warped = warp_to_reference(band, warp, reference.size());
  const cv::Mat valid = warped == warped;  // not NaN
  const cv::Mat band_g = alignment_gradient(warped);
  const int size = std::min(128, std::min(reference.cols, reference.rows) / 3);
  const int nx = std::max(1, reference.cols / size - 1),
            ny = std::max(1, reference.rows / size - 1);
  std::vector<double> shifts;
  std::vector<bool> rows(ny, false), cols(nx, false);
  cv::Mat window;
  cv::createHanningWindow(window, cv::Size(size, size), CV_32F);
  for (int j = 0; j < ny; ++j) {
    for (int i = 0; i < nx; ++i) {
      const int x = (reference.cols - size) * (i + 1) / (nx + 1),
                y = (reference.rows - size) * (j + 1) / (ny + 1);
      const cv::Rect r(x, y, size, size);
      if (cv::countNonZero(valid(r)) < size * size) continue;  // the warp leaves part of it empty
      ++check.grid_patches;
      // A shift is observable only along directions in which both patches change (structure
      // tensor); phase correlation of smooth patches returns a number near zero regardless.
      if (!(structure_tensor_min_eigenvalue(ref_g(r)) >= settings.min_texture) ||
          !(structure_tensor_min_eigenvalue(band_g(r)) >= settings.min_texture)) {
        ++check.smooth_patches;
        continue;
      }
      // Without the means the window itself (identical in both) would pull the peak to zero.
      const cv::Mat a = ref_g(r) - cv::mean(ref_g(r))[0], b = band_g(r) - cv::mean(band_g(r))[0];
      double response = 0;
      const cv::Point2d shift = cv::phaseCorrelate(a, b, window, &response);
      if (!(response >= settings.min_response) || !std::isfinite(shift.x) ||
          !std::isfinite(shift.y)) {
        ++check.weak_patches;
        continue;
      }
      const double d = std::hypot(shift.x, shift.y);
      if (shifts.empty() || d > check.worst_px) {
        check.worst_px = d;
        check.worst_at = cv::Point(x + size / 2, y + size / 2);
      }
      shifts.push_back(d);
      rows[j] = cols[i] = true;
    }
  }
  check.patches = static_cast<int>(shifts.size());
  check.spread = std::count(rows.begin(), rows.end(), true) >= std::min(2, ny) &&
                 std::count(cols.begin(), cols.end(), true) >= std::min(2, nx);
  if (shifts.empty()) {
    check.median_px = check.worst_px = kNaN;
    return check;
  }
  std::nth_element(shifts.begin(), shifts.begin() + shifts.size() / 2, shifts.end());
  check.median_px = shifts[shifts.size() / 2];
  return check;
}

BandAlignment align_band(const cv::Mat& reference, const cv::Mat& band, const cv::Matx33d& seed_in,
                         const AlignmentSettings& settings) {
  BandAlignment result;
  result.seed = seed_in;
  result.warp = seed_in;
  result.correlation = kNaN;
  result.residual_px = result.worst_patch_px = kNaN;
  CV_Assert(reference.size() == band.size());

  // Pyramid of blurred, halved frames; gradients per level.
  int levels = 0;
  while ((reference.cols >> (levels + 1)) >= settings.coarsest_width_px) ++levels;
  // NaN (outside the frame) spreads through pyrDown, which is what marks it invalid above.
  cv::Mat ref32, band32;
  reference.convertTo(ref32, CV_32F);
  band.convertTo(band32, CV_32F);
  std::vector<cv::Mat> ref_pyr{ref32}, band_pyr{band32};
  for (int l = 1; l <= levels; ++l) {
    cv::Mat r, b;
    cv::pyrDown(ref_pyr.back(), r);
    cv::pyrDown(band_pyr.back(), b);
    ref_pyr.push_back(r);
    band_pyr.push_back(b);
  }
  cv::Matx33d seed = seed_in;
  // Without factory geometry, start from the translation the coarsest level shows.
  if (seed == cv::Matx33d::eye()) {
    const cv::Mat rg = alignment_gradient(ref_pyr[levels]),
                  bg = alignment_gradient(band_pyr[levels]);
    cv::Mat window;
    cv::createHanningWindow(window, rg.size(), CV_32F);
    const cv::Point2d shift = cv::phaseCorrelate(rg, bg, window);
    const double s = std::ldexp(1.0, levels);
    seed = cv::Matx33d(1, 0, shift.x * s, 0, 1, shift.y * s, 0, 0, 1);
  }
  cv::Matx33d w = scaled(seed, std::ldexp(1.0, -levels));
  const cv::TermCriteria criteria(cv::TermCriteria::COUNT | cv::TermCriteria::EPS,
                                  settings.max_iterations, settings.epsilon);
  const int finest = std::min(settings.finest_level, levels);
  try {
    for (int l = levels; l >= finest; --l) {
      cv::Mat warp32;
      cv::Mat(w).convertTo(warp32, CV_32F);
      result.correlation =
          cv::findTransformECC(alignment_gradient(ref_pyr[l]), alignment_gradient(band_pyr[l]),
                               warp32, cv::MOTION_HOMOGRAPHY, criteria, cv::noArray(), 1);
      cv::Mat warp64;
      warp32.convertTo(warp64, CV_64F);
      w = cv::Matx33d(warp64);
      if (l > finest) w = scaled(w, 2.0);
    }
  } catch (const cv::Exception& e) {
    result.message = std::string("ECC failed: ") + e.err;
    return result;
  }
  const cv::Matx33d refined = scaled(w, std::ldexp(1.0, finest));
  if (!(result.correlation >= settings.min_correlation)) {
    result.message = "ECC correlation " + std::to_string(result.correlation) + " is below " +
                     std::to_string(settings.min_correlation);
    return result;
  }
  const double departure = corner_departure(refined, result.seed, reference.size());
  if (!(departure <= settings.max_seed_departure_px)) {
    result.message = "the refined warp moves an image corner " + std::to_string(departure) +
                     " px from the factory geometry (limit " +
                     std::to_string(settings.max_seed_departure_px) + ")";
    return result;
  }
  const ResidualCheck check = check_alignment(reference, band, refined, settings);
  result.residual_px = check.median_px;
  result.residual_patches = check.patches;
  result.worst_patch_px = check.worst_px;
  result.worst_patch = check.worst_at;
  result.smooth_patches = check.smooth_patches;
  const auto px = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f px", v);
    return std::string(text);
  };
  if (check.patches < 3 || !check.spread) {
    const std::string counts =
        std::to_string(check.patches) + " of " + std::to_string(check.grid_patches) +
        " patches measured the shift, " + std::to_string(check.smooth_patches) +
        " too smooth (structure tensor below " + std::to_string(settings.min_texture) + "), " +
        std::to_string(check.weak_patches) + " not correlated; at least 3 spanning two rows and " +
        "two columns are needed";
    result.message = check.smooth_patches * 2 >= check.grid_patches && check.grid_patches > 0
                         ? "too little texture to verify (smooth scene): " + counts
                         : "the residual cannot be measured: " + counts;
    return result;
  }
  if (!(check.median_px <= settings.max_residual_px)) {
    result.message = "residual " + px(check.median_px) + " (median of " +
                     std::to_string(check.patches) + " patches) exceeds " +
                     px(settings.max_residual_px);
    return result;
  }
  if (!(check.worst_px <= settings.max_patch_residual_px)) {
    result.message = "the patch at (" + std::to_string(check.worst_at.x) + ", " +
                     std::to_string(check.worst_at.y) + ") is " + px(check.worst_px) +
                     " off (limit " + px(settings.max_patch_residual_px) + ")";
    return result;
  }
  result.warp = refined;
  result.converged = true;
  return result;
}

cv::Matx33d rig_relatives_seed(const std::vector<double>& r, const cv::Matx33d& band_k,
                               const cv::Matx33d& reference_k) {
  if (r.size() < 3) return cv::Matx33d::eye();
  const double d = kPi / 180;
  const double cx = std::cos(r[0] * d), sx = std::sin(r[0] * d), cy = std::cos(r[1] * d),
               sy = std::sin(r[1] * d), cz = std::cos(r[2] * d), sz = std::sin(r[2] * d);
  const cv::Matx33d rx(1, 0, 0, 0, cx, -sx, 0, sx, cx), ry(cy, 0, sy, 0, 1, 0, -sy, 0, cy),
      rz(cz, -sz, 0, sz, cz, 0, 0, 0, 1);
  cv::Matx33d h = reference_k * (rx * ry * rz) * band_k.inv();
  return h * (1.0 / h(2, 2));
}

}  // namespace fieldrx
