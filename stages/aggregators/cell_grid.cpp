// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/cell_grid.hpp"

#include <cmath>
#include <deque>
#include <limits>
#include <map>

namespace fieldrx {

std::array<double, 2> metres_per_degree(double lat_deg) {
  const double phi = lat_deg * M_PI / 180.0;
  const double lat = 111132.92 - 559.82 * std::cos(2 * phi) + 1.175 * std::cos(4 * phi) - 0.0023 * std::cos(6 * phi);
  const double lon = 111412.84 * std::cos(phi) - 93.5 * std::cos(3 * phi) + 0.118 * std::cos(5 * phi);
  return {lat, lon};
}

CellGridGeometry make_cell_grid(double west_lon, double south_lat, double east_lon, double north_lat,
                                double cell_size_m) {
  const auto [m_lat, m_lon] = metres_per_degree((south_lat + north_lat) / 2);
  CellGridGeometry grid;
  grid.cell_size_m = cell_size_m;
  grid.cell_lat_deg = cell_size_m / m_lat;
  grid.cell_lon_deg = cell_size_m / m_lon;
  grid.west_lon = west_lon;
  grid.columns = std::max(1, static_cast<int>(std::ceil((east_lon - west_lon) / grid.cell_lon_deg - 1e-9)));
  grid.rows = std::max(1, static_cast<int>(std::ceil((north_lat - south_lat) / grid.cell_lat_deg - 1e-9)));
  grid.north_lat = south_lat + grid.rows * grid.cell_lat_deg;
  return grid;
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
