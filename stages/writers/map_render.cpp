// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/map_render.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace fieldrx {
namespace {

// RdYlGn 11, from colorbrewer2.org, as RGB.
constexpr unsigned char kRdYlGn[11][3] = {
    {165, 0, 38},    {215, 48, 39},   {244, 109, 67}, {253, 174, 97}, {254, 224, 139}, {255, 255, 191},
    {217, 239, 139}, {166, 217, 106}, {102, 189, 99}, {26, 152, 80},  {0, 104, 55}};

// YlGnBu 9, from colorbrewer2.org, as RGB.
constexpr unsigned char kYlGnBu[9][3] = {{255, 255, 217}, {237, 248, 177}, {199, 233, 180},
                                         {127, 205, 187}, {65, 182, 196},  {29, 145, 192},
                                         {34, 94, 168},   {37, 52, 148},   {8, 29, 88}};

const cv::Scalar kInk(30, 30, 30);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string format_tick(double v) {
  char text[32];
  const double a = std::abs(v);
  std::snprintf(text, sizeof text, a != 0 && (a < 0.01 || a >= 10000) ? "%.2e" : a < 10 ? "%.2f" : "%.0f", v);
  return text;
}

std::string format_length(double metres) {
  char text[32];
  if (metres >= 1000) {
    std::snprintf(text, sizeof text, "%g km", metres / 1000);
  } else {
    std::snprintf(text, sizeof text, "%g m", metres);
  }
  return text;
}

void draw_text(cv::Mat& canvas, const std::string& text, cv::Point at, double scale = 0.5, int thickness = 1) {
  cv::putText(canvas, text, at, kFont, scale, kInk, thickness, cv::LINE_AA);
}

}  // namespace

cv::Vec3b ramp_colour(double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double x = t * 10.0;
  const int i = std::min(9, static_cast<int>(x));
  const double f = x - i;
  cv::Vec3b bgr;
  for (int c = 0; c < 3; ++c) {
    const double v = kRdYlGn[i][c] * (1 - f) + kRdYlGn[i + 1][c] * f;
    bgr[2 - c] = static_cast<unsigned char>(std::lround(v));
  }
  return bgr;
}

cv::Vec3b sequential_colour(double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double x = t * 8.0;
  const int i = std::min(7, static_cast<int>(x));
  const double f = x - i;
  cv::Vec3b bgr;
  for (int c = 0; c < 3; ++c) {
    const double v = kYlGnBu[i][c] * (1 - f) + kYlGnBu[i + 1][c] * f;
    bgr[2 - c] = static_cast<unsigned char>(std::lround(v));
  }
  return bgr;
}

std::vector<cv::Vec3b> sequential_class_colours(int classes) {
  // Start a little above the palette's near-white end so the lightest class still shows on
  // the white page.
  std::vector<cv::Vec3b> colours;
  for (int k = 0; k < classes; ++k) {
    colours.push_back(sequential_colour(classes > 1 ? 0.15 + 0.85 * k / (classes - 1) : 0.5));
  }
  return colours;
}

int cell_zoom_factor(cv::Size size, int max_px) {
  const int long_side = std::max(size.width, size.height);
  if (long_side <= 0 || max_px <= 0) return 1;
  return std::max(1, max_px / long_side);
}

cv::Mat block_mean(const cv::Mat& values, int factor) {
  CV_Assert(values.type() == CV_32F && factor >= 1);
  if (factor == 1) return values.clone();
  const int rows = (values.rows + factor - 1) / factor, cols = (values.cols + factor - 1) / factor;
  cv::Mat sums = cv::Mat::zeros(rows, cols, CV_64F), counts = cv::Mat::zeros(rows, cols, CV_32S);
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    auto* s = sums.ptr<double>(r / factor);
    auto* n = counts.ptr<int>(r / factor);
    for (int c = 0; c < values.cols; ++c) {
      if (!std::isfinite(v[c])) continue;
      s[c / factor] += v[c];
      n[c / factor] += 1;
    }
  }
  cv::Mat out(rows, cols, CV_32F);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int n = counts.at<int>(r, c);
      out.at<float>(r, c) = n > 0 ? static_cast<float>(sums.at<double>(r, c) / n) : NAN;
    }
  }
  return out;
}

namespace {

template <typename Ramp>
cv::Mat colorize_with(const cv::Mat& values, double lo, double hi, Ramp ramp) {
  CV_Assert(values.type() == CV_32F);
  cv::Mat out(values.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
  const double span = hi > lo ? hi - lo : 1.0;
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    auto* o = out.ptr<cv::Vec4b>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (!std::isfinite(v[c])) continue;
      const cv::Vec3b colour = ramp((v[c] - lo) / span);
      o[c] = {colour[0], colour[1], colour[2], 255};
    }
  }
  return out;
}

}  // namespace

cv::Mat colorize_sequential(const cv::Mat& values, double lo, double hi) {
  return colorize_with(values, lo, hi, sequential_colour);
}

cv::Mat colorize(const cv::Mat& values, double lo, double hi) {
  return colorize_with(values, lo, hi, ramp_colour);
}

std::vector<cv::Vec3b> class_colours(int classes) {
  std::vector<cv::Vec3b> colours;
  for (int k = 0; k < classes; ++k) colours.push_back(ramp_colour(classes > 1 ? double(k) / (classes - 1) : 0.5));
  return colours;
}

cv::Mat colorize_classes(const cv::Mat& classes, const std::vector<cv::Vec3b>& colours) {
  CV_Assert(classes.type() == CV_8U);
  cv::Mat out(classes.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
  for (int r = 0; r < classes.rows; ++r) {
    const auto* k = classes.ptr<unsigned char>(r);
    auto* o = out.ptr<cv::Vec4b>(r);
    for (int c = 0; c < classes.cols; ++c) {
      if (k[c] == 0 || k[c] > colours.size()) continue;
      const cv::Vec3b colour = colours[k[c] - 1u];
      o[c] = {colour[0], colour[1], colour[2], 255};
    }
  }
  return out;
}

double finite_percentile(const cv::Mat& values, double p) {
  std::vector<float> finite;
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (std::isfinite(v[c])) finite.push_back(v[c]);
    }
  }
  if (finite.empty()) return std::nan("");
  std::sort(finite.begin(), finite.end());
  const double position = std::clamp(p, 0.0, 100.0) / 100.0 * (finite.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, finite.size() - 1);
  return finite[below] + (position - below) * (finite[above] - finite[below]);
}

double round_scale_length(double max_metres) {
  if (!(max_metres > 0)) return 0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(max_metres)));
  for (double step : {5.0, 2.0, 1.0}) {
    if (step * magnitude <= max_metres) return step * magnitude;
  }
  return magnitude;
}

cv::Mat render_figure(const MapFigure& figure) {
  const int margin = 16, title_height = 36;
  // Wide enough for the longest class label ("Zone 1 (mean NDVI 0.41)"), never narrower than
  // the ramp legend needs.
  int legend_width = 170;
  for (const auto& item : figure.items) {
    int baseline = 0;
    const int text_width = cv::getTextSize(item.label, kFont, 0.45, 1, &baseline).width;
    legend_width = std::max(legend_width, 28 + text_width + 8);
  }
  // Keep small maps legible: draw them at least 400 px on the long side (nearest neighbour).
  cv::Mat map = figure.map_bgra;
  const int long_side = std::max(map.cols, map.rows);
  double zoom = 1;
  if (long_side > 0 && long_side < 400) {
    zoom = std::floor(400.0 / long_side);
    cv::resize(map, map, cv::Size(), zoom, zoom, cv::INTER_NEAREST);
  }
  const int legend_height = figure.items.empty() ? 260 : 30 + 26 * static_cast<int>(figure.items.size());
  const int height = std::max(map.rows, legend_height + 90) + title_height + 2 * margin + 40;
  int baseline = 0;
  const int title_width = cv::getTextSize(figure.title, kFont, 0.65, 2, &baseline).width;
  const int width = std::max(map.cols + legend_width + 3 * margin, title_width + 2 * margin);
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  draw_text(canvas, figure.title, {margin, margin + 18}, 0.65, 2);

  // Map, alpha-blended over white, with a thin frame.
  const cv::Rect map_area(margin, margin + title_height, map.cols, map.rows);
  for (int r = 0; r < map.rows; ++r) {
    const auto* src = map.ptr<cv::Vec4b>(r);
    auto* dst = canvas.ptr<cv::Vec3b>(map_area.y + r) + map_area.x;
    for (int c = 0; c < map.cols; ++c) {
      const double a = src[c][3] / 255.0;
      for (int k = 0; k < 3; ++k) dst[c][k] = static_cast<unsigned char>(std::lround(src[c][k] * a + dst[c][k] * (1 - a)));
    }
  }
  cv::rectangle(canvas, map_area, cv::Scalar(180, 180, 180), 1);

  // Legend.
  const int lx = map_area.x + map_area.width + margin, ly = map_area.y;
  if (figure.items.empty()) {
    const int bar_h = 200, bar_w = 24;
    for (int y = 0; y < bar_h; ++y) {
      const double t = 1.0 - double(y) / (bar_h - 1);
      const cv::Vec3b c = figure.sequential_ramp ? sequential_colour(t) : ramp_colour(t);
      cv::line(canvas, {lx, ly + y}, {lx + bar_w, ly + y}, cv::Scalar(c[0], c[1], c[2]));
    }
    cv::rectangle(canvas, cv::Rect(lx, ly, bar_w + 1, bar_h), kInk, 1);
    for (int k = 0; k <= 4; ++k) {
      const double v = figure.ramp_hi - k * (figure.ramp_hi - figure.ramp_lo) / 4;
      const int y = ly + k * (bar_h - 1) / 4;
      cv::line(canvas, {lx + bar_w, y}, {lx + bar_w + 5, y}, kInk);
      draw_text(canvas, format_tick(v), {lx + bar_w + 8, y + 5}, 0.45);
    }
    if (!figure.ramp_unit.empty()) draw_text(canvas, figure.ramp_unit, {lx, ly + bar_h + 20}, 0.45);
  } else {
    for (std::size_t i = 0; i < figure.items.size(); ++i) {
      const int y = ly + static_cast<int>(i) * 26;
      const auto& c = figure.items[i].colour;
      cv::rectangle(canvas, cv::Rect(lx, y, 20, 18), cv::Scalar(c[0], c[1], c[2]), cv::FILLED);
      cv::rectangle(canvas, cv::Rect(lx, y, 20, 18), kInk, 1);
      draw_text(canvas, figure.items[i].label, {lx + 28, y + 14}, 0.45);
    }
  }

  // North arrow (maps are north-up) and scale bar under the legend.
  int y = ly + legend_height + 10;
  if (figure.north_arrow) {
    const cv::Point tip(lx + 20, y), left(lx + 10, y + 34), right(lx + 30, y + 34), notch(lx + 20, y + 26);
    std::vector<cv::Point> half_filled = {tip, notch, left};
    cv::fillConvexPoly(canvas, half_filled, kInk, cv::LINE_AA);
    cv::polylines(canvas, std::vector<cv::Point>{tip, right, notch, left, tip}, true, kInk, 1, cv::LINE_AA);
    draw_text(canvas, "N", {lx + 14, y + 52}, 0.55, 2);
    y += 66;
  }
  if (figure.metres_per_pixel > 0) {
    const double shown_mpp = figure.metres_per_pixel / zoom;
    const double metres = round_scale_length(shown_mpp * (legend_width - 30));
    const int bar_px = static_cast<int>(std::lround(metres / shown_mpp));
    cv::rectangle(canvas, cv::Rect(lx, y, bar_px / 2, 6), kInk, cv::FILLED);
    cv::rectangle(canvas, cv::Rect(lx, y, bar_px, 6), kInk, 1);
    draw_text(canvas, "0", {lx - 3, y + 22}, 0.4);
    draw_text(canvas, format_length(metres), {lx + bar_px - 12, y + 22}, 0.4);
  }
  return canvas;
}

}  // namespace fieldrx
