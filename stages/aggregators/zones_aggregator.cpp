// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/zones_aggregator.hpp"

#include <cmath>
#include <limits>

#include "pipeline/errors.hpp"
#include "stages/aggregators/cell_grid.hpp"

namespace fieldrx {

ZonesAggregator::ZonesAggregator()
    : Stage({"aggregators.zones",
             "2-7 management zones on a WGS84 grid of cell_size_m cells: quantile, equal interval, Jenks, k-means",
             "https://doi.org/10.1080/01621459.1958.10501479"}) {}

void ZonesAggregator::declare_options(OptionSet& options) {
  options.add("indices", indices_, "indices to zone on (several: kmeans); the first is the main index", StringList{"ndvi"});
  options.add("zones", zones_, "number of zones", 3).range(kMinZoneCount, kMaxZoneCount);
  options.add("method", method_, "classification method", "jenks").choices({"quantile", "equal_interval", "jenks", "kmeans"});
  options.add("cell_size_m", cell_size_m_, "prescription grid cell edge", 10.0).unit("m").range(1, 100);
  options.add("smoothing", smoothing_, "majority filter window (0 = none, 3 or 5)", 3).range(0, 5);
  options.add("min_zone_area_m2", min_zone_area_m2_, "smaller zone patches merge into the most similar neighbour", 500.0)
      .unit("m2").range(0, 1e8);
  options.add("edge_cells", edge_cells_,
              "which boundary cells the ISOXML grid and drone raster treat: 'centre' (cell centre in the field, "
              "ISO 11783 FMIS practice) or 'touching' (any part in the field: no unsprayed edge strip)",
              "centre")
      .choices({"centre", "touching"});
}

void ZonesAggregator::validate() const {
  if (indices_.empty()) throw ConfigError("stage 'aggregators.zones': option 'indices' needs at least one index");
  if (indices_.size() > 1 && method_ != "kmeans") {
    throw ConfigError("stage 'aggregators.zones': zoning on " + std::to_string(indices_.size()) +
                      " indices needs method 'kmeans' (got '" + method_ + "')");
  }
  if (smoothing_ != 0 && smoothing_ != 3 && smoothing_ != 5) {
    throw ConfigError("stage 'aggregators.zones': option 'smoothing' is " + std::to_string(smoothing_) + "; use 0, 3 or 5");
  }
}

void ZonesAggregator::make_field_zones(FieldPrescription& rx, const cv::Mat& touches_field,
                                       const cv::Mat& centre_in_field, const cv::Mat& cell_area_m2) const {
  const std::string& id = rx.field->id;
  std::vector<cv::Mat> layers;
  for (const cv::Mat& means : rx.cell_means) {
    cv::Mat masked(means.size(), CV_32F, std::numeric_limits<float>::quiet_NaN());
    means.copyTo(masked, touches_field);
    layers.push_back(masked);
  }
  ZoningOptions options;
  options.method = *zone_method_from_name(method_);
  options.zone_count = zones_;
  Zoning zoning = make_zones(layers, options);
  if (zoning.zone_count < zones_) {
    rx.warnings.push_back("field " + id + ": only " + std::to_string(zoning.zone_count) + " zones could be made (the index takes " +
                          std::to_string(zoning.zone_count) + " distinct values over the field's cells), not " +
                          std::to_string(zones_));
  }
  cv::Mat zones = zoning.zone_map;
  // Boundary cells that only graze the field often hold no pixel centre: filling them is
  // routine. Cells whose centre is in the field but had no valid pixel are worth a warning.
  cv::Mat unzoned_inside = (zones == 0) & (centre_in_field != 0);
  const int no_data_inside = cv::countNonZero(unzoned_inside);
  fill_unzoned_cells(zones, touches_field);
  if (no_data_inside > 0) {
    rx.warnings.push_back(std::to_string(no_data_inside) + " grid cells inside the field had no valid image pixel (nodata) and took the zone of their nearest neighbour");
  }
  if (smoothing_ > 0) zones = majority_filter(zones, smoothing_);

  // Patch similarity: the zone's mean main index, or its k-means centroid (z-scores). First
  // by cell count on the whole map (fast), then by the area each patch really has inside the
  // field: boundary cells hold less than a whole cell.
  std::vector<std::vector<double>> signatures;
  if (zoning.kmeans) {
    signatures = zoning.kmeans->centroids_z;
  } else {
    for (const auto& summary : summarize_zones(zones, layers.front(), zoning.zone_count)) signatures.push_back({summary.mean_value});
  }
  const int min_cells = min_patch_cells_for_area(min_zone_area_m2_, cell_size_m_);
  zones = merge_small_patches(zones, signatures, min_cells).zone_map;
  for (const auto& island : merge_patches_below_area(zones, cell_area_m2, signatures, min_zone_area_m2_)) {
    rx.warnings.push_back("a zone " + std::to_string(island.zone) + " patch of " + std::to_string(std::lround(island.area_m2)) +
                          " m2 is below the minimum zone area but has no neighbouring zone to merge into (an isolated part of the field); kept");
  }
  for (int zone = 1; zone <= zoning.zone_count; ++zone) {
    if (cv::countNonZero(zoning.zone_map == zone) > 0 && cv::countNonZero(zones == zone) == 0) {
      rx.warnings.push_back("zone " + std::to_string(zone) + " vanished: all its patches were smaller than " +
                            std::to_string(std::lround(min_zone_area_m2_)) + " m2 and merged into neighbours");
    }
  }
  rx.zones = zones;
  rx.method = method_;
  rx.zones_requested = zones_;
  rx.gvf = goodness_of_variance_fit(layers, zones);
  rx.fit_by_zone_count = fit_by_zone_count(layers, options);
  rx.zone_rows.clear();
  for (const auto& summary : summarize_zones(zones, layers.front(), zoning.zone_count)) {
    if (summary.cell_count == 0) continue;
    ZoneRow row;
    row.zone = summary.zone;
    row.cells = summary.cell_count;
    row.mean_index = summary.mean_value;
    rx.zone_rows.push_back(row);
  }
}

}  // namespace fieldrx
