// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/summary_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pipeline/errors.hpp"

namespace fieldrx {
namespace {

using json = nlohmann::ordered_json;

std::string field_label(const FieldPrescription& rx) {
  return rx.field ? "field '" + rx.field->id + "'" : "field prescription";
}

bool close_enough(double a, double b) {
  return std::abs(a - b) <= 1e-6 * std::max(std::abs(a), std::abs(b)) + 1e-9;
}

std::string number_text(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

std::string rank_key(double rank) {
  char text[32];
  std::snprintf(text, sizeof text, "p%g", rank);
  return text;
}

const char* status_name(FieldStatus status) {
  switch (status) {
    case FieldStatus::ok:
      return "ok";
    case FieldStatus::warning:
      return "warning";
    case FieldStatus::error:
      return "error";
  }
  return "unknown";
}

json statistics_json(const StatisticsSummary& s) {
  json percentiles = json::object();
  for (std::size_t i = 0; i < s.percentile_ranks.size() && i < s.percentiles.size(); ++i) {
    percentiles[rank_key(s.percentile_ranks[i])] = number_or_null(s.percentiles[i]);
  }
  json histogram = {{"lower", number_or_null(s.histogram.lower)},
                    {"upper", number_or_null(s.histogram.upper)},
                    {"counts", s.histogram.counts},
                    {"below", s.histogram.below},
                    {"above", s.histogram.above},
                    {"exact", s.histogram.exact}};
  return {{"count", s.count},
          {"skipped", s.skipped},
          {"mean", s.count ? number_or_null(s.mean) : json(nullptr)},
          {"std", s.count ? number_or_null(s.std) : json(nullptr)},
          {"min", s.count ? number_or_null(s.min) : json(nullptr)},
          {"max", s.count ? number_or_null(s.max) : json(nullptr)},
          {"percentiles", percentiles},
          {"percentiles_exact", s.percentiles_exact},
          {"histogram", histogram}};
}

json layers_json(const std::vector<LayerStatistics>& layers) {
  json out = json::object();
  for (const auto& layer : layers) out[layer.name] = statistics_json(layer.summary);
  return out;
}

}  // namespace

PrescriptionUnits prescription_units(const FieldPrescription& rx) {
  const auto unit = rate_unit_from_name(rx.rate_unit);
  if (!unit || is_per_mu(*unit)) {
    throw StageError(field_label(rx) + ": rate unit '" + rx.rate_unit +
                     "' is not a unit the prescription is applied in; expected 'L/ha' or 'kg/ha'");
  }
  const bool volume = is_volume_rate(*unit);
  return {*unit, volume ? "L/ha" : "kg/ha", volume ? "L/mu" : "kg/mu", volume ? "L" : "kg"};
}

void check_prescription(const FieldPrescription& rx) {
  const std::string where = field_label(rx);
  if (rx.field == nullptr) {
    throw StageError(
        "field prescription: no field attached; the workflow must set FieldPrescription::field");
  }
  prescription_units(rx);
  double product_sum = 0, area_sum = 0;
  for (const auto& row : rx.zone_rows) {
    const double expected = row.rate * row.area_m2 / kSquareMetresPerHectare;
    if (!close_enough(row.product, expected)) {
      throw StageError(where + ": zone " + std::to_string(row.zone) + " product " +
                       number_text(row.product) + " is not rate x area = " + number_text(row.rate) +
                       " x " + number_text(row.area_m2 / kSquareMetresPerHectare) +
                       " ha = " + number_text(expected));
    }
    product_sum += row.product;
    area_sum += row.area_m2;
  }
  if (!close_enough(rx.total_product, product_sum)) {
    throw StageError(where + ": total product " + number_text(rx.total_product) +
                     " is not the sum of the zone rows, " + number_text(product_sum));
  }
  if (!close_enough(rx.treated_area_m2, area_sum)) {
    throw StageError(where + ": treated area " + number_text(rx.treated_area_m2) +
                     " m2 is not the sum of the zone areas, " + number_text(area_sum) + " m2");
  }
  const MachineProfile& m = rx.machine;
  if (std::isfinite(m.tank_l) && m.tank_l > m.tank_dead_volume_l && m.tank_dead_volume_l >= 0 &&
      std::isfinite(m.reserve_fraction) && m.reserve_fraction >= 0 &&
      std::isfinite(rx.total_product) && rx.total_product >= 0) {
    const int expected =
        tank_loads(rx.total_product, m.tank_l, m.tank_dead_volume_l, m.reserve_fraction);
    if (rx.tank_loads != expected) {
      throw StageError(where + ": " + std::to_string(rx.tank_loads) + " tank loads, but ceil(" +
                       number_text(rx.total_product) + " x " + number_text(1 + m.reserve_fraction) +
                       " / (" + number_text(m.tank_l) + " - " + number_text(m.tank_dead_volume_l) +
                       ")) = " + std::to_string(expected));
    }
  }
  const cv::Size grid(rx.grid.columns, rx.grid.rows);
  auto check_grid = [&](const cv::Mat& mat, int type, const char* name) {
    if (mat.empty()) return;
    if (mat.size() != grid || mat.type() != type) {
      throw StageError(where + ": the " + name + " grid is " + std::to_string(mat.cols) + " x " +
                       std::to_string(mat.rows) + " (type " + std::to_string(mat.type()) +
                       "), but the grid geometry is " + std::to_string(grid.width) + " x " +
                       std::to_string(grid.height) + " of type " + std::to_string(type));
    }
  };
  check_grid(rx.zones, CV_8U, "zone");
  check_grid(rx.rates, CV_32F, "rate");
  check_grid(rx.cell_in_field, CV_8U, "in-field");
}

nlohmann::ordered_json number_or_null(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

nlohmann::ordered_json summary_json(const FieldPrescription& rx) {
  check_prescription(rx);
  const PrescriptionUnits units = prescription_units(rx);
  const Field& field = *rx.field;
  const double area_ha = field.boundary.area_m2 / kSquareMetresPerHectare;
  const double treatable_ha = field.treatable.area_m2 / kSquareMetresPerHectare;
  const double treated_ha = rx.treated_area_m2 / kSquareMetresPerHectare;
  const double mean_rate = treated_ha > 0 ? rx.total_product / treated_ha : std::nan("");

  json zones = json::array();
  for (const auto& row : rx.zone_rows) {
    const double ha = row.area_m2 / kSquareMetresPerHectare;
    zones.push_back({{"zone", row.zone},
                     {"cells", row.cells},
                     {"area_ha", ha},
                     {"area_mu", ha * kMuPerHectare},
                     {"mean_index", number_or_null(row.mean_index)},
                     {"rate", row.rate},
                     {"rate_per_mu", per_ha_to_per_mu(row.rate)},
                     {"product", row.product}});
  }
  json fits = json::array();
  for (const auto& fit : rx.fit_by_zone_count) {
    fits.push_back({{"requested_zone_count", fit.requested_zone_count},
                    {"zone_count", fit.zone_count},
                    {"gvf", number_or_null(fit.gvf)}});
  }
  json index_of_means = json::object();
  for (const auto& [name, value] : rx.index_of_mean_reflectance)
    index_of_means[name] = number_or_null(value);

  const MachineProfile& m = rx.machine;
  json machine = {{"key", m.key},
                  {"name", m.name},
                  {"kind", m.kind},
                  {"swath_m", m.swath_m},
                  {"speed_m_per_s", m.speed_m_per_s},
                  {"min_flow_l_per_min", m.min_flow_l_per_min},
                  {"max_flow_l_per_min", m.max_flow_l_per_min},
                  {"tank_l", m.tank_l},
                  {"tank_dead_volume_l", m.tank_dead_volume_l},
                  {"reserve_fraction", m.reserve_fraction}};
  const CellGridGeometry& g = rx.grid;
  json grid = {{"crs", "EPSG:4326"},
               {"west_lon", g.west_lon()},
               {"south_lat", g.south_lat()},
               {"north_lat", g.north_lat()},
               {"cell_lon_deg", g.cell_lon_deg()},
               {"cell_lat_deg", g.cell_lat_deg()},
               {"rows", g.rows},
               {"columns", g.columns},
               {"cell_size_m", g.cell_size_m},
               {"cell_width_m", g.cell_width_m},
               {"row_0", "north"}};

  json out;
  out["fieldrx_version"] = FIELDRX_VERSION;
  out["field_id"] = field.id;
  out["field_status"] = status_name(field.status);
  out["field_message"] = field.message;
  out["crop"] = rx.crop;
  out["utm_epsg"] = field.utm_epsg;
  out["area_ha"] = area_ha;
  out["area_mu"] = area_ha * kMuPerHectare;
  out["treatable_area_ha"] = treatable_ha;
  out["treatable_area_mu"] = treatable_ha * kMuPerHectare;
  out["treated_area_ha"] = treated_ha;
  out["treated_area_mu"] = treated_ha * kMuPerHectare;
  out["index"] = rx.zoning_layers.empty() ? json(nullptr) : json(rx.zoning_layers.front());
  out["zoning_layers"] = rx.zoning_layers;
  out["method"] = rx.method;
  out["zones_requested"] = rx.zones_requested;
  out["gvf"] = number_or_null(rx.gvf);
  out["fit_by_zone_count"] = fits;
  out["zones"] = zones;
  out["unit"] = units.per_ha;
  out["unit_per_mu"] = units.per_mu;
  out["product_unit"] = units.product;
  out["product_name"] = rx.product_name;
  out["total_product"] = rx.total_product;
  out["mean_rate"] = number_or_null(mean_rate);
  out["mean_rate_per_mu"] = number_or_null(per_ha_to_per_mu(mean_rate));
  out["position_lost_rate"] = number_or_null(rx.position_lost_rate);
  out["tank_loads"] = rx.tank_loads;
  out["statistics"] = {{"indices", layers_json(rx.index_statistics)},
                       {"bands", layers_json(rx.band_statistics)}};
  out["index_of_mean_reflectance"] = index_of_means;
  out["valid_pixels"] = rx.valid_pixels;
  out["machine"] = machine;
  out["warnings"] = rx.warnings;
  out["grid"] = grid;
  if (rx.zoning_grid) {
    const CellGridGeometry& a = *rx.zoning_grid;
    out["zoning_grid"] = {{"kind", a.north_aligned() ? "north" : "ab_line"},
                          {"heading_deg", a.heading_deg},
                          {"anchor_lon", a.anchor_lon},
                          {"anchor_lat", a.anchor_lat},
                          {"b_lon", a.line_b_lon},
                          {"b_lat", a.line_b_lat},
                          {"cell_size_m", a.cell_size_m},
                          {"cell_width_m", a.cell_width_m},
                          {"columns", a.columns},
                          {"rows", a.rows},
                          {"geotransform", a.geotransform()}};
  }
  return out;
}

std::string summary_json_text(const FieldPrescription& rx) {
  return summary_json(rx).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

}  // namespace fieldrx
