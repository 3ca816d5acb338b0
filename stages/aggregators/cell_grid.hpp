// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prescription grid's arithmetic (pure): a north-aligned WGS84 grid, or one along an A-B
// line, with cells of a given edge in metres; mean index per cell from pixels; filling cells
// that have no data; moving zones between grids.
#include <array>
#include <opencv2/core.hpp>
#include <vector>

#include "pipeline/field_prescription.hpp"

namespace fieldrx {

// Metres per degree of latitude and of longitude on the WGS84 ellipsoid at `lat_deg`
// (the standard series expansion; within millimetres per degree of the exact geodesic).
std::array<double, 2> metres_per_degree(double lat_deg);

// The grid covering [west, east] x [south, north] (degrees) with cells of `cell_size_m`
// (north-south) by `cell_width_m` (east-west; 0 = square) measured at the box's central
// latitude, anchored at its south-west corner.
CellGridGeometry make_cell_grid(double west_lon, double south_lat, double east_lon, double north_lat,
                                double cell_size_m, double cell_width_m = 0);

// An A-B line: the line the sprayer's passes run parallel to.
struct AbLine {
  double a_lon = 0, a_lat = 0;  // point A, WGS84
  double b_lon = 0, b_lat = 0;  // point B, WGS84 (a reference point on the line, for guidance)
  double heading_deg = 0;       // bearing A -> B, degrees clockwise from true north, [0, 360)
};

// The line through two WGS84 points (bearing measured in local metres at A's latitude).
// Throws std::invalid_argument when A and B are less than 1 m apart.
AbLine ab_line_through(double a_lon, double a_lat, double b_lon, double b_lat);

// The longest edge of a ring of WGS84 (lon, lat) vertices, as an A-B line starting at the
// edge's first vertex: fields are farmed parallel to their long straight side.
AbLine longest_edge_line(const std::vector<std::array<double, 2>>& ring_lonlat);

// A line of the given bearing through the vertex that lies furthest to the left of it, so the
// first pass starts on the field's edge; A and B where the field begins and ends along it.
AbLine edge_line_at_heading(const std::vector<std::array<double, 2>>& vertices_lonlat, double heading_deg);

// The grid along `line` that covers `vertices_lonlat` (the field's boundary vertices): columns
// `cell_width_m` wide step across the line (column edges are the line shifted by whole
// widths: one column per pass when the width is the swath), rows `cell_size_m` long step back
// along it from A. Metres become degrees at the vertices' central latitude, so the grid is
// affine in lon/lat like the north-aligned one.
CellGridGeometry make_ab_line_grid(const std::vector<std::array<double, 2>>& vertices_lonlat, const AbLine& line,
                                   double cell_size_m, double cell_width_m);

// For every cell of `to` where `wanted` != 0: the value of the `from` cell holding its centre
// (0 where the centre falls outside `from`). Both CV_8U; `wanted` is on `to`.
cv::Mat sample_cells(const cv::Mat& from_values, const CellGridGeometry& from, const CellGridGeometry& to,
                     const cv::Mat& wanted);

// CV_32F rate per cell: rate_of_zone[zone - 1] where the cell has a zone and `treated` != 0,
// 0 elsewhere.
cv::Mat cell_rates(const cv::Mat& zones, const cv::Mat& treated, const std::vector<double>& rate_of_zone);

// Sums and counts of pixel values per cell, for several layers; mergeable (adds in the order
// merged, so merging in tile order gives the same doubles at any thread count).
class CellAccumulator {
 public:
  CellAccumulator() = default;
  CellAccumulator(int rows, int cols, int layers);
  // Adds n pixels: cell_row/cell_col per pixel (-1 = skip), values[layer][i]. A pixel counts
  // for a layer where that layer is finite.
  void add(const int* cell_rows, const int* cell_cols, const std::vector<const float*>& values, std::size_t n);
  void merge(const CellAccumulator& other);  // same shape
  // Adds `other`, a sub-grid whose cell (0, 0) is this grid's (row0, col0).
  void merge_at(const CellAccumulator& other, int row0, int col0);
  // CV_32F mean per cell of one layer; NaN where no pixel.
  cv::Mat means(int layer) const;
  int rows() const { return rows_; }
  int cols() const { return cols_; }

 private:
  int rows_ = 0, cols_ = 0;
  std::vector<std::vector<double>> sums_;
  std::vector<std::vector<int>> counts_;
};

// Gives every cell where `wanted` != 0 but `zones` == 0 the zone of its nearest zoned cell
// (4-connected breadth-first growth, ties to the lower zone number), so a field has no
// unassigned cells where the image had no data. Returns the number of cells filled.
int fill_unzoned_cells(cv::Mat& zones, const cv::Mat& wanted);

// Merges zone patches (4-connected cells of one zone) whose AREA is below `min_area_m2` into
// the neighbouring zone with the nearest signature (Euclidean; ties: the longest shared border,
// then the lower zone), smallest patch first, until none is left that has a neighbour.
// `cell_area_m2` (CV_64F) is each cell's area inside the field, so boundary patches count only
// what lies in the field, as a check on the clipped zone polygons would. Complements
// merge_small_patches (zone_kernels), which works on cell counts and runs first.
// Returns the patches that stay below the minimum for lack of a neighbouring zone.
struct SmallPatch {
  int zone = 0;
  double area_m2 = 0;
};
std::vector<SmallPatch> merge_patches_below_area(cv::Mat& zones, const cv::Mat& cell_area_m2,
                                                 const std::vector<std::vector<double>>& zone_signatures,
                                                 double min_area_m2);

}  // namespace fieldrx
