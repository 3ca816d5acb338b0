// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/cell_grid.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace {

using namespace fieldrx;
using LonLat = std::array<double, 2>;

// A rectangle of `length` m along bearing `heading` and `width` m to its right, from `a`, in
// the plane the grid kernels use: metres per degree at the rectangle's central latitude.
std::vector<LonLat> rectangle(LonLat a, double heading_deg, double length, double width) {
  const double t = heading_deg * M_PI / 180;
  const double along_e = std::sin(t), along_n = std::cos(t), across_e = std::cos(t), across_n = -std::sin(t);
  double scale_lat = a[1];
  std::vector<LonLat> corners;
  for (int pass = 0; pass < 3; ++pass) {  // the central latitude depends on the corners: iterate
    const auto [m_lat, m_lon] = metres_per_degree(scale_lat);
    auto at = [&](double along, double across) {
      return LonLat{a[0] + (along * along_e + across * across_e) / m_lon, a[1] + (along * along_n + across * across_n) / m_lat};
    };
    corners = {at(0, 0), at(length, 0), at(length, width), at(0, width)};
    double lo = 90, hi = -90;
    for (const auto& c : corners) lo = std::min(lo, c[1]), hi = std::max(hi, c[1]);
    scale_lat = (lo + hi) / 2;
  }
  return corners;
}

double bearing_deg(LonLat from, LonLat to) {
  const auto [m_lat, m_lon] = metres_per_degree((from[1] + to[1]) / 2);
  double b = std::atan2((to[0] - from[0]) * m_lon, (to[1] - from[1]) * m_lat) * 180 / M_PI;
  return b < 0 ? b + 360 : b;
}

}  // namespace

TEST_CASE("metres per degree at 45 degrees match the WGS84 values", "[grid][kernel]") {
  // Published (e.g. the NGA / Wikipedia 'length of a degree' table): 111132.95 m and 78846.81 m at 45 deg.
  const auto m = metres_per_degree(45.0);
  CHECK(m[0] == Approx(111132.95).margin(0.05));
  CHECK(m[1] == Approx(78846.81).margin(0.05));
}

TEST_CASE("an A-B line's bearing from two points and from a field's longest edge", "[grid][kernel]") {
  const LonLat a{126.5, 47.2};
  for (double heading : {0.0, 30.0, 90.0, 135.5, 200.0, 359.0}) {
    const auto corners = rectangle(a, heading, 400, 120);
    const AbLine through = ab_line_through(a[0], a[1], corners[1][0], corners[1][1]);
    // ab_line_through measures at the A-B midpoint's latitude, the rectangle at its centre's.
    CHECK(through.heading_deg == Approx(heading).margin(2e-3));
    // The longest edge is the 400 m one starting at A.
    const AbLine longest = longest_edge_line(corners);
    CHECK(longest.a_lon == a[0]);
    CHECK(longest.a_lat == a[1]);
    CHECK(longest.heading_deg == Approx(heading).margin(1e-6));
  }
  CHECK_THROWS_WITH(ab_line_through(126.5, 47.2, 126.5, 47.2000001), Catch::Contains("at least 1 m apart"));
}

TEST_CASE("a heading's A-B line runs along the field's left edge from start to end", "[grid][kernel]") {
  const auto corners = rectangle({126.5, 47.2}, 30, 400, 120);
  auto near = [](double lon, double lat, LonLat corner) {
    const auto [m_lat, m_lon] = metres_per_degree(lat);
    return std::hypot((lon - corner[0]) * m_lon, (lat - corner[1]) * m_lat) < 0.01;
  };
  // Looking along 30 deg, the left edge is corner 0 -> corner 1.
  const AbLine forward = edge_line_at_heading(corners, 30);
  CHECK(near(forward.a_lon, forward.a_lat, corners[0]));
  CHECK(near(forward.b_lon, forward.b_lat, corners[1]));
  CHECK(forward.heading_deg == 30);
  // Looking along 210 deg, it is the far side, from corner 2 to corner 3.
  const AbLine back = edge_line_at_heading(corners, 210);
  CHECK(near(back.a_lon, back.a_lat, corners[2]));
  CHECK(near(back.b_lon, back.b_lat, corners[3]));
  CHECK(back.heading_deg == 210);
}

TEST_CASE("an A-B grid has whole cells along and across the line from A", "[grid][kernel]") {
  const LonLat a{126.5, 47.2};
  // A little short of whole cells: the kernel measures at the field's central latitude, this
  // test at A's, and 120 m could come out a hair over 20 columns.
  const double heading = 30, length = 399.5, width = 119.5;
  const auto field = rectangle(a, heading, length, width);
  const CellGridGeometry grid = make_ab_line_grid(field, ab_line_through(a[0], a[1], field[1][0], field[1][1]), 10, 6);
  CHECK_FALSE(grid.north_aligned());
  CHECK(grid.columns == 20);  // 120 m across / 6 m
  CHECK(grid.rows == 40);     // 400 m along / 10 m
  CHECK(grid.heading_deg == Approx(heading).margin(1e-9));
  // Columns step to the right of A -> B, rows step back along the line: the line runs from
  // the corner of the last row's cell back up the first column.
  const LonLat origin = grid.lonlat_at(0, 0), last_row = grid.lonlat_at(0, grid.rows);
  CHECK(bearing_deg(last_row, origin) == Approx(heading).margin(0.01));
  CHECK(bearing_deg(origin, grid.lonlat_at(1, 0)) == Approx(heading + 90).margin(0.01));
  // A lies on the column-0 edge, a whole number of rows from the origin.
  const auto at_a = grid.cell_coordinates(a[0], a[1]);
  CHECK(at_a[0] == Approx(0).margin(1e-6));
  CHECK(at_a[1] == Approx(std::round(at_a[1])).margin(1e-6));
  // Cell edges measure 6 m across and 10 m along.
  const auto [m_lat, m_lon] = metres_per_degree(a[1]);
  auto metres = [&](LonLat p, LonLat q) { return std::hypot((q[0] - p[0]) * m_lon, (q[1] - p[1]) * m_lat); };
  CHECK(metres(grid.lonlat_at(3, 5), grid.lonlat_at(4, 5)) == Approx(6).epsilon(1e-4));
  CHECK(metres(grid.lonlat_at(3, 5), grid.lonlat_at(3, 6)) == Approx(10).epsilon(1e-4));
  // cell_coordinates inverts lonlat_at.
  const LonLat p = grid.lonlat_at(7.25, 13.5);
  const auto back = grid.cell_coordinates(p[0], p[1]);
  CHECK(back[0] == Approx(7.25).margin(1e-9));
  CHECK(back[1] == Approx(13.5).margin(1e-9));
}

TEST_CASE("an A-B grid at heading 0 is the north-aligned grid", "[grid][kernel]") {
  const auto field = rectangle({126.5, 47.2}, 0, 199.5, 99.5);
  const CellGridGeometry ab = make_ab_line_grid(field, AbLine{126.5, 47.2, 0}, 10, 10);
  CHECK(ab.north_aligned());
  CHECK(ab.columns == 10);
  CHECK(ab.rows == 20);
  CHECK(ab.south_lat() == Approx(47.2).margin(1e-9));
  CHECK(ab.west_lon() == Approx(126.5).margin(1e-12));
}

TEST_CASE("zones move onto a north grid by the cell under each centre", "[grid][kernel]") {
  const LonLat a{126.5, 47.2};
  const auto field = rectangle(a, 45, 99.5, 99.5);
  const CellGridGeometry ab = make_ab_line_grid(field, ab_line_through(a[0], a[1], field[1][0], field[1][1]), 10, 10);
  REQUIRE(ab.columns == 10);
  REQUIRE(ab.rows == 10);
  // Zone 1 in the columns left of the middle, 2 right of it.
  cv::Mat zones(ab.rows, ab.columns, CV_8U);
  for (int r = 0; r < ab.rows; ++r) {
    for (int c = 0; c < ab.columns; ++c) zones.at<unsigned char>(r, c) = c < 5 ? 1 : 2;
  }
  double west = 1e9, east = -1e9, south = 1e9, north = -1e9;
  for (const auto& v : field) west = std::min(west, v[0]), east = std::max(east, v[0]), south = std::min(south, v[1]), north = std::max(north, v[1]);
  const CellGridGeometry fine = make_cell_grid(west, south, east, north, 2.5);
  const cv::Mat all = cv::Mat::ones(fine.rows, fine.columns, CV_8U);
  const cv::Mat moved = sample_cells(zones, ab, fine, all);
  int checked = 0;
  for (int r = 0; r < fine.rows; ++r) {
    for (int c = 0; c < fine.columns; ++c) {
      const LonLat centre = fine.lonlat_at(c + 0.5, r + 0.5);
      const auto cell = ab.cell_coordinates(centre[0], centre[1]);
      const bool inside = cell[0] >= 0 && cell[0] < ab.columns && cell[1] >= 0 && cell[1] < ab.rows;
      const int expected = !inside ? 0 : (cell[0] < 5 ? 1 : 2);
      CHECK(moved.at<unsigned char>(r, c) == expected);
      checked += inside;
    }
  }
  // The rotated square fills half its bounding box.
  CHECK(checked == Approx(fine.rows * fine.columns / 2.0).epsilon(0.05));
  // Rates follow the zones where treated.
  cv::Mat treated = cv::Mat::zeros(fine.rows, fine.columns, CV_8U);
  treated(cv::Rect(0, 0, fine.columns / 2, fine.rows)) = 1;
  const cv::Mat rates = cell_rates(moved, treated, {12.5, 18});
  for (int r = 0; r < fine.rows; ++r) {
    for (int c = 0; c < fine.columns; ++c) {
      const int zone = moved.at<unsigned char>(r, c);
      const float expected = (!treated.at<unsigned char>(r, c) || zone == 0) ? 0.f : (zone == 1 ? 12.5f : 18.f);
      CHECK(rates.at<float>(r, c) == expected);
    }
  }
}
