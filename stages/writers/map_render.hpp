// SPDX-License-Identifier: Apache-2.0
#pragma once
// Map figures for previews and reports, drawn with OpenCV (pure: no GDAL, no I/O).
// A figure is the map itself plus a title, a legend (a continuous colour ramp with ticks, or
// one swatch per class), a scale bar and a north arrow. NaN cells are transparent.
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace fieldrx {

// ColorBrewer RdYlGn (11 classes): red = low vigour, green = high, the convention of
// crop-health maps (Brewer, colorbrewer2.org).
cv::Vec3b ramp_colour(double t);  // t in [0, 1], clamped; BGR

// Values -> BGRA image: linear ramp between lo and hi, NaN transparent.
cv::Mat colorize(const cv::Mat& values, double lo, double hi);

// Classes (CV_8U, 0 = none) -> BGRA image with the given colours (index = class - 1).
cv::Mat colorize_classes(const cv::Mat& classes, const std::vector<cv::Vec3b>& colours);

// Evenly spread ramp colours for k classes (class 1 = low end).
std::vector<cv::Vec3b> class_colours(int classes);

// The value at percentile p (0..100) of the finite values, linear interpolation; NaN if none.
double finite_percentile(const cv::Mat& values, double p);

struct LegendItem {
  cv::Vec3b colour;
  std::string label;
};

struct MapFigure {
  cv::Mat map_bgra;                 // the map, BGRA, north up
  std::string title;
  // Continuous legend (ramp_lo < ramp_hi) or, when `items` is not empty, a class legend.
  double ramp_lo = 0, ramp_hi = 0;
  std::string ramp_unit;
  std::vector<LegendItem> items;
  double metres_per_pixel = 0;      // 0: no scale bar (unprojected or unknown)
  bool north_arrow = true;
};

// The finished figure on a white background, BGR.
cv::Mat render_figure(const MapFigure& figure);

// "1", "2", "5" x 10^k round length for a scale bar at most `max_metres` long.
double round_scale_length(double max_metres);

}  // namespace fieldrx
