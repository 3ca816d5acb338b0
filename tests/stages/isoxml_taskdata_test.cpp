// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/isoxml_taskdata.hpp"

#include <tinyxml2.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "pipeline/errors.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;

namespace {

const std::string kPrescriptions = "data/prescriptions/";

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

std::string node_modules() {
  const char* env = std::getenv("FIELDRX_NODE_MODULES");
  return env ? env : FIELDRX_NODE_MODULES;
}

// Runs a node script with the isoxml package on NODE_PATH (installed by scripts/test-deps.sh).
test::CommandResult run_node(const std::string& script, const std::string& argument) {
  INFO("isoxml npm package expected in " << node_modules()
                                         << " (run scripts/test-deps.sh <build folder>)");
  REQUIRE(fs::exists(node_modules() + "/isoxml/package.json"));
  return test::run_command("NODE_PATH=" + quoted(node_modules()) + " node " + quoted(script) + " " +
                           quoted(argument));
}

void require_schema_valid(const std::string& xml_path, int version_major) {
  const std::string xsd = test::shared_path(
      kPrescriptions + (version_major == 4 ? "xsd_ISO11783-10/ISO11783_TaskFile_V4-3.xsd"
                                           : "xsd_ISO11783-10/ISO11783_TaskFile_V3-3.xsd"));
  const auto result =
      test::run_command("xmllint --noout --schema " + quoted(xsd) + " " + quoted(xml_path));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
}

// --- The golden reference field (shared/data/prescriptions/reference_generated/
// make_ref_taskdata.py), rebuilt with the same arithmetic: 30 × 20 cells of 10 m whose SW corner
// is 47.25 N 132.63 E, a five-point boundary 3 m inside the grid, three zones west → east.
struct ReferenceField {
  double m_per_deg_lat = 0, m_per_deg_lon = 0;
  std::vector<std::pair<double, double>> ring_m{{3, 3}, {297, 3}, {297, 150}, {247, 197}, {3, 197}};

  ReferenceField() {
    const double phi = 47.25 * (M_PI / 180.0);
    m_per_deg_lat = 111132.92 - 559.82 * std::cos(2 * phi) + 1.175 * std::cos(4 * phi) -
                    0.0023 * std::cos(6 * phi);
    m_per_deg_lon =
        111412.84 * std::cos(phi) - 93.5 * std::cos(3 * phi) + 0.118 * std::cos(5 * phi);
  }
  bool inside(double x, double y) const {  // the script's even-odd test, edge order included
    bool c = false;
    for (std::size_t i = 0; i < ring_m.size(); ++i) {
      const auto [x1, y1] = ring_m[i];
      const auto [x2, y2] = ring_m[(i + ring_m.size() - 1) % ring_m.size()];
      if ((y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1) c = !c;
    }
    return c;
  }
  TaskDataSpec spec(int grid_type) const {
    TaskDataSpec spec;
    spec.grid_type = grid_type;
    spec.customer = "Demo customer";
    spec.farm = "Demo farm";
    spec.crop = "Soybean";
    spec.field_name = "Field 12";
    spec.task_name = "VRA fungicide";
    spec.product_name = "Fungicide tank mix";
    spec.rate_unit = "l/ha";
    TaskDataPolygon polygon;
    double twice_area = 0;
    for (std::size_t i = 0; i < ring_m.size(); ++i) {
      const auto [x, y] = ring_m[i];
      polygon.exterior.push_back({132.63 + x / m_per_deg_lon, 47.25 + y / m_per_deg_lat});
      const auto [xp, yp] = ring_m[(i + ring_m.size() - 1) % ring_m.size()];
      twice_area += xp * y - x * yp;
    }
    spec.boundary = {polygon};
    spec.field_area_m2 = std::round(std::abs(twice_area) / 2);
    spec.grid = {47.25, 132.63, 10.0 / m_per_deg_lat, 10.0 / m_per_deg_lon, 30, 20, {}};
    for (int row = 0; row < 20; ++row)
      for (int col = 0; col < 30; ++col)
        spec.grid.zone_of_cell.push_back(
            inside((col + 0.5) * 10, (row + 0.5) * 10) ? 1 + std::min(2, col * 3 / 30) : 0);
    spec.zones = {{1, 12.0}, {2, 15.0}, {3, 18.0}};
    spec.position_lost_rate = 15.0;
    return spec;
  }
};

// --- An asymmetric field: every row and column differs, so a flipped or transposed grid
// decodes to other rates at the same place. 7 columns × 5 rows of ~10 m, two out-of-field cells
// in the north-east corner only, rates with decimals.
TaskDataSpec asymmetric_spec(int version_major, int grid_type, const std::string& unit) {
  TaskDataSpec spec;
  spec.version_major = version_major;
  spec.grid_type = grid_type;
  spec.customer = "Nongchang 859";
  spec.farm = "Jiansanjiang";
  spec.field_name = "Asymmetric";
  spec.product_name = unit == "kg/ha" ? "Urea" : "Fungicide";
  spec.rate_unit = unit;
  spec.grid = {47.3, 132.7, 0.00009, 0.000132, 7, 5, {}};
  for (int row = 0; row < 5; ++row)
    for (int col = 0; col < 7; ++col)
      spec.grid.zone_of_cell.push_back(row == 4 && col >= 5 ? 0 : 1 + (row * 3 + col) % 4);
  spec.zones = {{1, 11.5}, {2, 13.0}, {3, 17.25}, {4, 20.0}};
  spec.position_lost_rate = 14.5;
  spec.out_of_field_rate = 0;
  const double n = 47.3 + 5 * 0.00009, e = 132.7 + 7 * 0.000132;
  // Two parts, the first with a hole: the writer must keep each hole with its exterior.
  TaskDataPolygon west{{{132.70001, 47.30001},
                        {132.7005, 47.30001},
                        {132.7005, n - 0.00001},
                        {132.70001, n - 0.00001}},
                       {{{132.7002, 47.3001}, {132.7003, 47.3001}, {132.7003, 47.3002}}}};
  TaskDataPolygon east{{{132.7006, 47.30001},
                        {e - 0.00001, 47.30001},
                        {e - 0.00001, 47.3003},
                        {132.7006, 47.3003},
                        {132.7006, 47.30001}},
                       {}};
  spec.boundary = {west, east};
  spec.field_area_m2 = 2890.4;
  return spec;
}

double rate_at(const TaskDataSpec& spec, double lat, double lon) {
  const int col = static_cast<int>(std::floor((lon - spec.grid.west_lon) / spec.grid.cell_lon_deg));
  const int row =
      static_cast<int>(std::floor((lat - spec.grid.south_lat) / spec.grid.cell_lat_deg));
  REQUIRE(col >= 0);
  REQUIRE(col < spec.grid.columns);
  REQUIRE(row >= 0);
  REQUIRE(row < spec.grid.rows);
  const int zone = spec.grid.zone_of_cell[row * spec.grid.columns + col];
  if (zone == 0) return spec.out_of_field_rate;
  for (const TaskDataZone& z : spec.zones)
    if (z.zone == zone) return z.rate;
  FAIL("zone " << zone << " has no rate");
  return 0;
}

// Checks a written package with the independent isoxml npm parser: no problems, and every decoded
// cell shows the rate the spec puts at that place.
void require_decodes_to_spec(const TaskDataSpec& spec, const std::string& taskdata_dir) {
  const auto validation =
      run_node(test::shared_path(kPrescriptions + "tools/isoxml_js_validate_dir.js"), taskdata_dir);
  INFO(validation.output);
  REQUIRE(validation.exit_code == 0);
  const auto report = nlohmann::json::parse(validation.output);
  CHECK(report["problems"].empty());
  CHECK(report["type"] == std::to_string(spec.grid_type));
  CHECK(report["cols"] == spec.grid.columns);
  CHECK(report["rows"] == spec.grid.rows);

  const auto decoded_run =
      run_node(test::source_path("tests/data/isoxml/decode_grid.js"), taskdata_dir);
  INFO(decoded_run.output);
  REQUIRE(decoded_run.exit_code == 0);
  const auto decoded = nlohmann::json::parse(decoded_run.output);
  CHECK(decoded["version"] == spec.version_major);
  CHECK(decoded["warnings"].empty());
  CHECK(decoded["position_lost"]["value"].get<double>() ==
        Approx(spec.position_lost_rate).margin(1e-9));
  CHECK(decoded["out_of_field"]["value"].get<double>() ==
        Approx(spec.out_of_field_rate).margin(1e-9));
  CHECK(decoded["default"]["value"].get<double>() ==
        Approx(spec.default_rate.value_or(spec.position_lost_rate)).margin(1e-9));
  CHECK(decoded["position_lost"]["unit"] == spec.rate_unit);
  CHECK(decoded["position_lost"]["ddi"] == (spec.rate_unit == "l/ha" ? "0001" : "0006"));

  std::size_t expected_cells = 0;  // type 2: isoxml leaves out cells whose value is 0
  for (const int zone : spec.grid.zone_of_cell)
    expected_cells += spec.grid_type == 1 || (zone == 0 ? spec.out_of_field_rate : 1) != 0;
  REQUIRE(decoded["cells"].size() == expected_cells);
  int mismatches = 0;
  for (const auto& cell : decoded["cells"]) {
    const double lat = cell[0], lon = cell[1], value = cell[2];
    const double expected = rate_at(spec, lat, lon);
    if (std::abs(value - expected) > 1e-9) {
      if (++mismatches <= 5)
        UNSCOPED_INFO("cell at " << lat << ", " << lon << " shows " << value << ", the spec has "
                                 << expected);
    }
  }
  CHECK(mismatches == 0);
}

const tinyxml2::XMLElement* child(const tinyxml2::XMLElement* parent, const char* name,
                                  int index = 0) {
  REQUIRE(parent != nullptr);
  const tinyxml2::XMLElement* e = parent->FirstChildElement(name);
  for (int i = 0; i < index && e != nullptr; ++i) e = e->NextSiblingElement(name);
  INFO("element " << name << " #" << index << " under " << parent->Name());
  REQUIRE(e != nullptr);
  return e;
}

std::string attr(const tinyxml2::XMLElement* e, const char* name) {
  const char* value = e->Attribute(name);
  return value ? value : "<absent>";
}

const tinyxml2::XMLElement* zone_element(const tinyxml2::XMLElement* task, int code) {
  for (auto* z = task->FirstChildElement("TZN"); z != nullptr; z = z->NextSiblingElement("TZN"))
    if (z->IntAttribute("A", -1) == code) return z;
  FAIL("no TZN with code " << code);
  return nullptr;
}

}  // namespace

TEST_CASE("isoxml: the golden reference field rebuilds to the same grid bytes", "[isoxml][stage]") {
  // Guards the binary layout (row 0 south, little-endian int32, DDI 0001 scaling, zone codes)
  // against reference_generated/, written independently in Python.
  const ReferenceField field;
  const std::string ref = test::shared_path(kPrescriptions + "reference_generated/");
  for (int grid_type : {2, 1}) {
    DYNAMIC_SECTION("grid type " << grid_type) {
      const std::string golden_dir = ref + "grid_type" + std::to_string(grid_type) + "/TASKDATA/";
      const TaskDataSpec spec = field.spec(grid_type);
      const auto bytes = taskdata_grid_bytes(spec);
      REQUIRE(bytes == read_bytes(golden_dir + "GRD00001.bin"));

      tinyxml2::XMLDocument ours, golden;
      REQUIRE(ours.Parse(taskdata_xml(spec).c_str()) == tinyxml2::XML_SUCCESS);
      REQUIRE(golden.LoadFile((golden_dir + "TASKDATA.XML").c_str()) == tinyxml2::XML_SUCCESS);
      const auto* our_root = ours.RootElement();
      const auto* golden_root = golden.RootElement();
      CHECK(attr(our_root, "VersionMajor") == "4");
      CHECK(attr(our_root, "VersionMinor") == "3");
      CHECK(attr(our_root, "ManagementSoftwareManufacturer") == "fieldrx");
      CHECK(attr(our_root, "DataTransferOrigin") == "1");

      // The field: area and every boundary vertex to the 9th decimal.
      const auto* our_pfd = child(our_root, "PFD");
      const auto* golden_pfd = child(golden_root, "PFD");
      CHECK(attr(our_pfd, "D") == attr(golden_pfd, "D"));
      CHECK(attr(our_pfd, "D") == "55861");
      const auto* our_lsg = child(child(our_pfd, "PLN"), "LSG");
      const auto* golden_lsg = child(child(golden_pfd, "PLN"), "LSG");
      CHECK(attr(child(our_pfd, "PLN"), "A") == "1");
      CHECK(attr(our_lsg, "A") == "1");
      for (int i = 0; i < 6; ++i) {
        CHECK(attr(child(our_lsg, "PNT", i), "A") == "2");
        CHECK(attr(child(our_lsg, "PNT", i), "C") == attr(child(golden_lsg, "PNT", i), "C"));
        CHECK(attr(child(our_lsg, "PNT", i), "D") == attr(child(golden_lsg, "PNT", i), "D"));
      }
      int points = 0;  // closed ring: first point repeated
      for (auto* p = our_lsg->FirstChildElement("PNT"); p; p = p->NextSiblingElement("PNT"))
        ++points;
      CHECK(points == 6);

      // The value presentation: shown = (raw + 0) × 0.0001 l/ha.
      const auto* vpn = child(our_root, "VPN");
      CHECK(attr(vpn, "B") == "0");
      CHECK(attr(vpn, "C") == "0.0001");
      CHECK(attr(vpn, "E") == "l/ha");
      CHECK(attr(child(our_root, "PDT"), "D") == attr(vpn, "A"));

      // The grid header, numerically equal to the golden one.
      const auto* task = child(our_root, "TSK");
      const auto* grd = child(task, "GRD");
      const auto* golden_grd = child(child(golden_root, "TSK"), "GRD");
      for (const char* a : {"A", "B", "C", "D"})
        CHECK(grd->DoubleAttribute(a) == Approx(golden_grd->DoubleAttribute(a)).epsilon(1e-14));
      for (const char* a : {"E", "F", "G", "H", "I"}) CHECK(attr(grd, a) == attr(golden_grd, a));
      CHECK(std::string(attr(grd, "C")).find('e') == std::string::npos);
      CHECK(std::to_string(bytes.size()) == attr(grd, "H"));

      // The task's own zones: default, position lost, out of field, all present and distinct.
      const int h = task->IntAttribute("H", -1), i = task->IntAttribute("I", -1),
                j = task->IntAttribute("J", -1);
      CHECK(h != i);
      CHECK(i != j);
      CHECK(h != j);
      CHECK(attr(child(zone_element(task, i), "PDV"), "B") == "150000");
      CHECK(attr(child(zone_element(task, j), "PDV"), "B") == "0");
      CHECK(attr(child(zone_element(task, h), "PDV"), "B") == "150000");
      if (grid_type == 2) {
        CHECK(attr(grd, "J") == "1");
        CHECK(attr(child(zone_element(task, 1), "PDV"), "A") == "0001");
      } else {
        CHECK(j == 0);  // the grid's out-of-field bytes are 0
        for (int zone = 1; zone <= 3; ++zone)
          CHECK(attr(child(zone_element(task, zone), "PDV"), "B") ==
                attr(child(zone_element(child(golden_root, "TSK"), zone), "PDV"), "B"));
      }
    }
  }
}

TEST_CASE("isoxml: raw rates follow the DDI resolution of the unit", "[isoxml][stage]") {
  // Guards the unit conversion a sprayer applies: L/ha × 10000 (DDI 0001), kg/ha × 100 (0006).
  CHECK(taskdata_raw_rate(15.0, "l/ha") == 150000);
  CHECK(taskdata_raw_rate(12.3456, "L/ha") == 123456);
  CHECK(taskdata_raw_rate(0.0, "l/ha") == 0);
  CHECK(taskdata_raw_rate(180.0, "kg/ha") == 18000);
  CHECK(taskdata_raw_rate(92.345, "kg/ha") == 9235);  // rounded to the 1 mg/m² resolution

  // Type 2 cells hold exactly these values, little-endian, south row first.
  TaskDataSpec spec = asymmetric_spec(4, 2, "kg/ha");
  const auto bytes = taskdata_grid_bytes(spec);
  REQUIRE(bytes.size() == 7u * 5u * 4u);
  const auto cell = [&](int row, int col) {
    const std::size_t at = (static_cast<std::size_t>(row) * 7 + col) * 4;
    return static_cast<std::int32_t>(bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                                     static_cast<std::uint32_t>(bytes[at + 3]) << 24);
  };
  CHECK(cell(0, 0) == 1150);  // zone 1, 11.5 kg/ha
  CHECK(cell(0, 2) == 1725);  // zone 3
  CHECK(cell(1, 0) == 2000);  // zone 4
  CHECK(cell(4, 6) == 0);     // out of field, north-east
  const std::string xml = taskdata_xml(spec);
  CHECK_THAT(xml, Catch::Contains("C=\"0.01\" D=\"2\" E=\"kg/ha\""));
  CHECK_THAT(xml, Catch::Contains("<PDV A=\"0006\""));
}

TEST_CASE("isoxml: every package written validates against the ISO 11783-10 XSD",
          "[isoxml][stage][e2e]") {
  // Guards schema validity for v4.3 and v3.3, both grid types, both units, holes and multipart
  // fields, checked by xmllint with the published schemas.
  for (int version : {4, 3})
    for (int grid_type : {2, 1})
      for (const std::string unit : {"l/ha", "kg/ha"}) {
        DYNAMIC_SECTION("v" << version << " grid type " << grid_type << " " << unit) {
          test::TempDir dir;
          const TaskDataSpec spec = asymmetric_spec(version, grid_type, unit);
          const auto written = write_taskdata(spec, dir.path().string());
          REQUIRE(written.size() == 2);
          const std::string xml_path = dir.file("TASKDATA/TASKDATA.XML");
          require_schema_valid(xml_path, version);
          const auto xml = read_bytes(xml_path);
          const std::string text(xml.begin(), xml.end());
          CHECK_THAT(text, Catch::Contains(version == 4 ? "VersionMajor=\"4\" VersionMinor=\"3\""
                                                        : "VersionMajor=\"3\" VersionMinor=\"3\""));
          CHECK_THAT(text, Catch::Contains("<LSG A=\"2\""));  // the hole
        }
      }
  // The golden field too, in both versions.
  for (int version : {4, 3}) {
    test::TempDir dir;
    TaskDataSpec spec = ReferenceField().spec(2);
    spec.version_major = version;
    write_taskdata(spec, dir.path().string());
    require_schema_valid(dir.file("TASKDATA/TASKDATA.XML"), version);
  }
}

TEST_CASE("isoxml: the isoxml npm parser reads back every cell's rate at its place",
          "[isoxml][stage][e2e]") {
  // Guards what the sprayer does with the file, read by an independent parser: rows run south to
  // north (the asymmetric grid would show other rates if flipped), every cell shows its zone's
  // rate, and the default / position-lost / out-of-field zones carry the chosen rates.
  for (int version : {4, 3})
    for (int grid_type : {2, 1})
      for (const std::string unit : {"l/ha", "kg/ha"}) {
        DYNAMIC_SECTION("v" << version << " grid type " << grid_type << " " << unit) {
          test::TempDir dir;
          TaskDataSpec spec = asymmetric_spec(version, grid_type, unit);
          spec.default_rate = 16.0;
          write_taskdata(spec, dir.path().string());
          require_decodes_to_spec(spec, dir.file("TASKDATA"));
        }
      }
  SECTION("out-of-field rate other than 0 is decoded too") {
    test::TempDir dir;
    TaskDataSpec spec = asymmetric_spec(4, 2, "l/ha");
    spec.out_of_field_rate = 2.5;
    write_taskdata(spec, dir.path().string());
    require_decodes_to_spec(spec, dir.file("TASKDATA"));
  }
  SECTION("the golden reference field") {
    test::TempDir dir;
    const TaskDataSpec spec = ReferenceField().spec(2);
    write_taskdata(spec, dir.path().string());
    require_decodes_to_spec(spec, dir.file("TASKDATA"));
  }
}

TEST_CASE("isoxml: TASKDATA.zip holds the package and passes the isoxml zip reader",
          "[isoxml][stage][e2e]") {
  // Guards the zip terminals import: TASKDATA/TASKDATA.XML + TASKDATA/GRD00001.bin, identical to
  // the folder, readable by unzip and by the isoxml npm parser without warnings.
  for (int version : {4, 3}) {
    DYNAMIC_SECTION("v" << version) {
      test::TempDir dir;
      const TaskDataSpec spec = asymmetric_spec(version, 2, "l/ha");
      write_taskdata(spec, dir.path().string());
      const std::string zip = dir.file("TASKDATA.zip");

      const auto listing = test::run_command("unzip -Z1 " + quoted(zip));
      INFO(listing.output);
      REQUIRE(listing.exit_code == 0);
      CHECK(listing.output == "TASKDATA/TASKDATA.XML\nTASKDATA/GRD00001.bin\n");
      for (const std::string name : {"TASKDATA.XML", "GRD00001.bin"}) {
        const std::string extracted = dir.file("unzipped-" + name);
        REQUIRE(test::run_command("unzip -p " + quoted(zip) + " TASKDATA/" + name + " > " +
                                  quoted(extracted))
                    .exit_code == 0);
        CHECK(test::files_identical(extracted, dir.file("TASKDATA/" + name)));
      }

      const auto result =
          run_node(test::shared_path(kPrescriptions + "tools/isoxml_js_validate.js"), zip);
      INFO(result.output);
      REQUIRE(result.exit_code == 0);
      CHECK_THAT(result.output, !Catch::Contains("ERROR"));
      CHECK_THAT(result.output,
                 Catch::Contains("version " + std::to_string(version) + " warnings []"));
      CHECK_THAT(result.output, Catch::Contains("GRD type 2 cols 7 rows 5"));
    }
  }
  SECTION("the pure zip builder matches what is written") {
    const TaskDataSpec spec = asymmetric_spec(4, 1, "l/ha");
    const auto zip = taskdata_zip_bytes(taskdata_xml(spec), taskdata_grid_bytes(spec));
    REQUIRE(zip.size() > 30);
    CHECK(zip[0] == 'P');
    CHECK(zip[1] == 'K');
  }
}

TEST_CASE("isoxml: writing again replaces the package and leaves no temporary files",
          "[isoxml][stage]") {
  // Guards the atomic replacement: a second run's package is complete, no stale or temp files.
  test::TempDir dir;
  TaskDataSpec spec = asymmetric_spec(4, 2, "l/ha");
  write_taskdata(spec, dir.path().string());
  std::ofstream(dir.file("TASKDATA/GRD00002.bin")) << "stale";
  spec.zones[0].rate = 9.0;
  write_taskdata(spec, dir.path().string());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"TASKDATA", "TASKDATA.zip"});
  CHECK_FALSE(fs::exists(dir.file("TASKDATA/GRD00002.bin")));
  CHECK(read_bytes(dir.file("TASKDATA/GRD00001.bin")) == taskdata_grid_bytes(spec));

  SECTION("a bad spec fails before anything is written") {
    test::TempDir empty;
    spec.rate_unit = "gal/ac";
    CHECK_THROWS_AS(write_taskdata(spec, empty.path().string()), ConfigError);
    CHECK(fs::is_empty(empty.path()));
  }
}

TEST_CASE("isoxml: bad input fails with a message that names the fix", "[isoxml][stage]") {
  // Guards the errors a caller can make: each is a ConfigError saying what is wrong and what
  // would be right, never a silently wrong prescription.
  const auto message_of = [](const TaskDataSpec& spec) -> std::string {
    try {
      taskdata_xml(spec);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  const TaskDataSpec good = asymmetric_spec(4, 2, "l/ha");
  REQUIRE(message_of(good) == "(no error)");

  TaskDataSpec spec = good;
  spec.grid.zone_of_cell.pop_back();
  CHECK_THAT(message_of(spec),
             Catch::Contains("zone_of_cell has 34 values") && Catch::Contains("7 × 5 = 35"));
  CHECK_THROWS_AS(taskdata_grid_bytes(spec), ConfigError);

  spec = good;
  spec.rate_unit = "l/mu";
  CHECK_THAT(message_of(spec), Catch::Contains("'l/mu' is not supported") &&
                                   Catch::Contains("'l/ha'") && Catch::Contains("'kg/ha'"));

  spec = good;
  spec.version_major = 5;
  CHECK_THAT(message_of(spec), Catch::Contains("version_major 5") && Catch::Contains("use 4"));

  spec = good;
  spec.grid_type = 3;
  CHECK_THAT(message_of(spec), Catch::Contains("grid_type 3"));

  spec = good;
  spec.zones[2].rate = -1;
  CHECK_THAT(message_of(spec), Catch::Contains("rate of zone 3 is -1") && Catch::Contains("≥ 0"));

  spec = good;
  spec.zones[1].rate = std::nan("");
  CHECK_THAT(message_of(spec), Catch::Contains("rate of zone 2"));

  spec = good;
  spec.zones[0].rate = 300000;  // 3e9 raw counts: does not fit int32
  CHECK_THAT(message_of(spec), Catch::Contains("does not fit"));

  spec = good;
  spec.position_lost_rate = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message_of(spec), Catch::Contains("position_lost_rate is not set"));

  spec = good;
  spec.zones.pop_back();  // zone 4 is still used by cells
  CHECK_THAT(message_of(spec), Catch::Contains("zone 4, which has no rate"));

  spec = good;
  spec.zones.push_back({2, 5.0});
  CHECK_THAT(message_of(spec), Catch::Contains("zone 2 is listed twice"));

  spec = good;
  spec.zones.push_back({253, 5.0});
  CHECK_THAT(message_of(spec), Catch::Contains("zone 253 is out of range"));

  spec = good;
  std::fill(spec.grid.zone_of_cell.begin(), spec.grid.zone_of_cell.end(), 0);
  CHECK_THAT(message_of(spec), Catch::Contains("every grid cell is 0"));

  spec = good;
  spec.grid.cell_lat_deg = 10;  // metres given where degrees belong
  CHECK_THAT(message_of(spec), Catch::Contains("grid.cell_lat_deg is 10"));

  spec = good;
  for (auto& point : spec.boundary[0].exterior) std::swap(point.lat, point.lon);
  CHECK_THAT(message_of(spec), Catch::Contains("is not a WGS84 position"));

  spec = good;
  spec.boundary[1].exterior[0].lat += 0.01;  // ~1 km north of the grid
  CHECK_THAT(message_of(spec), Catch::Contains("lies outside the grid"));

  spec = good;
  spec.boundary[0].holes[0].pop_back();
  CHECK_THAT(message_of(spec), Catch::Contains("hole 1 has 2 distinct points"));

  spec = good;
  spec.boundary.clear();
  CHECK_THAT(message_of(spec), Catch::Contains("boundary has no polygon"));

  spec = good;
  spec.field_name = "A field name far longer than thirty-two characters";
  CHECK_THAT(message_of(spec), Catch::Contains("at most 32"));

  spec = good;
  spec.product_name = "";
  CHECK_THAT(message_of(spec), Catch::Contains("product_name is empty"));

  spec = good;
  spec.farm = std::string("bad\xff") + "name";
  CHECK_THAT(message_of(spec), Catch::Contains("not valid UTF-8"));
}

TEST_CASE("isoxml: names in UTF-8 and XML special characters survive", "[isoxml][stage]") {
  // Guards escaping and character counting: Chinese names (32 characters, ~96 bytes) and '&<>"'
  // must give schema-valid XML that reads back to the same text.
  test::TempDir dir;
  TaskDataSpec spec = asymmetric_spec(4, 1, "l/ha");
  spec.customer = "建三江农场 \"A&B\" <co>";
  spec.field_name = std::string(32 / 2, 'x') + "一二三四五六七八九十一二三四五六";  // 32 characters
  write_taskdata(spec, dir.path().string());
  require_schema_valid(dir.file("TASKDATA/TASKDATA.XML"), 4);
  tinyxml2::XMLDocument doc;
  REQUIRE(doc.LoadFile(dir.file("TASKDATA/TASKDATA.XML").c_str()) == tinyxml2::XML_SUCCESS);
  CHECK(attr(child(doc.RootElement(), "CTR"), "B") == spec.customer);
  CHECK(attr(child(doc.RootElement(), "PFD"), "C") == spec.field_name);
}
