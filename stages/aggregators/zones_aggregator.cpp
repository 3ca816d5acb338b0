// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/zones_aggregator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "pipeline/errors.hpp"
#include "stages/aggregators/cell_grid.hpp"

namespace fieldrx {
namespace {

// Option ab_line, parsed: none (north-aligned), the longest boundary edge, a bearing, or A and B.
struct AbLineChoice {
  enum class Kind { north, longest_edge, heading, points } kind = Kind::north;
  double heading_deg = 0;
  std::array<double, 4> points{};  // lon A, lat A, lon B, lat B
};

// `source` names where the text came from, for messages.
AbLineChoice parse_ab_line(const std::string& text, const std::string& source) {
  const std::string where = source + " is '" + text + "'; ";
  AbLineChoice choice;
  if (text.empty() || text == "north") return choice;
  if (text == "auto") {
    choice.kind = AbLineChoice::Kind::longest_edge;
    return choice;
  }
  std::vector<double> numbers;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0' || !std::isfinite(value)) {
      throw ConfigError(where + "'" + item + "' is not a number. Use 'north' (default), 'auto' (the field's longest "
                        "edge), a bearing in degrees from true north (e.g. 35.5), or lonA,latA,lonB,latB in WGS84 degrees");
    }
    numbers.push_back(value);
    start = comma + 1;
  }
  if (numbers.size() == 1) {
    if (numbers[0] < 0 || numbers[0] >= 360) throw ConfigError(where + "a bearing is 0 to 360 degrees clockwise from true north");
    choice.kind = AbLineChoice::Kind::heading;
    choice.heading_deg = numbers[0];
    return choice;
  }
  if (numbers.size() != 4) {
    throw ConfigError(where + "give one bearing or four numbers lonA,latA,lonB,latB (WGS84 degrees), not " +
                      std::to_string(numbers.size()) + " numbers");
  }
  for (int i : {0, 2}) {
    if (std::abs(numbers[i]) > 180 || std::abs(numbers[i + 1]) > 90) {
      throw ConfigError(where + "point " + (i == 0 ? "A" : "B") + " is not a WGS84 lon,lat (longitude first, |lon| <= 180, |lat| <= 90)");
    }
  }
  choice.kind = AbLineChoice::Kind::points;
  choice.points = {numbers[0], numbers[1], numbers[2], numbers[3]};
  return choice;
}

}  // namespace

ZonesAggregator::ZonesAggregator()
    : Stage({"aggregators.zones",
             "2-7 management zones on a WGS84 grid of cell_size_m cells: quantile, equal interval, Jenks, k-means",
             "https://doi.org/10.1080/01621459.1958.10501479"}) {}

void ZonesAggregator::declare_options(OptionSet& options) {
  options.add("indices", indices_, "indices to zone on (several: kmeans); the first is the main index", StringList{"ndvi"});
  options.add("zones", zones_, "number of zones", 3).range(kMinZoneCount, kMaxZoneCount);
  options.add("method", method_, "classification method", "jenks").choices({"quantile", "equal_interval", "jenks", "kmeans"});
  options.add("cell_size_m", cell_size_m_, "prescription grid cell edge (along the A-B line when there is one)", 10.0)
      .unit("m").range(1, 100);
  options.add("cell_width_m", cell_width_m_,
              "cell edge across the A-B line (east-west when north-aligned); 0 = cell_size_m. The swath width "
              "gives one column per pass", 0.0)
      .unit("m").range(0, 100);
  options.add("ab_line", ab_line_,
              "grid orientation: 'north' (north-aligned), 'auto' (along the field's longest boundary edge), a bearing "
              "in degrees from true north (e.g. 35.5; anchored on the field's left edge), or lonA,latA,lonB,latB",
              "north");
  options.add("delivery_cell_size_m", delivery_cell_size_m_,
              "with an A-B line: edge of the north-aligned cells the ISOXML grid and drone raster carry "
              "(0 = half the smaller A-B cell edge)", 0.0)
      .unit("m").range(0, 100);
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
  parse_ab_line(ab_line_, "stage 'aggregators.zones': option 'ab_line'");
  if (smoothing_ != 0 && smoothing_ != 3 && smoothing_ != 5) {
    throw ConfigError("stage 'aggregators.zones': option 'smoothing' is " + std::to_string(smoothing_) + "; use 0, 3 or 5");
  }
}

CellGridGeometry ZonesAggregator::zoning_grid(const std::vector<std::array<double, 2>>& outer_ring,
                                             const std::vector<std::array<double, 2>>& vertices,
                                             const std::string& field_ab_line) const {
  const std::string& text = field_ab_line.empty() ? ab_line_ : field_ab_line;
  const AbLineChoice choice = field_ab_line.empty()
                                  ? parse_ab_line(ab_line_, "stage 'aggregators.zones': option 'ab_line'")
                                  : parse_ab_line(field_ab_line, "the field's A-B line attribute");
  try {
    switch (choice.kind) {
      case AbLineChoice::Kind::north: {
        double west = std::numeric_limits<double>::infinity(), south = west, east = -west, north = -west;
        for (const auto& v : vertices) {
          west = std::min(west, v[0]), east = std::max(east, v[0]);
          south = std::min(south, v[1]), north = std::max(north, v[1]);
        }
        return make_cell_grid(west, south, east, north, cell_size_m_, cell_width_m());
      }
      case AbLineChoice::Kind::longest_edge:
        return make_ab_line_grid(vertices, longest_edge_line(outer_ring), cell_size_m_, cell_width_m());
      case AbLineChoice::Kind::heading:
        return make_ab_line_grid(vertices, edge_line_at_heading(vertices, choice.heading_deg), cell_size_m_, cell_width_m());
      case AbLineChoice::Kind::points: {
        const auto& p = choice.points;
        return make_ab_line_grid(vertices, ab_line_through(p[0], p[1], p[2], p[3]), cell_size_m_, cell_width_m());
      }
    }
  } catch (const std::invalid_argument& e) {
    throw StageError("the A-B line '" + text + "': " + e.what());
  }
  throw StageError("unknown ab_line kind");
}

double ZonesAggregator::delivery_cell_size_m() const {
  return delivery_cell_size_m_ > 0 ? delivery_cell_size_m_ : std::min(cell_size_m_, cell_width_m()) / 2;
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
  // A cell's area as the edge of a square of equal area (cells are cell_size_m x cell_width_m).
  const int min_cells = min_patch_cells_for_area(min_zone_area_m2_, std::sqrt(cell_size_m_ * cell_width_m()));
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
