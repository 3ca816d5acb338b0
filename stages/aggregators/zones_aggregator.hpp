// SPDX-License-Identifier: Apache-2.0
#pragma once
// aggregators.zones — management zones on the field's prescription grid.
//   Input: the mean of each zoning index per grid cell (aggregators.field_statistics).
//   Output: a zone per cell (1..k, 1 = lowest index), the goodness of variance fit for every
//   zone count 2..7, per-zone cell counts and mean index.
//   Options: indices, zones, method (quantile | equal_interval | jenks | kmeans), cell_size_m,
//   cell_width_m, ab_line (north-aligned grid, or cells along an A-B line: the field's longest
//   edge, a bearing, or two points), delivery_cell_size_m, smoothing (majority window),
//   min_zone_area_m2, edge_cells.
//   Steps: classify the cells that touch the field -> give cells without image data the
//   nearest zone -> majority filter -> merge patches below the minimum area into the most
//   similar neighbouring zone. Methods and sources: zone_kernels.hpp.
#include <array>
#include <vector>

#include "pipeline/field_prescription.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class ZonesAggregator : public Stage {
 public:
  ZonesAggregator();
  const StringList& indices() const { return indices_; }
  double cell_size_m() const { return cell_size_m_; }
  double cell_width_m() const { return cell_width_m_ > 0 ? cell_width_m_ : cell_size_m_; }
  // The grid a field's zones are made on: north-aligned over the vertices' extent, or along
  // the A-B line of option ab_line — or of `field_ab_line` (the field's own, from its boundary
  // attribute; empty = the option). `outer_ring` is the boundary's main exterior ring (WGS84
  // lon/lat; 'auto' takes its longest edge), `vertices` every vertex of the treatable area.
  CellGridGeometry zoning_grid(const std::vector<std::array<double, 2>>& outer_ring,
                               const std::vector<std::array<double, 2>>& vertices,
                               const std::string& field_ab_line = "") const;
  // Edge of the north-aligned cells an A-B grid's zones are delivered on (ISOXML, drone raster).
  double delivery_cell_size_m() const;
  int zone_count() const { return zones_; }
  bool edge_cells_touching() const { return edge_cells_ == "touching"; }
  // Checks options that relate to each other (several indices need kmeans).
  void validate() const;
  // Fills rx.zones, rx.gvf, rx.fit_by_zone_count, rx.zone_rows (cells, mean index), rx.method,
  // rx.warnings from rx.cell_means. `touches_field` marks the cells that get a zone (any part in
  // the field), `centre_in_field` those whose centre is in it (missing data there is warned of);
  // `cell_area_m2` (CV_64F) is each cell's area inside the field, for the minimum zone area.
  void make_field_zones(FieldPrescription& rx, const cv::Mat& touches_field, const cv::Mat& centre_in_field,
                        const cv::Mat& cell_area_m2) const;

 private:
  void declare_options(OptionSet& options) override;
  StringList indices_;
  int zones_ = 3;
  std::string method_;
  double cell_size_m_ = 10;
  double cell_width_m_ = 0;
  std::string ab_line_;
  double delivery_cell_size_m_ = 0;
  int smoothing_ = 3;
  double min_zone_area_m2_ = 500;
  std::string edge_cells_;
};

}  // namespace fieldrx
