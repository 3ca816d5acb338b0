// SPDX-License-Identifier: Apache-2.0
#pragma once
// ISOXML TASKDATA (ISO 11783-10) for a grid prescription: what ISOBUS task controllers (TC-GEO)
// and several spray drones import. v4.3 by default, v3.3 on request for older terminals.
//
// Output: <field_dir>/TASKDATA/TASKDATA.XML + GRD00001.bin, and <field_dir>/TASKDATA.zip holding
// the same two files under TASKDATA/. Element by element (facts from the ISO 11783-10 XSDs in
// shared/data/prescriptions/xsd_ISO11783-10 and that folder's README):
//   CTR, FRM      customer and farm (left out when their names are empty)
//   CTP           crop type (left out when empty)
//   PFD           the field: D = area in m²; one PLN type 1 (partfield boundary) per polygon of
//                 the boundary, each with LSG type 1 (exterior ring) and LSG type 2 per hole;
//                 PNT type 2 (other), C = latitude, D = longitude, rings written closed;
//                 v4 only, when the zones follow an A-B line: GGP > GPN type 1 (AB, G = heading)
//                 > LSG type 5 (C = pass width in mm) with PNT type 6 (A) and 7 (B), so the
//                 terminal's guidance can take the line the zones were laid along
//   PDT, VPN      the product and how the raw rate is shown: DDI 0001 (volume per area,
//                 0.01 mm³/m²) → raw = L/ha × 10000, VPN scale 0.0001 "l/ha"; DDI 0006 (mass per
//                 area, mg/m²) → raw = kg/ha × 100, VPN scale 0.01 "kg/ha"
//   TSK           status 1 (v4 Planned / v3 Initial); H = default zone 252, I = position-lost
//                 zone 253, J = out-of-field zone (254 for grid type 2, 0 for grid type 1)
//   TZN + PDV     grid type 2: TZN 1 is the grid's template (GRD@J = 1) whose one PDV defines
//                 the single layer; grid type 1: one TZN per zone, code = zone number
//   GRD           A/B = south/west edge of the grid (corner, not a cell centre), C/D = cell size
//                 in degrees, E/F = columns/rows, G = GRD00001, H = bytes, I = type, J = zone
// Binary grid: no header, row-major, row 0 = SOUTHERNMOST row, column 0 = westernmost; type 1 one
// byte per cell (a TZN code), type 2 one little-endian int32 raw rate per cell.
//
// Building (taskdata_xml, taskdata_grid_bytes, taskdata_zip_bytes) is pure: no files touched,
// so tests check it directly. write_taskdata() adds only the file handling.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace fieldrx {

struct LonLat {
  double lon = 0;  // WGS84 degrees east
  double lat = 0;  // WGS84 degrees north
};
// A ring of at least 3 distinct points; open or closed (first point repeated), either winding.
using TaskDataRing = std::vector<LonLat>;

// One part of the field boundary: an exterior ring and its holes (WGS84, not GCJ-02/BD-09).
struct TaskDataPolygon {
  TaskDataRing exterior;
  std::vector<TaskDataRing> holes;
};

// A north-aligned grid in WGS84 degrees.
struct TaskDataGrid {
  double south_lat = 0;     // latitude of the grid's south EDGE (corner of the SW cell)
  double west_lon = 0;      // longitude of the grid's west EDGE
  double cell_lat_deg = 0;  // cell height in degrees of latitude (> 0, ≤ 1)
  double cell_lon_deg = 0;  // cell width in degrees of longitude (> 0, ≤ 1)
  int columns = 0;
  int rows = 0;
  // Zone number per cell, row-major, columns × rows values. Row 0 is the SOUTHERNMOST row and
  // column 0 the westernmost: a GeoTIFF (row 0 = north) must be flipped by the caller.
  // 0 = out of field; 1..251 = a zone listed in TaskDataSpec::zones.
  std::vector<int> zone_of_cell;
};

struct TaskDataZone {
  int zone = 0;     // 1..251 (252–254 are the default, position-lost and out-of-field zones)
  double rate = 0;  // in TaskDataSpec::rate_unit, ≥ 0
};

// The A-B line the zones follow (TaskDataSpec::guidance).
struct TaskDataGuidance {
  LonLat a, b;               // reference points A and B, WGS84
  double heading_deg = 0;    // bearing A -> B, [0, 360]
  double pass_width_m = 0;   // the A-B cells' width across the line (0 = not given)
  std::string name = "A-B";  // designator, at most 32 characters
};

struct TaskDataSpec {
  int version_major = 4;  // 4 → v4.3, 3 → v3.3
  int grid_type = 2;      // 2: int32 rate per cell; 1: one byte per cell = the zone's TZN code
  // Designators, at most 32 characters each (ISO 11783-10); customer, farm and crop may be empty.
  std::string customer, farm, crop, field_name, task_name, product_name;
  std::string rate_unit = "l/ha";         // "l/ha" (DDI 0001) or "kg/ha" (DDI 0006)
  std::vector<TaskDataPolygon> boundary;  // at least one polygon
  double field_area_m2 = 0;               // written rounded to whole m² (PFD@D)
  TaskDataGrid grid;
  std::optional<TaskDataGuidance> guidance;  // written in v4 only (v3.3 has no GGP)
  std::vector<TaskDataZone> zones;  // one entry per zone number used in the grid
  // Rate when the receiver loses its position: no default, the choice matters (usually the
  // field-average rate, or 0). Required: NaN is rejected.
  double position_lost_rate = std::numeric_limits<double>::quiet_NaN();
  double out_of_field_rate = 0;
  // Rate of the default treatment zone (TSK@H); when unset, position_lost_rate.
  std::optional<double> default_rate;
};

// TASKDATA.XML text (UTF-8). Throws ConfigError naming the field that is wrong.
std::string taskdata_xml(const TaskDataSpec& spec);
// GRD00001.bin bytes. Throws ConfigError like taskdata_xml.
std::vector<std::uint8_t> taskdata_grid_bytes(const TaskDataSpec& spec);
// A zip archive holding TASKDATA/TASKDATA.XML and TASKDATA/GRD00001.bin (deflated).
std::vector<std::uint8_t> taskdata_zip_bytes(const std::string& xml,
                                             const std::vector<std::uint8_t>& grid);
// The raw int32 value a rate is written as (DDI resolution of rate_unit), e.g. 15 l/ha → 150000.
std::int32_t taskdata_raw_rate(double rate, const std::string& rate_unit);

// Writes <field_dir>/TASKDATA/{TASKDATA.XML,GRD00001.bin} and <field_dir>/TASKDATA.zip. The
// folder is built under a temporary name and swapped in whole, the zip is renamed into place,
// so a reader never sees a half-written package. Returns the paths written (folder, zip).
std::vector<std::string> write_taskdata(const TaskDataSpec& spec, const std::string& field_dir);

}  // namespace fieldrx
