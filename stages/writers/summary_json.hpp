// SPDX-License-Identifier: Apache-2.0
#pragma once
// summary.json of one field: the numbers of the report in a form scripts, FMIS imports and the
// batch summary can read. Pure (no files): writers.report writes it.
//
// Content (keys are stable; units are in the key or in "unit" / "product_unit"):
//   fieldrx_version, field_id, field_status, field_message, crop, utm_epsg,
//   area_ha / area_mu            the boundary as drawn (exact area in the field's UTM zone),
//   treatable_area_ha / _mu      less the inner buffer and exclusions,
//   treated_area_ha / _mu        sum of the zone areas (what is sprayed),
//   index (main zoning layer), zoning_layers, method, zones_requested, gvf,
//   fit_by_zone_count [{requested_zone_count, zone_count, gvf}],
//   zones [{zone, cells, area_ha, area_mu, mean_index, rate, rate_per_mu, product}],
//   unit ("L/ha" | "kg/ha"), unit_per_mu ("L/mu" | "kg/mu"), product_unit ("L" | "kg"),
//   product_name, total_product, mean_rate, mean_rate_per_mu, position_lost_rate, tank_loads,
//   statistics {indices: {name: {...}}, bands: {name: {...}}}, index_of_mean_reflectance,
//   valid_pixels, machine {...}, warnings [...],
//   grid {crs "EPSG:4326", west_lon, south_lat, north_lat, cell_lon_deg, cell_lat_deg, rows,
//         columns, cell_size_m, cell_width_m, row_0 "north"}: the north-aligned grid the ISOXML
//   grid and drone raster carry; and, when the zones were made along an A-B line,
//   zoning_grid {kind "ab_line", heading_deg, anchor_lon, anchor_lat (A), b_lon, b_lat (B),
//         cell_size_m (along the line), cell_width_m (across), columns, rows, geotransform
//         (cell corner -> lon/lat)}.
// No timestamp, so the same prescription always gives the same bytes (the HTML report carries
// the time). JSON has no NaN: a missing value (statistics of a layer without a valid pixel, the
// mean rate of an empty field) is written as null. Text that is not valid UTF-8 (ids from a
// GBK-encoded Shapefile) is written with U+FFFD in place of the bad bytes.
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/field_prescription.hpp"
#include "stages/aggregators/rate_kernels.hpp"

namespace fieldrx {

// The units a prescription is written in. `rate_unit` must be "L/ha" or "kg/ha" (any case);
// StageError otherwise: writers never guess a unit.
struct PrescriptionUnits {
  RateUnit unit = RateUnit::l_per_ha;
  std::string per_ha;   // "L/ha" | "kg/ha"
  std::string per_mu;   // "L/mu" | "kg/mu"
  std::string product;  // "L" | "kg"
};
PrescriptionUnits prescription_units(const FieldPrescription& rx);

// Checks that the numbers a report shows add up, so an agronomist never signs a table whose
// rows do not make its totals: a field is attached; every zone's product is rate x area; the
// total product and the treated area are the sums of the zone rows; the tank loads follow
// ceil(V (1 + reserve) / (tank - dead volume)) when the machine has a usable tank; the zone and
// rate grids match the grid geometry. Tolerance 1e-6 relative (+1e-9 absolute). Throws
// StageError naming the field, the number and both values.
void check_prescription(const FieldPrescription& rx);

// A JSON number, or null when `value` is NaN or infinite.
nlohmann::ordered_json number_or_null(double value);

// The whole summary (see above), keys in the order listed there (ordered_json: a person opening
// the file sees the field and its totals first). Calls check_prescription first.
nlohmann::ordered_json summary_json(const FieldPrescription& rx);

// Pretty-printed (2 spaces, trailing newline), invalid UTF-8 replaced by U+FFFD.
std::string summary_json_text(const FieldPrescription& rx);

}  // namespace fieldrx
