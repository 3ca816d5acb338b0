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
// The same on the sequential ramp (sequential_colour below), for amounts such as rates.
cv::Mat colorize_sequential(const cv::Mat& values, double lo, double hi);

// Classes (CV_8U, 0 = none) -> BGRA image with the given colours (index = class - 1).
cv::Mat colorize_classes(const cv::Mat& classes, const std::vector<cv::Vec3b>& colours);

// Evenly spread ramp colours for k classes (class 1 = low end).
std::vector<cv::Vec3b> class_colours(int classes);

// ColorBrewer YlGnBu (9 classes), light = low, dark blue = high: a sequential ramp for amounts
// (spray rates), so a rate map is never read as a red-to-green health map — with a
// compensatory ladder the weakest zone gets the most product.
cv::Vec3b sequential_colour(double t);  // t in [0, 1], clamped; BGR
// Evenly spread sequential colours for k classes (class 1 = lightest).
std::vector<cv::Vec3b> sequential_class_colours(int classes);

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
  bool sequential_ramp = false;     // continuous legend in sequential_colour, not RdYlGn
  std::vector<LegendItem> items;
  double metres_per_pixel = 0;      // 0: no scale bar (unprojected or unknown)
  bool north_arrow = true;
};

// The finished figure on a white background, BGR.
cv::Mat render_figure(const MapFigure& figure);

// Integer nearest-neighbour zoom for a grid of `size` cells so its long side is at most
// `max_px` pixels (at least 1): every cell becomes a crisp `f` x `f` square, so a scale bar
// drawn from metres per cell / f stays exact.
int cell_zoom_factor(cv::Size size, int max_px);

// NaN-aware block mean (CV_32F in and out) over `factor` x `factor` blocks (edge blocks
// partial): shrinks a preview to fit a figure without letting nodata darken the edges, as
// resizing colours with their alpha would. A block with no finite value is NaN.
cv::Mat block_mean(const cv::Mat& values, int factor);

// "1", "2", "5" x 10^k round length for a scale bar at most `max_metres` long.
double round_scale_length(double max_metres);

}  // namespace fieldrx
