// SPDX-License-Identifier: Apache-2.0
#pragma once
// Calibrated reflectance panel kernels (pure, cv::Mat): statistics over a panel polygon,
// MicaSense panel detection from its QR code, and irradiance from a panel.
//   Irradiance from a panel of albedo rho: E = pi * mean(L_panel) / rho  (Lambertian panel).
//   Region membership is the even-odd ray-casting test on (row, col) grid points, the rule
//   MicaSense's panel.py uses (skimage grid_points_in_poly), so pixel counts agree.
//   Panel geometry relative to the QR code: the panels' dimensions in mm as MicaSense panel.py
//   gives them (RP02, RP03-05, RP06+), mapped by the homography of the QR code's corners; the
//   QR code of RP04+ also encodes the albedo line.
#include <limits>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fieldrx {

struct RegionStats {
  double mean = 0, stddev = 0;  // population standard deviation (numpy's std)
  long count = 0;
  long saturated = 0;  // values > saturation threshold
};

// Statistics of `image` (one channel, any depth) over the polygon (x, y corners, any order
// around the outline). NaN pixels are left out.
RegionStats region_stats(const cv::Mat& image, const std::vector<cv::Point>& polygon,
                         double saturation_threshold = std::numeric_limits<double>::infinity());
cv::Mat polygon_mask(cv::Size size, const std::vector<cv::Point>& polygon);

// [upper-right, upper-left, lower-left, lower-right] in image coordinates (the order of
// MicaSense's ReflectArea) from four corners in any order.
std::vector<cv::Point> ordered_panel_coordinates(std::vector<cv::Point> corners);

struct PanelDetection {
  bool found = false;
  std::string serial;  // "RP02-1603036-SC"
  int version = 0;     // RP<version>
  std::vector<cv::Point> qr_corners;
  std::vector<cv::Point> panel_corners;
};

// Finds a MicaSense panel: the QR code (zbar on an 8-bit rendering of the
// undistorted radiance), its serial, then the panel area from the version's reference
// geometry, choosing among the four QR orientations the one whose area on `raw` is most
// uniform (lowest std/mean). `raw` is the frame used for that cost (MicaSense: raw DN).
PanelDetection detect_micasense_panel(const cv::Mat& undistorted_radiance, const cv::Mat& raw);

// Panel albedo encoded in an RP04+ serial at a wavelength (linear between its two
// wavelength/reflectance pairs); nullopt for earlier panels (their albedo comes with the panel).
std::optional<double> panel_albedo_from_serial(const std::string& serial, double wavelength_nm);

// E = pi * L / rho.
double irradiance_from_panel(double mean_panel_radiance, double albedo);

}  // namespace fieldrx
