// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_kernels.hpp"

#include <cmath>
#include <limits>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;

cv::Mat as_double(const cv::Mat& raw) {
  CV_Assert(raw.channels() == 1);
  cv::Mat out;
  raw.convertTo(out, CV_64F);
  return out;
}

}  // namespace

cv::Mat micasense_vignette(cv::Size size, double cx, double cy, const std::vector<double>& poly) {
  cv::Mat v(size, CV_64F);
  for (int y = 0; y < size.height; ++y) {
    double* row = v.ptr<double>(y);
    for (int x = 0; x < size.width; ++x) {
      const double r = std::hypot(x - cx, y - cy);
      // Horner on 1 + k1 r + ... + kn r^n.
      double p = 0;
      for (auto it = poly.rbegin(); it != poly.rend(); ++it) p = (p + *it) * r;
      row[x] = 1.0 / (1.0 + p);
    }
  }
  return v;
}

cv::Mat micasense_row_gradient(int height, double a2, double a3, double exposure_s) {
  cv::Mat r(height, 1, CV_64F);
  for (int y = 0; y < height; ++y) r.at<double>(y) = 1.0 / (1.0 + a2 * y / exposure_s - a3 * y);
  return r;
}

namespace {

// V * R * max(DN - BL, 0) / (g t 2^bits), times `scale`.
cv::Mat micasense_corrected(const cv::Mat& raw, const MicaSenseRadiometry& r, double scale) {
  const cv::Mat dn = as_double(raw);
  const cv::Mat v = micasense_vignette(raw.size(), r.vignette_cx, r.vignette_cy, r.vignette_poly);
  const cv::Mat rows = micasense_row_gradient(raw.rows, r.cal[1], r.cal[2], r.exposure_s);
  const double k = scale / (r.gain * r.exposure_s * std::ldexp(1.0, r.bits));
  cv::Mat out(raw.size(), CV_32F);
  for (int y = 0; y < raw.rows; ++y) {
    const double* d = dn.ptr<double>(y);
    const double* vv = v.ptr<double>(y);
    const double ry = rows.at<double>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const double l = vv[x] * ry * (d[x] - r.black_level);
      o[x] = static_cast<float>((l < 0 ? 0.0 : l) * k);
    }
  }
  return out;
}

}  // namespace

cv::Mat micasense_radiance(const cv::Mat& raw, const MicaSenseRadiometry& r) {
  return micasense_corrected(raw, r, r.cal[0]);
}

cv::Mat micasense_intensity(const cv::Mat& raw, const MicaSenseRadiometry& r) {
  return micasense_corrected(raw, r, 1.0);
}

cv::Mat dji_vignette(cv::Size size, double cx, double cy, const std::vector<double>& k) {
  cv::Mat v(size, CV_64F);
  for (int y = 0; y < size.height; ++y) {
    double* row = v.ptr<double>(y);
    for (int x = 0; x < size.width; ++x) {
      const double r = std::hypot(x - cx, y - cy);
      double p = 0;
      for (auto it = k.rbegin(); it != k.rend(); ++it) p = (p + *it) * r;
      row[x] = 1.0 + p;
    }
  }
  return v;
}

cv::Mat dji_signal(const cv::Mat& raw, const DjiRadiometry& r) {
  const cv::Mat dn = as_double(raw);
  const cv::Mat v = dji_vignette(raw.size(), r.center_x, r.center_y, r.vignetting);
  const double k = 1.0 / (r.sensor_gain * r.exposure_s * std::ldexp(1.0, r.bits));
  cv::Mat out(raw.size(), CV_32F);
  for (int y = 0; y < raw.rows; ++y) {
    const double* d = dn.ptr<double>(y);
    const double* vv = v.ptr<double>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < raw.cols; ++x) {
      // The vignetting attenuates light, not the dark offset: correct the signal above black.
      const double s = (d[x] - r.black_level) * vv[x];
      o[x] = static_cast<float>((s < 0 ? 0.0 : s) * k);
    }
  }
  return out;
}

cv::Mat sequoia_vignette(cv::Size size, const std::vector<int>& exponents,
                         const std::vector<double>& coefficients) {
  cv::Mat v(size, CV_64F, cv::Scalar(0));
  const std::size_t terms = std::min(exponents.size() / 2, coefficients.size());
  for (int y = 0; y < size.height; ++y) {
    double* row = v.ptr<double>(y);
    const double yn = static_cast<double>(y) / size.height;
    for (int x = 0; x < size.width; ++x) {
      const double xn = static_cast<double>(x) / size.width;
      double s = 0;
      for (std::size_t i = 0; i < terms; ++i) {
        s += coefficients[i] * std::pow(xn, exponents[2 * i]) * std::pow(yn, exponents[2 * i + 1]);
      }
      row[x] = s;
    }
  }
  return v;
}

cv::Mat sequoia_irradiance(const cv::Mat& raw, const SequoiaRadiometry& r) {
  const cv::Mat dn = as_double(raw);
  const cv::Mat v = sequoia_vignette(raw.size(), r.exponents, r.coefficients);
  const double f2 = r.f_number * r.f_number;
  const double den = r.a * r.exposure_s * r.iso + r.c;
  cv::Mat out(raw.size(), CV_32F);
  for (int y = 0; y < raw.rows; ++y) {
    const double* d = dn.ptr<double>(y);
    const double* vv = v.ptr<double>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const double value = f2 * (d[x] / vv[x] - r.b) / den;
      o[x] = std::isfinite(value) ? static_cast<float>(value < 0 ? 0.0 : value)
                                  : std::numeric_limits<float>::quiet_NaN();
    }
  }
  return out;
}

cv::Mat thermal_celsius(const cv::Mat& raw) {
  cv::Mat out;
  raw.convertTo(out, CV_32F, 0.01, -273.15);
  return out;
}

cv::Mat reflectance_from_radiance(const cv::Mat& radiance, double irradiance) {
  cv::Mat out;
  if (!(irradiance > 0) || !std::isfinite(irradiance)) {
    out.create(radiance.size(), CV_32F);
    out.setTo(std::numeric_limits<float>::quiet_NaN());
    return out;
  }
  radiance.convertTo(out, CV_32F, kPi / irradiance);
  return out;
}

cv::Matx33d camera_matrix(double fx, double fy, double cx, double cy) {
  return cv::Matx33d(fx, 0, cx, 0, fy, cy, 0, 0, 1);
}

cv::Matx33d undistorted_camera_matrix(const cv::Matx33d& k, const std::array<double, 5>& dist,
                                      cv::Size size) {
  const cv::Mat d(1, 5, CV_64F, const_cast<double*>(dist.data()));
  const cv::Mat new_k = cv::getOptimalNewCameraMatrix(cv::Mat(k), d, size, 1.0);
  return cv::Matx33d(new_k);
}

UndistortMaps undistort_maps(const cv::Matx33d& k, const std::array<double, 5>& dist,
                             cv::Size size) {
  UndistortMaps maps;
  maps.new_k = undistorted_camera_matrix(k, dist, size);
  const cv::Mat d(1, 5, CV_64F, const_cast<double*>(dist.data()));
  cv::initUndistortRectifyMap(cv::Mat(k), d, cv::Mat::eye(3, 3, CV_64F), cv::Mat(maps.new_k), size,
                              CV_32FC1, maps.map_x, maps.map_y);
  return maps;
}

cv::Mat undistort(const cv::Mat& image, const UndistortMaps& maps, double border) {
  cv::Mat out;
  cv::remap(image, out, maps.map_x, maps.map_y, cv::INTER_LINEAR, cv::BORDER_CONSTANT,
            cv::Scalar(border));
  return out;
}

}  // namespace fieldrx

namespace fieldrx {
namespace {

double fisheye_rho(const std::array<double, 5>& p, double theta) {
  return p[0] + theta * (p[1] + theta * (p[2] + theta * (p[3] + theta * p[4])));
}

}  // namespace

cv::Point2d fisheye_distort_point(const FisheyeLens& lens, const cv::Matx33d& k, cv::Point2d u) {
  // The ray of the undistorted pixel, at Z = 1.
  const double x = (u.x - k(0, 2)) / k(0, 0);
  const double y = (u.y - k(1, 2)) / k(1, 1);
  const double r = std::hypot(x, y);
  double xh = 0, yh = 0;  // on the optical axis the direction is undefined; p0 is 0 on Sequoia
  if (r > 0) {
    const double theta = 2.0 / kPi * std::atan(r);
    const double scale = fisheye_rho(lens.p, theta) / r;
    xh = x * scale;
    yh = y * scale;
  }
  const cv::Vec2d d = lens.affine * cv::Vec2d(xh, yh);
  return {d[0] + lens.center.x, d[1] + lens.center.y};
}

cv::Point2d fisheye_undistort_point(const FisheyeLens& lens, const cv::Matx33d& k, cv::Point2d d) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const cv::Vec2d h = lens.affine.inv() * cv::Vec2d(d.x - lens.center.x, d.y - lens.center.y);
  const double rho = std::hypot(h[0], h[1]);
  double x = 0, y = 0;
  if (rho > 0) {
    const auto& p = lens.p;
    double theta = p[1] > 0 ? (rho - p[0]) / p[1] : rho;
    for (int i = 0; i < 50; ++i) {
      const double slope = p[1] + theta * (2 * p[2] + theta * (3 * p[3] + 4 * p[4] * theta));
      if (!(slope > 0)) return {kNaN, kNaN};
      const double step = (fisheye_rho(p, theta) - rho) / slope;
      theta -= step;
      if (std::fabs(step) < 1e-15) break;
    }
    if (!(theta >= 0 && theta < 1)) return {kNaN, kNaN};
    const double r = std::tan(theta * kPi / 2);
    x = h[0] / rho * r;
    y = h[1] / rho * r;
  }
  return {k(0, 0) * x + k(0, 2), k(1, 1) * y + k(1, 2)};
}

UndistortMaps fisheye_undistort_maps(const FisheyeLens& lens, const cv::Matx33d& k, cv::Size size) {
  UndistortMaps maps;
  maps.new_k = k;
  maps.map_x.create(size, CV_32F);
  maps.map_y.create(size, CV_32F);
  for (int v = 0; v < size.height; ++v) {
    float* mx = maps.map_x.ptr<float>(v);
    float* my = maps.map_y.ptr<float>(v);
    for (int u = 0; u < size.width; ++u) {
      const cv::Point2d d = fisheye_distort_point(lens, k, {double(u), double(v)});
      mx[u] = static_cast<float>(d.x);
      my[u] = static_cast<float>(d.y);
    }
  }
  return maps;
}

UndistortMaps rotate_maps_180(const UndistortMaps& maps, cv::Size source_size) {
  UndistortMaps out;
  cv::flip(maps.map_x, out.map_x, -1);
  cv::flip(maps.map_y, out.map_y, -1);
  out.map_x = static_cast<float>(source_size.width - 1) - out.map_x;
  out.map_y = static_cast<float>(source_size.height - 1) - out.map_y;
  out.new_k = maps.new_k;
  out.new_k(0, 2) = maps.map_x.cols - 1 - maps.new_k(0, 2);
  out.new_k(1, 2) = maps.map_x.rows - 1 - maps.new_k(1, 2);
  return out;
}

}  // namespace fieldrx
