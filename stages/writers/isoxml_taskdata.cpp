// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/isoxml_taskdata.hpp"

#include <tinyxml2.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {
namespace {

constexpr const char* kWhere = "ISOXML TASKDATA";
constexpr const char* kGridFile = "GRD00001";
constexpr int kMaxZone = 251;           // 252..254 are the writer's own zones
constexpr int kDefaultZone = 252;       // TSK@H
constexpr int kPositionLostZone = 253;  // TSK@I
constexpr int kOutOfFieldZoneType2 = 254;
// Grid type 1 cells store the TZN code itself, and the caller marks out-of-field cells 0: TZN 0
// keeps those bytes as they are (as the reference package and CropSat exports do).
constexpr int kOutOfFieldZoneType1 = 0;
constexpr int kGridTemplateZone = 1;  // grid type 2: the TZN named by GRD@J
constexpr std::size_t kMaxDesignator = 32;
constexpr std::uint64_t kMaxFileLength = 4294967294ULL;  // GRD@H maximum

// How a rate unit is carried. ISO 11783-11: DDI 0x0001 Setpoint Volume Per Area Application
// Rate, 0.01 mm³/m² per count (1 L/ha = 100 mm³/m² = 10000 counts); DDI 0x0006 Setpoint Mass Per
// Area Application Rate, 1 mg/m² per count (1 kg/ha = 100 mg/m²). The product's quantity DDI is
// 0x0048 Actual Volume Content (ml) or 0x004B Actual Mass Content (g).
struct RateUnit {
  const char* name;
  const char* ddi;
  double raw_per_unit;
  const char* vpn_scale;  // 1 / raw_per_unit, written exactly as a decimal
  const char* quantity_ddi;
};
constexpr RateUnit kUnits[] = {
    {"l/ha", "0001", 10000.0, "0.0001", "0048"},
    {"kg/ha", "0006", 100.0, "0.01", "004B"},
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

const RateUnit& rate_unit_of(const std::string& unit) {
  const std::string key = lower(unit);
  for (const RateUnit& known : kUnits)
    if (key == known.name) return known;
  throw ConfigError(std::string(kWhere) + ": rate_unit '" + unit +
                    "' is not supported; use 'l/ha' (DDI 0001) or 'kg/ha' (DDI 0006) and convert "
                    "other units first (1 L/mu = 15 L/ha)");
}

// Shortest text that reads back as the same double (no exponent).
std::string shortest(double value) {
  char buffer[400];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  return std::string(buffer, result.ptr);
}

// At most 9 decimals (the v4 XSD facet on coordinates; 1e-9° ≈ 0.1 mm), trailing zeros dropped.
std::string decimal9(double value) {
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, 9);
  std::string text(buffer, result.ptr);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  if (text == "-0") text = "0";
  return text;
}

std::string describe(double rate_raw, const RateUnit& unit) {
  return shortest(rate_raw / unit.raw_per_unit) + " " + unit.name;
}

// Number of Unicode characters (the XSD maxLength counts characters); throws on invalid UTF-8 or
// control characters, which would make the XML unreadable.
std::size_t checked_length(const std::string& text, const std::string& what) {
  const auto bad_utf8 = [&] {
    return ConfigError(std::string(kWhere) + ": " + what + " '" + text +
                       "' is not valid UTF-8; give the name in UTF-8");
  };
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size(); ++characters) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t extra = lead < 0x80           ? 0
                              : (lead >> 5) == 0x06 ? 1
                              : (lead >> 4) == 0x0E ? 2
                              : (lead >> 3) == 0x1E ? 3
                                                    : 4;  // 4 = not a lead byte
    if (extra == 4 || i + extra >= text.size()) throw bad_utf8();
    for (std::size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) throw bad_utf8();
    if (lead < 0x20 || lead == 0x7F)
      throw ConfigError(std::string(kWhere) + ": " + what +
                        " contains a control character; use printable text only");
    i += 1 + extra;
  }
  return characters;
}

void check_designator(const std::string& text, const std::string& what, bool required) {
  if (required && text.empty())
    throw ConfigError(std::string(kWhere) + ": " + what +
                      " is empty; give a name (terminals show it)");
  const std::size_t length = checked_length(text, what);
  if (length > kMaxDesignator)
    throw ConfigError(std::string(kWhere) + ": " + what + " '" + text + "' has " +
                      std::to_string(length) + " characters; ISO 11783-10 allows at most " +
                      std::to_string(kMaxDesignator));
}

std::int32_t raw_rate(double rate, const RateUnit& unit, const std::string& what) {
  if (!std::isfinite(rate) || rate < 0)
    throw ConfigError(std::string(kWhere) + ": " + what + " is " + shortest(rate) + " " +
                      unit.name + "; a rate must be a number ≥ 0");
  const double raw = std::round(rate * unit.raw_per_unit);
  if (raw > std::numeric_limits<std::int32_t>::max())
    throw ConfigError(std::string(kWhere) + ": " + what + " " + shortest(rate) + " " + unit.name +
                      " does not fit the 32-bit process data value (at most " +
                      shortest(std::numeric_limits<std::int32_t>::max() / unit.raw_per_unit) + " " +
                      unit.name + ")");
  return static_cast<std::int32_t>(raw);
}

void check_point(const LonLat& point, const std::string& what) {
  if (!std::isfinite(point.lat) || !std::isfinite(point.lon) || std::abs(point.lat) > 90 ||
      std::abs(point.lon) > 180)
    throw ConfigError(std::string(kWhere) + ": " + what + " (lon " + shortest(point.lon) +
                      ", lat " + shortest(point.lat) +
                      ") is not a WGS84 position; give longitude in [-180, 180] and latitude in "
                      "[-90, 90] degrees");
}

// The ring as written: closed (first point repeated at the end), as v4 readers expect.
TaskDataRing closed_ring(const TaskDataRing& ring, const std::string& what) {
  TaskDataRing closed = ring;
  const auto same = [](const LonLat& a, const LonLat& b) {
    return a.lon == b.lon && a.lat == b.lat;
  };
  if (!closed.empty() && !same(closed.front(), closed.back())) closed.push_back(closed.front());
  std::set<std::pair<double, double>> distinct;
  for (const LonLat& point : closed) {
    check_point(point, what + " point");
    distinct.insert({point.lon, point.lat});
  }
  if (distinct.size() < 3)
    throw ConfigError(std::string(kWhere) + ": " + what + " has " +
                      std::to_string(distinct.size()) +
                      " distinct points; a polygon ring needs at least 3");
  return closed;
}

// Everything the two builders need, checked once.
struct Checked {
  const RateUnit* unit = nullptr;
  std::map<int, std::int32_t> zone_raw;  // zone → raw rate
  std::int32_t default_raw = 0, position_lost_raw = 0, out_of_field_raw = 0;
  std::uint64_t grid_bytes = 0;
};

Checked check(const TaskDataSpec& spec) {
  Checked out;
  const std::string where(kWhere);
  if (spec.version_major != 4 && spec.version_major != 3)
    throw ConfigError(where + ": version_major " + std::to_string(spec.version_major) +
                      " is not supported; use 4 (ISO 11783-10 v4.3) or 3 (v3.3, older terminals)");
  if (spec.grid_type != 1 && spec.grid_type != 2)
    throw ConfigError(where + ": grid_type " + std::to_string(spec.grid_type) +
                      " does not exist; use 2 (a rate per cell) or 1 (a zone code per cell)");
  out.unit = &rate_unit_of(spec.rate_unit);

  check_designator(spec.customer, "customer", false);
  check_designator(spec.farm, "farm", false);
  check_designator(spec.crop, "crop", false);
  check_designator(spec.field_name, "field_name", true);
  check_designator(spec.task_name, "task_name", false);
  check_designator(spec.product_name, "product_name", true);

  if (spec.boundary.empty())
    throw ConfigError(where + ": boundary has no polygon; give the field boundary in WGS84");
  if (!std::isfinite(spec.field_area_m2) || spec.field_area_m2 <= 0 ||
      std::round(spec.field_area_m2) > static_cast<double>(kMaxFileLength))
    throw ConfigError(where + ": field_area_m2 " + shortest(spec.field_area_m2) +
                      " is not a field area; give the area in m² (> 0)");

  const TaskDataGrid& grid = spec.grid;
  if (grid.columns <= 0 || grid.rows <= 0)
    throw ConfigError(where + ": grid is " + std::to_string(grid.columns) + " columns × " +
                      std::to_string(grid.rows) + " rows; both must be at least 1");
  const std::uint64_t cells = static_cast<std::uint64_t>(grid.columns) * grid.rows;
  if (grid.zone_of_cell.size() != cells)
    throw ConfigError(where + ": grid.zone_of_cell has " +
                      std::to_string(grid.zone_of_cell.size()) +
                      " values, but columns × rows = " + std::to_string(grid.columns) + " × " +
                      std::to_string(grid.rows) + " = " + std::to_string(cells) +
                      "; give one zone number per cell, row 0 = southernmost row");
  for (const auto& [value, name] : {std::pair{grid.cell_lat_deg, "grid.cell_lat_deg"},
                                    std::pair{grid.cell_lon_deg, "grid.cell_lon_deg"}})
    if (!std::isfinite(value) || value <= 0 || value > 1)
      throw ConfigError(where + ": " + name + " is " + shortest(value) +
                        "; the cell size is in degrees, > 0 and ≤ 1 (10 m ≈ 0.00009°)");
  const LonLat south_west{grid.west_lon, grid.south_lat};
  const LonLat north_east{grid.west_lon + grid.columns * grid.cell_lon_deg,
                          grid.south_lat + grid.rows * grid.cell_lat_deg};
  check_point(south_west, "grid south-west corner");
  check_point(north_east, "grid north-east corner");
  out.grid_bytes = cells * (spec.grid_type == 1 ? 1 : 4);
  if (out.grid_bytes > kMaxFileLength)
    throw ConfigError(where + ": the grid needs " + std::to_string(out.grid_bytes) +
                      " bytes, more than GRD@H allows (" + std::to_string(kMaxFileLength) +
                      "); use larger cells");

  for (const TaskDataZone& zone : spec.zones) {
    if (zone.zone < 1 || zone.zone > kMaxZone)
      throw ConfigError(where + ": zone " + std::to_string(zone.zone) +
                        " is out of range; number zones 1.." + std::to_string(kMaxZone) +
                        " (0 = out of field, 252-254 are reserved)");
    const std::string what = "rate of zone " + std::to_string(zone.zone);
    if (!out.zone_raw.emplace(zone.zone, raw_rate(zone.rate, *out.unit, what)).second)
      throw ConfigError(where + ": zone " + std::to_string(zone.zone) +
                        " is listed twice in zones; give each zone one rate");
  }
  bool any_in_field = false;
  for (std::size_t i = 0; i < grid.zone_of_cell.size(); ++i) {
    const int zone = grid.zone_of_cell[i];
    if (zone == 0) continue;
    any_in_field = true;
    if (out.zone_raw.count(zone) == 0)
      throw ConfigError(where + ": grid cell (column " + std::to_string(i % grid.columns) +
                        ", row " + std::to_string(i / grid.columns) + " from the south) is zone " +
                        std::to_string(zone) +
                        ", which has no rate in zones; list every zone "
                        "used in the grid (0 = out of field)");
  }
  if (!any_in_field)
    throw ConfigError(where +
                      ": every grid cell is 0 (out of field); nothing would be applied, "
                      "check the zone raster and the field boundary");

  if (std::isnan(spec.position_lost_rate))
    throw ConfigError(where + ": position_lost_rate is not set; it has no default because the "
                      "choice matters: give the rate to apply when the receiver loses its "
                      "position (usually the field-average rate, or 0)");
  out.position_lost_raw = raw_rate(spec.position_lost_rate, *out.unit, "position_lost_rate");
  out.out_of_field_raw = raw_rate(spec.out_of_field_rate, *out.unit, "out_of_field_rate");
  out.default_raw = spec.default_rate ? raw_rate(*spec.default_rate, *out.unit, "default_rate")
                                      : out.position_lost_raw;

  // The boundary must lie on the grid (one cell of slack): catches swapped lon/lat and a grid
  // georeferenced from the wrong corner, both of which would spray the wrong places.
  for (std::size_t p = 0; p < spec.boundary.size(); ++p) {
    const std::string what = "boundary polygon " + std::to_string(p + 1);
    std::vector<TaskDataRing> rings{closed_ring(spec.boundary[p].exterior, what + " exterior")};
    for (std::size_t h = 0; h < spec.boundary[p].holes.size(); ++h)
      rings.push_back(
          closed_ring(spec.boundary[p].holes[h], what + " hole " + std::to_string(h + 1)));
    for (const TaskDataRing& ring : rings)
      for (const LonLat& point : ring)
        if (point.lon < south_west.lon - grid.cell_lon_deg ||
            point.lon > north_east.lon + grid.cell_lon_deg ||
            point.lat < south_west.lat - grid.cell_lat_deg ||
            point.lat > north_east.lat + grid.cell_lat_deg)
          throw ConfigError(where + ": " + what + " point (lon " + shortest(point.lon) + ", lat " +
                            shortest(point.lat) + ") lies outside the grid (lon " +
                            shortest(south_west.lon) + ".." + shortest(north_east.lon) + ", lat " +
                            shortest(south_west.lat) + ".." + shortest(north_east.lat) +
                            "); the grid must cover the field, check lon/lat order and the grid's "
                            "south-west corner");
  }
  return out;
}

// tinyxml2's printer escapes attribute text; numbers are formatted here so their precision is ours.
class Xml {
 public:
  void open(const char* name) { printer_.OpenElement(name); }
  void close() { printer_.CloseElement(); }
  void attr(const char* name, const std::string& value) {
    printer_.PushAttribute(name, value.c_str());
  }
  void attr(const char* name, long long value) { attr(name, std::to_string(value)); }
  tinyxml2::XMLPrinter& printer() { return printer_; }

 private:
  tinyxml2::XMLPrinter printer_;
};

void write_ring(Xml& xml, const TaskDataRing& ring, int line_string_type) {
  xml.open("LSG");
  xml.attr("A", line_string_type);  // 1 = polygon exterior, 2 = polygon interior
  for (const LonLat& point : ring) {
    xml.open("PNT");
    xml.attr("A", 2);  // 2 = "other": a plain boundary vertex
    xml.attr("C", decimal9(point.lat));
    xml.attr("D", decimal9(point.lon));
    xml.close();
  }
  xml.close();
}

void write_guidance(Xml& xml, const TaskDataGuidance& line) {
  if (!(line.heading_deg >= 0 && line.heading_deg <= 360)) {
    throw ConfigError(std::string(kWhere) + ": guidance heading is " + shortest(line.heading_deg) +
                      "; a bearing is 0 to 360 degrees");
  }
  xml.open("GGP");
  xml.attr("A", "GGP1");
  xml.attr("B", line.name.substr(0, kMaxDesignator));
  xml.open("GPN");
  xml.attr("A", "GPN1");
  xml.attr("B", line.name.substr(0, kMaxDesignator));
  xml.attr("C", 1);  // AB
  xml.attr("E", 1);  // propagated both ways: every pass parallel to the line
  xml.attr("G", decimal9(line.heading_deg));
  xml.open("LSG");
  xml.attr("A", 5);  // guidance pattern
  if (line.pass_width_m > 0) xml.attr("C", static_cast<long long>(std::llround(line.pass_width_m * 1000)));  // mm
  int type = 6;  // 6 = guidance reference A, 7 = B
  for (const LonLat& point : {line.a, line.b}) {
    xml.open("PNT");
    xml.attr("A", type++);
    xml.attr("C", decimal9(point.lat));
    xml.attr("D", decimal9(point.lon));
    xml.close();
  }
  xml.close();
  xml.close();
  xml.close();
}

void write_zone(Xml& xml, int code, const std::string& name, std::int32_t raw,
                const RateUnit& unit) {
  xml.open("TZN");
  xml.attr("A", code);
  xml.attr("B", name.substr(0, kMaxDesignator));  // ASCII only: byte count = character count
  xml.open("PDV");
  xml.attr("A", unit.ddi);
  xml.attr("B", raw);
  xml.attr("C", "PDT1");
  xml.attr("E", "VPN1");
  xml.close();
  xml.close();
}

void append_int32_le(std::vector<std::uint8_t>& bytes, std::int32_t value) {
  const auto bits = static_cast<std::uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8)
    bytes.push_back(static_cast<std::uint8_t>(bits >> shift));
}

void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (out) out.close();
  if (!out)
    throw IoError(path.string() + ": cannot write the file: " + std::strerror(errno) +
                  "; check the folder exists, is writable and the disk has space");
}

}  // namespace

std::int32_t taskdata_raw_rate(double rate, const std::string& rate_unit) {
  return raw_rate(rate, rate_unit_of(rate_unit), "rate");
}

std::string taskdata_xml(const TaskDataSpec& spec) {
  const Checked checked = check(spec);
  const RateUnit& unit = *checked.unit;
  const bool v4 = spec.version_major == 4;
  const bool have_customer = !spec.customer.empty(), have_farm = !spec.farm.empty(),
             have_crop = !spec.crop.empty();
  const int out_of_field_zone = spec.grid_type == 1 ? kOutOfFieldZoneType1 : kOutOfFieldZoneType2;

  Xml xml;
  xml.printer().PushDeclaration("xml version=\"1.0\" encoding=\"UTF-8\"");
  xml.open("ISO11783_TaskData");
  // v3.3's schema accepts only VersionMinor 3, as does v4.3's for the features written here.
  xml.attr("VersionMajor", v4 ? "4" : "3");
  xml.attr("VersionMinor", "3");
  xml.attr("ManagementSoftwareManufacturer", "fieldrx");
  xml.attr("ManagementSoftwareVersion", FIELDRX_VERSION);
  xml.attr("DataTransferOrigin", "1");  // 1 = FMIS (planning software), 2 = MICS (the machine)

  if (have_customer) {
    xml.open("CTR");
    xml.attr("A", "CTR1");
    xml.attr("B", spec.customer);  // v4 CustomerLastName, v3 CustomerDesignator
    xml.close();
  }
  if (have_farm) {
    xml.open("FRM");
    xml.attr("A", "FRM1");
    xml.attr("B", spec.farm);
    if (have_customer) xml.attr("I", "CTR1");
    xml.close();
  }
  if (have_crop) {
    xml.open("CTP");
    xml.attr("A", "CTP1");
    xml.attr("B", spec.crop);
    xml.close();
  }

  const auto area = static_cast<long long>(std::llround(spec.field_area_m2));
  xml.open("PFD");
  xml.attr("A", "PFD1");
  xml.attr("C", spec.field_name);
  xml.attr("D", area);
  if (have_customer) xml.attr("E", "CTR1");
  if (have_farm) xml.attr("F", "FRM1");
  if (have_crop) xml.attr("G", "CTP1");
  for (std::size_t p = 0; p < spec.boundary.size(); ++p) {
    const std::string what = "boundary polygon " + std::to_string(p + 1);
    xml.open("PLN");
    xml.attr("A", 1);  // 1 = partfield boundary
    // Only the whole field's area is known: give it when the field is one polygon.
    if (spec.boundary.size() == 1) xml.attr("C", area);
    write_ring(xml, closed_ring(spec.boundary[p].exterior, what + " exterior"), 1);
    for (std::size_t h = 0; h < spec.boundary[p].holes.size(); ++h)
      write_ring(
          xml, closed_ring(spec.boundary[p].holes[h], what + " hole " + std::to_string(h + 1)), 2);
    xml.close();
  }
  if (spec.guidance && spec.version_major >= 4) write_guidance(xml, *spec.guidance);
  xml.close();

  xml.open("PDT");
  xml.attr("A", "PDT1");
  xml.attr("B", spec.product_name);
  xml.attr("D", "VPN1");
  xml.attr("E", unit.quantity_ddi);  // v4 QuantityDDI, v3 AmountDDI: the same attribute
  xml.close();

  xml.open("VPN");
  xml.attr("A", "VPN1");
  xml.attr("B", 0);               // offset; shown value = (raw + B) × C
  xml.attr("C", unit.vpn_scale);  // scale
  xml.attr("D", 2);               // decimals shown
  xml.attr("E", unit.name);
  xml.close();

  xml.open("TSK");
  xml.attr("A", "TSK1");
  xml.attr("B", spec.task_name.empty() ? spec.field_name : spec.task_name);
  if (have_customer) xml.attr("C", "CTR1");
  if (have_farm) xml.attr("D", "FRM1");
  xml.attr("E", "PFD1");
  xml.attr("G", 1);  // v4 Planned, v3 Initial
  xml.attr("H", kDefaultZone);
  xml.attr("I", kPositionLostZone);
  xml.attr("J", out_of_field_zone);
  if (spec.grid_type == 2) {
    // The grid's template zone: its PDV says what the int32 cells are; its value is unused.
    write_zone(xml, kGridTemplateZone, "Grid rates", 0, unit);
  } else {
    write_zone(xml, kOutOfFieldZoneType1,
               "Out of field " + describe(checked.out_of_field_raw, unit), checked.out_of_field_raw,
               unit);
    for (const auto& [zone, raw] : checked.zone_raw)
      write_zone(xml, zone, "Zone " + std::to_string(zone) + " " + describe(raw, unit), raw, unit);
  }
  write_zone(xml, kDefaultZone, "Default " + describe(checked.default_raw, unit),
             checked.default_raw, unit);
  write_zone(xml, kPositionLostZone, "Position lost " + describe(checked.position_lost_raw, unit),
             checked.position_lost_raw, unit);
  if (spec.grid_type == 2)
    write_zone(xml, kOutOfFieldZoneType2,
               "Out of field " + describe(checked.out_of_field_raw, unit), checked.out_of_field_raw,
               unit);

  const TaskDataGrid& grid = spec.grid;
  xml.open("GRD");
  xml.attr("A", decimal9(grid.south_lat));
  xml.attr("B", decimal9(grid.west_lon));
  // Cell sizes exactly (shortest round-trip text, 15-17 significant digits for real sizes): a
  // rounded size would drift the far cells of the grid off the ground they describe.
  xml.attr("C", shortest(grid.cell_lat_deg));
  xml.attr("D", shortest(grid.cell_lon_deg));
  xml.attr("E", grid.columns);
  xml.attr("F", grid.rows);
  xml.attr("G", kGridFile);
  xml.attr("H", static_cast<long long>(checked.grid_bytes));
  xml.attr("I", spec.grid_type);
  if (spec.grid_type == 2) xml.attr("J", kGridTemplateZone);
  xml.close();

  xml.close();  // TSK
  xml.close();  // ISO11783_TaskData
  std::string text = xml.printer().CStr();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

std::vector<std::uint8_t> taskdata_grid_bytes(const TaskDataSpec& spec) {
  const Checked checked = check(spec);
  std::vector<std::uint8_t> bytes;
  bytes.reserve(checked.grid_bytes);
  // zone_of_cell is already in ISOXML order (row 0 south, row-major): written as it stands.
  for (const int zone : spec.grid.zone_of_cell) {
    if (spec.grid_type == 1)
      bytes.push_back(static_cast<std::uint8_t>(zone == 0 ? kOutOfFieldZoneType1 : zone));
    else
      append_int32_le(bytes, zone == 0 ? checked.out_of_field_raw : checked.zone_raw.at(zone));
  }
  return bytes;
}

std::vector<std::uint8_t> taskdata_zip_bytes(const std::string& xml,
                                             const std::vector<std::uint8_t>& grid) {
  const auto fail = [](const std::string& what, zip_error_t* error) -> IoError {
    return IoError(std::string(kWhere) + ": building TASKDATA.zip: " + what + ": " +
                   zip_error_strerror(error));
  };
  zip_error_t error;
  zip_error_init(&error);
  // The archive is written into a growing memory buffer (libzip's in-memory source).
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (buffer == nullptr) throw fail("memory buffer", &error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    zip_source_free(buffer);
    throw fail("open", &error);
  }
  zip_source_keep(buffer);  // still ours after zip_close, to read the bytes back
  const std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> keep(buffer, zip_source_free);

  const auto add = [&](const char* name, const void* data, std::size_t size) {
    zip_source_t* source = zip_source_buffer(archive, data, size, 0);
    const zip_int64_t index = source == nullptr ? -1 : zip_file_add(archive, name, source, ZIP_FL_ENC_UTF_8);
    // A fixed entry time (2000-01-01) keeps the zip byte-identical across reruns, so batch
    // re-runs and thread-count checks compare equal; the XML carries no time either.
    if (index >= 0) zip_file_set_mtime(archive, static_cast<zip_uint64_t>(index), 946684800, 0);
    if (source == nullptr || index < 0) {
      if (source != nullptr) zip_source_free(source);
      const std::string message = zip_strerror(archive);
      zip_discard(archive);
      throw IoError(std::string(kWhere) + ": building TASKDATA.zip: adding " + name + ": " +
                    message);
    }
  };
  add("TASKDATA/TASKDATA.XML", xml.data(), xml.size());
  add((std::string("TASKDATA/") + kGridFile + ".bin").c_str(), grid.data(), grid.size());
  if (zip_close(archive) < 0) {
    const std::string message = zip_strerror(archive);
    zip_discard(archive);
    throw IoError(std::string(kWhere) + ": building TASKDATA.zip: " + message);
  }

  if (zip_source_open(buffer) < 0) throw fail("reading back", zip_source_error(buffer));
  std::vector<std::uint8_t> bytes;
  if (zip_source_seek(buffer, 0, SEEK_END) == 0) {
    const zip_int64_t size = zip_source_tell(buffer);
    if (size > 0 && zip_source_seek(buffer, 0, SEEK_SET) == 0) {
      bytes.resize(static_cast<std::size_t>(size));
      if (zip_source_read(buffer, bytes.data(), bytes.size()) != size) bytes.clear();
    }
  }
  zip_source_close(buffer);
  if (bytes.empty()) throw fail("reading back", zip_source_error(buffer));
  return bytes;
}

std::vector<std::string> write_taskdata(const TaskDataSpec& spec, const std::string& field_dir) {
  namespace fs = std::filesystem;
  // Build everything first: a bad spec fails before any file is touched.
  const std::string xml = taskdata_xml(spec);
  const std::vector<std::uint8_t> grid = taskdata_grid_bytes(spec);
  const std::vector<std::uint8_t> zip = taskdata_zip_bytes(xml, grid);

  make_directories(field_dir);
  static std::atomic<int> counter{0};
  const std::string unique = std::to_string(getpid()) + "-" + std::to_string(counter++);
  const fs::path dir(field_dir);
  const fs::path final_folder = dir / "TASKDATA";
  const fs::path temp_folder = dir / (".tmp-" + unique + "-TASKDATA");
  const fs::path old_folder = dir / (".old-" + unique + "-TASKDATA");

  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
      std::error_code ignored;
      if (!path.empty()) fs::remove_all(path, ignored);
    }
  } temp_guard{temp_folder};

  std::error_code ec;
  fs::create_directory(temp_folder, ec);
  if (ec) throw IoError(temp_folder.string() + ": cannot create the folder: " + ec.message());
  write_file(temp_folder / "TASKDATA.XML", xml.data(), xml.size());
  write_file(temp_folder / (std::string(kGridFile) + ".bin"), grid.data(), grid.size());

  // rename() cannot replace a non-empty folder: move an older package aside, swap the new one
  // in, then delete the old one (so stale files of an earlier run never mix with these).
  const bool had_old = fs::exists(final_folder);
  if (had_old) {
    fs::rename(final_folder, old_folder, ec);
    if (ec)
      throw IoError(final_folder.string() + ": cannot replace the older package: " + ec.message());
  }
  fs::rename(temp_folder, final_folder, ec);
  if (ec) {
    std::error_code ignored;
    if (had_old) fs::rename(old_folder, final_folder, ignored);
    throw IoError(final_folder.string() +
                  ": cannot move the finished package into place: " + ec.message());
  }
  temp_guard.path.clear();
  if (had_old) fs::remove_all(old_folder, ec);

  const std::string zip_path = (dir / "TASKDATA.zip").string();
  AtomicOutput zip_output(zip_path);
  write_file(zip_output.temp_path(), zip.data(), zip.size());
  zip_output.commit();
  return {final_folder.string(), zip_path};
}

}  // namespace fieldrx
