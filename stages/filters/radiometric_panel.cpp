// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_panel.hpp"

#include <zbar.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Even-odd test of grid point (r, c) against the polygon given as (row, col) vertices; points
// on an edge count as inside (scikit-image grid_points_in_poly, which MicaSense uses).
bool inside(double r, double c, const std::vector<cv::Point2d>& rc) {
  for (std::size_t i = 0, j = rc.size() - 1; i < rc.size(); j = i++) {
    const double cross = (rc[i].x - rc[j].x) * (c - rc[j].y) - (rc[i].y - rc[j].y) * (r - rc[j].x);
    if (std::fabs(cross) < 1e-9 && r >= std::min(rc[i].x, rc[j].x) &&
        r <= std::max(rc[i].x, rc[j].x) && c >= std::min(rc[i].y, rc[j].y) &&
        c <= std::max(rc[i].y, rc[j].y)) {
      return true;
    }
  }
  bool in = false;
  for (std::size_t i = 0, j = rc.size() - 1; i < rc.size(); j = i++) {
    const double yi = rc[i].y, yj = rc[j].y, xi = rc[i].x, xj = rc[j].x;
    if (((yi <= c && c < yj) || (yj <= c && c < yi)) && (r < (xj - xi) * (c - yi) / (yj - yi) + xi))
      in = !in;
  }
  return in;
}

double read_value(const cv::Mat& image, int y, int x) {
  switch (image.depth()) {
    case CV_8U:
      return image.at<std::uint8_t>(y, x);
    case CV_16U:
      return image.at<std::uint16_t>(y, x);
    case CV_16S:
      return image.at<std::int16_t>(y, x);
    case CV_32S:
      return image.at<std::int32_t>(y, x);
    case CV_32F:
      return image.at<float>(y, x);
    default:
      return image.at<double>(y, x);
  }
}

double signed_area(const std::vector<cv::Point2f>& p) {
  double a = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto& u = p[i];
    const auto& v = p[(i + 1) % p.size()];
    a += double(u.x) * v.y - double(v.x) * u.y;
  }
  return a / 2;
}

}  // namespace

cv::Mat polygon_mask(cv::Size size, const std::vector<cv::Point>& polygon) {
  cv::Mat mask(size, CV_8U, cv::Scalar(0));
  if (polygon.size() < 3) return mask;
  std::vector<cv::Point2d> rc;  // (row, col) as MicaSense's flipped vertices
  for (const auto& p : polygon) rc.emplace_back(p.y, p.x);
  const cv::Rect box = cv::boundingRect(polygon) & cv::Rect(0, 0, size.width, size.height);
  for (int y = box.y; y < box.y + box.height + 1 && y < size.height; ++y) {
    for (int x = box.x; x < box.x + box.width + 1 && x < size.width; ++x) {
      if (inside(y, x, rc)) mask.at<std::uint8_t>(y, x) = 255;
    }
  }
  return mask;
}

RegionStats region_stats(const cv::Mat& image, const std::vector<cv::Point>& polygon,
                         double saturation_threshold) {
  CV_Assert(image.channels() == 1);
  const cv::Mat mask = polygon_mask(image.size(), polygon);
  RegionStats stats;
  double sum = 0, sum2 = 0;
  for (int y = 0; y < image.rows; ++y) {
    const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < image.cols; ++x) {
      if (!m[x]) continue;
      const double v = read_value(image, y, x);
      if (std::isnan(v)) continue;
      ++stats.count;
      sum += v;
      sum2 += v * v;
      if (v > saturation_threshold) ++stats.saturated;
    }
  }
  if (stats.count > 0) {
    stats.mean = sum / stats.count;
    stats.stddev = std::sqrt(std::max(0.0, sum2 / stats.count - stats.mean * stats.mean));
  } else {
    stats.mean = stats.stddev = std::numeric_limits<double>::quiet_NaN();
  }
  return stats;
}

std::vector<cv::Point> ordered_panel_coordinates(std::vector<cv::Point> pc) {
  // MicaSense panel.ordered_panel_coordinates: split left/right by x, then by y.
  std::stable_sort(pc.begin(), pc.end(),
                   [](const cv::Point& a, const cv::Point& b) { return a.x < b.x; });
  std::vector<cv::Point> left(pc.begin(), pc.begin() + 2), right(pc.begin() + 2, pc.end());
  auto by_y = [](const cv::Point& a, const cv::Point& b) { return a.y < b.y; };
  std::stable_sort(left.begin(), left.end(), by_y);
  std::stable_sort(right.begin(), right.end(), by_y);
  return {right[1], left[1], left[0], right[0]};
}

PanelDetection detect_micasense_panel(const cv::Mat& undistorted_radiance, const cv::Mat& raw) {
  PanelDetection result;
  double lo = 0, hi = 0;
  cv::minMaxLoc(undistorted_radiance, &lo, &hi);
  if (!(hi > lo)) return result;
  cv::Mat gray;  // MicaSense panel.py: convertScaleAbs(radiance, 256/(max-min))
  cv::convertScaleAbs(undistorted_radiance, gray, 256.0 / (hi - lo), -(hi - lo) * lo);
  gray = gray.isContinuous() ? gray : gray.clone();

  // zbar, as MicaSense uses (OpenCV's QR decoder is not built into Debian's OpenCV).
  std::string text;
  std::vector<cv::Point2f> corners;
  static const std::regex serial_pattern(R"(RP\d{2}-(\d{7})-\D{2})");
  {
    using namespace zbar;  // zbar.h puts its C API in this namespace for C++
    zbar_image_scanner_t* scanner = zbar_image_scanner_create();
    zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_t* image = zbar_image_create();
    zbar_image_set_format(image, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(image, static_cast<unsigned>(gray.cols), static_cast<unsigned>(gray.rows));
    zbar_image_set_data(image, gray.data, gray.total(), nullptr);
    if (zbar_scan_image(scanner, image) > 0) {
      for (const zbar_symbol_t* symbol = zbar_image_first_symbol(image); symbol;
           symbol = zbar_symbol_next(symbol)) {
        const std::string data = zbar_symbol_get_data(symbol);
        if (!std::regex_search(data, serial_pattern) || zbar_symbol_get_loc_size(symbol) != 4)
          continue;
        text = data;
        for (unsigned i = 0; i < 4; ++i) {
          corners.emplace_back(static_cast<float>(zbar_symbol_get_loc_x(symbol, i)),
                               static_cast<float>(zbar_symbol_get_loc_y(symbol, i)));
        }
        break;
      }
    }
    zbar_image_destroy(image);
    zbar_image_scanner_destroy(scanner);
  }
  if (text.empty()) return result;
  result.serial = text;
  result.version = std::stoi(text.substr(2, 2));
  // Same turning sense as the reference corners below (zbar's polygon order).
  if (signed_area(corners) > 0) std::reverse(corners.begin(), corners.end());
  for (const auto& c : corners) result.qr_corners.emplace_back(cvRound(c.x), cvRound(c.y));

  // Panel geometry in millimetres about the QR code's centre (MicaSense panel.py): QR side 2p,
  // panel side 2s, panel centre offset T; the inner 50 % square of the panel is measured.
  double s = 0, p = 0, tx = 0, ty = 0;
  if (result.version < 3) {
    s = 76.2, p = 42, tx = -143.2;  // RP02: 152.4 mm panel left of an 84 mm QR code
  } else if (result.version < 6) {
    s = 50, p = 45, tx = -145.8;
  } else {
    s = 50, p = 41, ty = -130.84;  // RP06: panel below the QR code
  }
  const std::vector<cv::Point2f> ref_panel = {{float(-s * .5 + tx), float(s * .5 + ty)},
                                              {float(s * .5 + tx), float(s * .5 + ty)},
                                              {float(s * .5 + tx), float(-s * .5 + ty)},
                                              {float(-s * .5 + tx), float(-s * .5 + ty)}};
  const std::vector<cv::Point2f> ref_qr = {
      {float(-p), float(p)}, {float(p), float(p)}, {float(p), float(-p)}, {float(-p), float(-p)}};
  double best = std::numeric_limits<double>::infinity();
  // zbar does not tell which corner of the code is which: try the four rotations and keep the
  // most uniform area (lowest std/mean of the raw frame).
  for (int rotation = 0; rotation < 4; ++rotation) {
    std::vector<cv::Point2f> src(4), dst(4);
    for (int i = 0; i < 4; ++i) {
      src[i] = ref_qr[(i - rotation + 4) % 4];  // np.roll(ref, rotation)
      dst[i] = corners[i];
    }
    const cv::Mat h = cv::getPerspectiveTransform(src, dst);
    std::vector<cv::Point2f> mapped, hull_f;
    cv::perspectiveTransform(ref_panel, mapped, h);
    cv::convexHull(mapped, hull_f, false);
    std::vector<cv::Point> hull;
    for (const auto& q : hull_f) hull.emplace_back(static_cast<int>(q.x), static_cast<int>(q.y));
    if (!std::all_of(hull_f.begin(), hull_f.end(), [&](const cv::Point2f& q) {
          return q.x >= 0 && q.y >= 0 && q.x < raw.cols && q.y < raw.rows;
        })) {
      continue;
    }
    const RegionStats stats = region_stats(raw, hull, 65000);
    const double cost = stats.stddev / stats.mean;
    if (stats.count > 0 && cost < best) {
      best = cost;
      result.panel_corners = hull;
    }
  }
  result.found = !result.panel_corners.empty();
  return result;
}

std::optional<double> panel_albedo_from_serial(const std::string& serial, double wavelength_nm) {
  if (serial.size() < 15 || serial.rfind("RP", 0) != 0) return std::nullopt;
  const int version = std::atoi(serial.substr(2, 2).c_str());
  if (version < 4) return std::nullopt;
  // RP04+: ...-<min wl 4 digits><min refl 3 digits, per mille><max wl 4><max refl 3>.
  const std::string s = serial;
  const std::size_t n = s.size();
  const double min_wl = std::atof(s.substr(n - 14, 4).c_str());
  const double min_rf = std::atof(s.substr(n - 10, 3).c_str()) / 1000.0;
  const double max_wl = std::atof(s.substr(n - 7, 4).c_str());
  const double max_rf = std::atof(s.substr(n - 3, 3).c_str()) / 1000.0;
  if (!(max_wl > min_wl)) return std::nullopt;
  return min_rf + (max_rf - min_rf) * (wavelength_nm - min_wl) / (max_wl - min_wl);
}

double irradiance_from_panel(double mean_panel_radiance, double albedo) {
  return kPi * mean_panel_radiance / albedo;
}

}  // namespace fieldrx
