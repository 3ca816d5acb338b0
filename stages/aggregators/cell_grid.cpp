// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/cell_grid.hpp"

#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

namespace fieldrx {

std::array<double, 2> metres_per_degree(double lat_deg) {
  const double phi = lat_deg * M_PI / 180.0;
  const double lat = 111132.92 - 559.82 * std::cos(2 * phi) + 1.175 * std::cos(4 * phi) - 0.0023 * std::cos(6 * phi);
  const double lon = 111412.84 * std::cos(phi) - 93.5 * std::cos(3 * phi) + 0.118 * std::cos(5 * phi);
  return {lat, lon};
}

CellGridGeometry make_cell_grid(double west_lon, double south_lat, double east_lon, double north_lat,
                                double cell_size_m, double cell_width_m) {
  if (!(cell_width_m > 0)) cell_width_m = cell_size_m;
  const auto [m_lat, m_lon] = metres_per_degree((south_lat + north_lat) / 2);
  CellGridGeometry grid;
  grid.cell_size_m = cell_size_m;
  grid.cell_width_m = cell_width_m;
  const double cell_lat_deg = cell_size_m / m_lat, cell_lon_deg = cell_width_m / m_lon;
  grid.columns = std::max(1, static_cast<int>(std::ceil((east_lon - west_lon) / cell_lon_deg - 1e-9)));
  grid.rows = std::max(1, static_cast<int>(std::ceil((north_lat - south_lat) / cell_lat_deg - 1e-9)));
  grid.transform = {west_lon, cell_lon_deg, 0, south_lat + grid.rows * cell_lat_deg, 0, -cell_lat_deg};
  grid.anchor_lon = west_lon;
  grid.anchor_lat = south_lat;
  return grid;
}

namespace {

// East/north metres from a reference point, with the metres per degree of one latitude: over
// a field (a few km) this local plane is within centimetres of a conformal projection.
struct LocalMetres {
  double lon0, lat0, m_lat, m_lon;
  LocalMetres(double lon, double lat, double scale_lat) : lon0(lon), lat0(lat) {
    const auto m = metres_per_degree(scale_lat);
    m_lat = m[0], m_lon = m[1];
  }
  std::array<double, 2> metres(double lon, double lat) const { return {(lon - lon0) * m_lon, (lat - lat0) * m_lat}; }
};

double normalized_bearing(double degrees) {
  double b = std::fmod(degrees, 360.0);
  if (b < 0) b += 360.0;
  return b;
}

double central_latitude(const std::vector<std::array<double, 2>>& vertices) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& v : vertices) lo = std::min(lo, v[1]), hi = std::max(hi, v[1]);
  return (lo + hi) / 2;
}

// Unit vectors (east, north) across the line (to the right of A -> B) and back along it.
struct LineFrame {
  std::array<double, 2> across, back;
  explicit LineFrame(double heading_deg) {
    const double t = heading_deg * M_PI / 180.0;
    across = {std::cos(t), -std::sin(t)};
    back = {-std::sin(t), -std::cos(t)};
  }
};

}  // namespace

AbLine ab_line_through(double a_lon, double a_lat, double b_lon, double b_lat) {
  const LocalMetres local(a_lon, a_lat, (a_lat + b_lat) / 2);
  const auto d = local.metres(b_lon, b_lat);
  if (std::hypot(d[0], d[1]) < 1.0) {
    throw std::invalid_argument("A and B are " + std::to_string(std::hypot(d[0], d[1])) +
                                " m apart; an A-B line needs two points at least 1 m apart (lon,lat of A then of B)");
  }
  return {a_lon, a_lat, b_lon, b_lat, normalized_bearing(std::atan2(d[0], d[1]) * 180.0 / M_PI)};
}

AbLine longest_edge_line(const std::vector<std::array<double, 2>>& ring) {
  if (ring.size() < 2) throw std::invalid_argument("a boundary ring needs at least 2 vertices for its longest edge");
  const LocalMetres local(ring.front()[0], ring.front()[1], central_latitude(ring));
  double longest = -1;
  std::size_t start = 0;
  for (std::size_t i = 0; i < ring.size(); ++i) {
    const auto& a = ring[i];
    const auto& b = ring[(i + 1) % ring.size()];
    const auto pa = local.metres(a[0], a[1]), pb = local.metres(b[0], b[1]);
    const double length = std::hypot(pb[0] - pa[0], pb[1] - pa[1]);
    if (length > longest) longest = length, start = i;
  }
  if (longest < 1.0) throw std::invalid_argument("the boundary has no edge of 1 m or more to take an A-B line from");
  const auto& a = ring[start];
  const auto& b = ring[(start + 1) % ring.size()];
  return ab_line_through(a[0], a[1], b[0], b[1]);
}

AbLine edge_line_at_heading(const std::vector<std::array<double, 2>>& vertices, double heading_deg) {
  if (vertices.empty()) throw std::invalid_argument("no boundary vertices to anchor the A-B line on");
  const LocalMetres local(vertices.front()[0], vertices.front()[1], central_latitude(vertices));
  const LineFrame frame(heading_deg);
  double least_across = std::numeric_limits<double>::infinity();
  double least_back = least_across, most_back = -least_across;
  for (const auto& v : vertices) {
    const auto p = local.metres(v[0], v[1]);
    least_across = std::min(least_across, p[0] * frame.across[0] + p[1] * frame.across[1]);
    const double back = p[0] * frame.back[0] + p[1] * frame.back[1];
    least_back = std::min(least_back, back), most_back = std::max(most_back, back);
  }
  // A where the field starts along the line (most 'back'), B where it ends, both on the line
  // through the leftmost vertex.
  auto on_line = [&](double back) {
    const double e = least_across * frame.across[0] + back * frame.back[0];
    const double n = least_across * frame.across[1] + back * frame.back[1];
    return std::array<double, 2>{local.lon0 + e / local.m_lon, local.lat0 + n / local.m_lat};
  };
  const auto a = on_line(most_back), b = on_line(std::min(least_back, most_back - 1.0));
  return {a[0], a[1], b[0], b[1], normalized_bearing(heading_deg)};
}

CellGridGeometry make_ab_line_grid(const std::vector<std::array<double, 2>>& vertices, const AbLine& line,
                                   double cell_size_m, double cell_width_m) {
  if (vertices.empty()) throw std::invalid_argument("no boundary vertices to lay the A-B grid over");
  if (!(cell_width_m > 0)) cell_width_m = cell_size_m;
  const LocalMetres local(line.a_lon, line.a_lat, central_latitude(vertices));
  const LineFrame frame(line.heading_deg);
  // The field's extent in whole cells across and along the line, counted from A.
  double across_min = std::numeric_limits<double>::infinity(), across_max = -across_min;
  double back_min = across_min, back_max = -across_min;
  for (const auto& v : vertices) {
    const auto p = local.metres(v[0], v[1]);
    const double across = p[0] * frame.across[0] + p[1] * frame.across[1];
    const double back = p[0] * frame.back[0] + p[1] * frame.back[1];
    across_min = std::min(across_min, across), across_max = std::max(across_max, across);
    back_min = std::min(back_min, back), back_max = std::max(back_max, back);
  }
  // A vertex less than a millimetre past a cell edge opens no new row or column: with the
  // line's bearing taken at one latitude and the plane at another, a boundary drawn along the
  // line strays by fractions of a millimetre.
  const double slack_m = 1e-3;
  const double col0 = std::floor((across_min + slack_m) / cell_width_m), col1 = std::ceil((across_max - slack_m) / cell_width_m);
  const double row0 = std::floor((back_min + slack_m) / cell_size_m), row1 = std::ceil((back_max - slack_m) / cell_size_m);
  CellGridGeometry grid;
  grid.cell_size_m = cell_size_m;
  grid.cell_width_m = cell_width_m;
  grid.heading_deg = line.heading_deg;
  grid.anchor_lon = line.a_lon;
  grid.anchor_lat = line.a_lat;
  grid.line_b_lon = line.b_lon;
  grid.line_b_lat = line.b_lat;
  grid.columns = std::max(1, static_cast<int>(col1 - col0));
  grid.rows = std::max(1, static_cast<int>(row1 - row0));
  // Metric steps of one column and one row, then the origin (corner of cell 0, 0), in degrees.
  const double ce = cell_width_m * frame.across[0], cn = cell_width_m * frame.across[1];
  const double re = cell_size_m * frame.back[0], rn = cell_size_m * frame.back[1];
  const double origin_e = col0 * ce + row0 * re, origin_n = col0 * cn + row0 * rn;
  grid.transform = {line.a_lon + origin_e / local.m_lon, ce / local.m_lon, re / local.m_lon,
                    line.a_lat + origin_n / local.m_lat, cn / local.m_lat, rn / local.m_lat};
  return grid;
}

cv::Mat sample_cells(const cv::Mat& from_values, const CellGridGeometry& from, const CellGridGeometry& to,
                     const cv::Mat& wanted) {
  CV_Assert(from_values.type() == CV_8U && from_values.rows == from.rows && from_values.cols == from.columns);
  CV_Assert(wanted.type() == CV_8U && wanted.rows == to.rows && wanted.cols == to.columns);
  cv::Mat out = cv::Mat::zeros(to.rows, to.columns, CV_8U);
  for (int r = 0; r < to.rows; ++r) {
    for (int c = 0; c < to.columns; ++c) {
      if (!wanted.at<unsigned char>(r, c)) continue;
      const auto centre = to.lonlat_at(c + 0.5, r + 0.5);
      const auto cell = from.cell_coordinates(centre[0], centre[1]);
      const int fc = static_cast<int>(std::floor(cell[0])), fr = static_cast<int>(std::floor(cell[1]));
      if (fr >= 0 && fr < from.rows && fc >= 0 && fc < from.columns) out.at<unsigned char>(r, c) = from_values.at<unsigned char>(fr, fc);
    }
  }
  return out;
}

cv::Mat cell_rates(const cv::Mat& zones, const cv::Mat& treated, const std::vector<double>& rate_of_zone) {
  CV_Assert(zones.type() == CV_8U && treated.type() == CV_8U && zones.size() == treated.size());
  cv::Mat rates = cv::Mat::zeros(zones.size(), CV_32F);
  for (int r = 0; r < zones.rows; ++r) {
    for (int c = 0; c < zones.cols; ++c) {
      const int zone = zones.at<unsigned char>(r, c);
      if (zone > 0 && treated.at<unsigned char>(r, c) && static_cast<std::size_t>(zone) <= rate_of_zone.size()) {
        rates.at<float>(r, c) = static_cast<float>(rate_of_zone[static_cast<std::size_t>(zone - 1)]);
      }
    }
  }
  return rates;
}

CellAccumulator::CellAccumulator(int rows, int cols, int layers)
    : rows_(rows),
      cols_(cols),
      sums_(static_cast<std::size_t>(layers), std::vector<double>(static_cast<std::size_t>(rows) * cols)),
      counts_(static_cast<std::size_t>(layers), std::vector<int>(static_cast<std::size_t>(rows) * cols)) {}

void CellAccumulator::add(const int* cell_rows, const int* cell_cols, const std::vector<const float*>& values,
                          std::size_t n) {
  for (std::size_t layer = 0; layer < values.size(); ++layer) {
    auto& sums = sums_[layer];
    auto& counts = counts_[layer];
    const float* v = values[layer];
    for (std::size_t i = 0; i < n; ++i) {
      if (cell_rows[i] < 0 || !std::isfinite(v[i])) continue;
      const std::size_t cell = static_cast<std::size_t>(cell_rows[i]) * cols_ + cell_cols[i];
      sums[cell] += v[i];
      counts[cell] += 1;
    }
  }
}

void CellAccumulator::merge(const CellAccumulator& other) {
  for (std::size_t layer = 0; layer < sums_.size(); ++layer) {
    for (std::size_t i = 0; i < sums_[layer].size(); ++i) {
      sums_[layer][i] += other.sums_[layer][i];
      counts_[layer][i] += other.counts_[layer][i];
    }
  }
}

void CellAccumulator::merge_at(const CellAccumulator& other, int row0, int col0) {
  for (std::size_t layer = 0; layer < sums_.size(); ++layer) {
    for (int r = 0; r < other.rows_; ++r) {
      for (int c = 0; c < other.cols_; ++c) {
        const std::size_t from = static_cast<std::size_t>(r) * other.cols_ + c;
        const std::size_t to = static_cast<std::size_t>(r + row0) * cols_ + (c + col0);
        sums_[layer][to] += other.sums_[layer][from];
        counts_[layer][to] += other.counts_[layer][from];
      }
    }
  }
}

cv::Mat CellAccumulator::means(int layer) const {
  cv::Mat out(rows_, cols_, CV_32F);
  const auto& sums = sums_[static_cast<std::size_t>(layer)];
  const auto& counts = counts_[static_cast<std::size_t>(layer)];
  for (int r = 0; r < rows_; ++r) {
    for (int c = 0; c < cols_; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * cols_ + c;
      out.at<float>(r, c) = counts[i] > 0 ? static_cast<float>(sums[i] / counts[i]) : std::numeric_limits<float>::quiet_NaN();
    }
  }
  return out;
}

int fill_unzoned_cells(cv::Mat& zones, const cv::Mat& wanted) {
  CV_Assert(zones.type() == CV_8U && wanted.type() == CV_8U && zones.size() == wanted.size());
  // Breadth-first from every zoned cell at once; within one ring, cells are visited in raster
  // order of their source and lower zones first, so ties go to the lower zone deterministically.
  std::deque<std::pair<int, int>> frontier;
  for (int zone = 1; zone <= 255; ++zone) {
    for (int r = 0; r < zones.rows; ++r) {
      for (int c = 0; c < zones.cols; ++c) {
        if (zones.at<unsigned char>(r, c) == zone) frontier.emplace_back(r, c);
      }
    }
  }
  int filled = 0;
  const int dr[] = {-1, 1, 0, 0}, dc[] = {0, 0, -1, 1};
  while (!frontier.empty()) {
    const auto [r, c] = frontier.front();
    frontier.pop_front();
    const unsigned char zone = zones.at<unsigned char>(r, c);
    for (int k = 0; k < 4; ++k) {
      const int nr = r + dr[k], nc = c + dc[k];
      if (nr < 0 || nc < 0 || nr >= zones.rows || nc >= zones.cols) continue;
      if (zones.at<unsigned char>(nr, nc) != 0 || wanted.at<unsigned char>(nr, nc) == 0) continue;
      zones.at<unsigned char>(nr, nc) = zone;
      ++filled;
      frontier.emplace_back(nr, nc);
    }
  }
  return filled;
}

std::vector<SmallPatch> merge_patches_below_area(cv::Mat& zones, const cv::Mat& cell_area_m2,
                                                 const std::vector<std::vector<double>>& zone_signatures,
                                                 double min_area_m2) {
  CV_Assert(zones.type() == CV_8U && cell_area_m2.type() == CV_64F && zones.size() == cell_area_m2.size());
  const int dr[] = {-1, 1, 0, 0}, dc[] = {0, 0, -1, 1};
  auto distance = [&](int a, int b) {
    const auto& sa = zone_signatures.at(static_cast<std::size_t>(a - 1));
    const auto& sb = zone_signatures.at(static_cast<std::size_t>(b - 1));
    double d = 0;
    for (std::size_t i = 0; i < sa.size(); ++i) d += (sa[i] - sb[i]) * (sa[i] - sb[i]);
    return std::isfinite(d) ? d : std::numeric_limits<double>::infinity();
  };
  while (true) {
    // Label every patch; record its area and the border it shares with each other zone.
    cv::Mat label(zones.size(), CV_32S, cv::Scalar(-1));
    struct Patch {
      int zone;
      double area = 0;
      std::vector<std::pair<int, int>> cells;
      std::map<int, int> border;  // neighbouring zone -> shared cell edges
    };
    std::vector<Patch> patches;
    for (int r = 0; r < zones.rows; ++r) {
      for (int c = 0; c < zones.cols; ++c) {
        const int zone = zones.at<unsigned char>(r, c);
        if (zone == 0 || label.at<int>(r, c) >= 0) continue;
        Patch patch{zone};
        const int id = static_cast<int>(patches.size());
        std::deque<std::pair<int, int>> todo{{r, c}};
        label.at<int>(r, c) = id;
        while (!todo.empty()) {
          const auto [pr, pc] = todo.front();
          todo.pop_front();
          patch.cells.emplace_back(pr, pc);
          patch.area += cell_area_m2.at<double>(pr, pc);
          for (int k = 0; k < 4; ++k) {
            const int nr = pr + dr[k], nc = pc + dc[k];
            if (nr < 0 || nc < 0 || nr >= zones.rows || nc >= zones.cols) continue;
            const int other = zones.at<unsigned char>(nr, nc);
            if (other == 0) continue;
            if (other != zone) {
              patch.border[other] += 1;
            } else if (label.at<int>(nr, nc) < 0) {
              label.at<int>(nr, nc) = id;
              todo.emplace_back(nr, nc);
            }
          }
        }
        patches.push_back(std::move(patch));
      }
    }
    // The smallest mergeable patch below the minimum (ties: first in raster order).
    const Patch* smallest = nullptr;
    std::vector<SmallPatch> isolated;
    for (const auto& patch : patches) {
      if (patch.area >= min_area_m2) continue;
      if (patch.border.empty()) {
        isolated.push_back({patch.zone, patch.area});
      } else if (smallest == nullptr || patch.area < smallest->area) {
        smallest = &patch;
      }
    }
    if (smallest == nullptr) return isolated;
    int target = 0;
    for (const auto& [zone, edges] : smallest->border) {
      if (target == 0) {
        target = zone;
        continue;
      }
      const double d = distance(smallest->zone, zone), best = distance(smallest->zone, target);
      if (d < best || (d == best && edges > smallest->border.at(target))) target = zone;
    }
    for (const auto& [r, c] : smallest->cells) zones.at<unsigned char>(r, c) = static_cast<unsigned char>(target);
  }
}

}  // namespace fieldrx
