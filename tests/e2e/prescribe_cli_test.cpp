// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "pipeline/io/gdal_io.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double attribute(const std::string& xml, const std::string& element, const std::string& name) {
  std::smatch m;
  const std::regex pattern("<" + element + "[^>]* " + name + "=\"([^\"]+)\"");
  REQUIRE(std::regex_search(xml, m, pattern));
  return std::stod(m[1]);
}

struct Zone {
  int zone;
  double rate;
  OGRGeometryUniquePtr geometry;
};

// zones.shp read with OGR: the independent reader of the acceptance checks.
std::vector<Zone> read_zones(const std::string& path) {
  configure_gdal(64 << 20);
  DatasetPtr ds = open_vector(path);
  std::vector<Zone> zones;
  for (auto& feature : *ds->GetLayer(0)) {
    zones.push_back({feature->GetFieldAsInteger("ZONE"), feature->GetFieldAsDouble("RATE"),
                     OGRGeometryUniquePtr(feature->GetGeometryRef()->clone())});
  }
  return zones;
}

double utm_area_m2(const OGRGeometry& lonlat, int epsg) {
  OGRSpatialReference wgs84, utm;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  utm.importFromEPSG(epsg);
  std::unique_ptr<OGRCoordinateTransformation> t(OGRCreateCoordinateTransformation(&wgs84, &utm));
  OGRGeometryUniquePtr g(lonlat.clone());
  g->transform(t.get());
  return OGR_G_Area(OGRGeometry::ToHandle(g.get()));
}

class SynthFarm {
 public:
  SynthFarm() {
    const auto r = test::run_fieldrx("synth -o " + dir_.file("farm") + " --size 1400 --fields 6 --seed 7 -q");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  std::string farm_tif() const { return dir_.file("farm/farm.tif"); }
  std::string fields() const { return dir_.file("farm/fields.geojson"); }
  std::string out(const std::string& name) const { return dir_.file(name); }

 private:
  test::TempDir dir_;
};

std::string prescribe(const SynthFarm& farm, const std::string& out, const std::string& extra) {
  const auto r = test::run_fieldrx("prescribe --image " + farm.farm_tif() + " --fields " + farm.fields() +
                                   " --field-id field_id --index ndvi --zones 3 --method jenks --rates 12,15,18 --unit l/ha"
                                   " --cell-size 10 --min-zone-area 400 -q -o " + out + " " + extra);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return out;
}

// The independent checks of one field's exports (the acceptance checks): ISO XSD + isoxml
// parser, totals vs OGR areas of zones.shp, every ISOXML cell vs the zone polygon under its
// centre (rows south->north), the drone raster through GDAL and the geotiff npm reader.
void check_field_exports(const std::string& out, const std::map<std::string, std::string>& row) {
  const char* node_modules = std::getenv("FIELDRX_NODE_MODULES");
  const std::string modules = node_modules ? node_modules : FIELDRX_NODE_MODULES;
  INFO("field " << row.at("field_id") << ": " << row.at("message"));
  REQUIRE(row.at("status") != "error");
  const std::string dir = out + "/" + row.at("field_id");
  // 1. ISO 11783-10 schema and the isoxml npm parser.
  CHECK(test::run_command("xmllint --noout --schema " + test::shared_path("data/prescriptions/xsd_ISO11783-10/ISO11783_TaskFile_V4-3.xsd") + " " + dir + "/TASKDATA/TASKDATA.XML").exit_code == 0);
  const auto parsed = test::run_command("NODE_PATH=" + modules + " node " + test::shared_path("data/prescriptions/tools/isoxml_js_validate_dir.js") + " " + dir + "/TASKDATA");
  INFO(parsed.output);
  CHECK_THAT(parsed.output, Catch::Contains("\"problems\":[]"));
  // 2. total_product = sum RATE x area of the clipped zones.shp polygons, measured with OGR in UTM 52N.
  const auto zones = read_zones(dir + "/zones.shp");
  REQUIRE(zones.size() >= 2);
  double total = 0, area = 0;
  for (const auto& zone : zones) {
    const double a = utm_area_m2(*zone.geometry, 32652);
    total += zone.rate * a / 10000.0;
    area += a;
  }
  CHECK(std::stod(row.at("total_product")) == Approx(total).epsilon(0.001));
  // No zone patch (polygon part) below the minimum zone area survives, unless reported as isolated.
  for (const auto& zone : zones) {
    std::vector<const OGRGeometry*> parts;
    if (wkbFlatten(zone.geometry->getGeometryType()) == wkbPolygon) {
      parts.push_back(zone.geometry.get());
    } else {
      for (const OGRPolygon* part : *zone.geometry->toMultiPolygon()) parts.push_back(part);
    }
    for (const OGRGeometry* part : parts) {
      if (utm_area_m2(*part, 32652) < 400.0 - 1e-6) CHECK_THAT(row.at("message"), Catch::Contains("isolated"));
    }
  }
  CHECK(std::stod(row.at("area_ha")) == Approx(area / 10000.0).epsilon(0.001));  // zones cover the field
  const auto summary = nlohmann::json::parse(read_text(dir + "/summary.json"));
  CHECK(summary["total_product"].get<double>() == Approx(total).epsilon(0.001));
  // 3. Every ISOXML cell holds the rate of the zone at its centre (0 outside); row 0 is the south.
  const std::string xml = read_text(dir + "/TASKDATA/TASKDATA.XML");
  const double south = attribute(xml, "GRD", "A"), west = attribute(xml, "GRD", "B");
  const double dlat = attribute(xml, "GRD", "C"), dlon = attribute(xml, "GRD", "D");
  const int cols = static_cast<int>(attribute(xml, "GRD", "E")), nrows = static_cast<int>(attribute(xml, "GRD", "F"));
  const std::string bin = read_text(dir + "/TASKDATA/GRD00001.bin");
  REQUIRE(bin.size() == static_cast<std::size_t>(cols) * nrows * 4);
  int checked = 0, inside = 0;
  for (int r = 0; r < nrows; ++r) {
    for (int c = 0; c < cols; ++c) {
      std::int32_t raw;
      std::memcpy(&raw, bin.data() + (static_cast<std::size_t>(r) * cols + c) * 4, 4);
      OGRPoint centre(west + (c + 0.5) * dlon, south + (r + 0.5) * dlat);
      double expected = 0;
      for (const auto& zone : zones) {
        if (zone.geometry->Contains(&centre)) expected = zone.rate;
      }
      if (expected > 0) ++inside;
      CHECK(raw == std::lround(expected * 10000));
      ++checked;
    }
  }
  CHECK(inside > 100);
  // 4. The drone raster: EPSG:4326, and the same rate at the same cell centres.
  const auto info = test::run_command("gdalinfo " + dir + "/rx_wgs84.tif");
  CHECK_THAT(info.output, Catch::Contains("ID[\"EPSG\",4326]"));
  CHECK(std::filesystem::exists(dir + "/rx_wgs84.tfw"));
  // ... and through the geotiff npm package, a reader that is not GDAL: same grid, zone rates only.
  const auto js = test::run_command("NODE_PATH=" + modules + " node " + test::source_path("tests/data/geotiff_read.js") + " " + dir + "/rx_wgs84.tif");
  INFO(js.output);
  REQUIRE(js.exit_code == 0);
  const auto tif = nlohmann::json::parse(js.output);
  CHECK(tif["epsg"].get<int>() == 4326);
  CHECK(tif["width"].get<int>() == cols);
  CHECK(tif["height"].get<int>() == nrows);
  CHECK(tif["origin"][0].get<double>() == Approx(west).margin(1e-8));
  CHECK(tif["origin"][1].get<double>() == Approx(south + nrows * dlat).margin(1e-8));
  for (const auto& value : tif["distinct"]) {
    bool known = value.get<double>() == 0;
    for (const auto& zone : zones) known = known || std::abs(zone.rate - value.get<double>()) < 1e-4;
    CHECK(known);
  }
  CHECK(std::filesystem::exists(dir + "/TASKDATA.zip"));
  CHECK(std::filesystem::exists(dir + "/zones.prj"));
  // 5. GeoJSON and KML read back with ogrinfo: WGS84, the zones and rates of zones.shp.
  std::map<int, double> shp_rates;
  for (const auto& zone : zones) shp_rates[zone.zone] = zone.rate;
  for (const char* file : {"zones.geojson", "zones.kml"}) {
    INFO(file);
    const auto summary_info = test::run_command("ogrinfo -so -al " + dir + "/" + file);
    CHECK_THAT(summary_info.output, Catch::Contains("ID[\"EPSG\",4326]"));
    const auto listing = test::run_command("ogrinfo -q -al " + dir + "/" + file);
    REQUIRE(listing.exit_code == 0);
    std::map<int, double> rates;
    const std::regex pair(R"(ZONE \(Integer\) = (\d+)\s+RATE \(Real\) = ([0-9.eE+-]+))");
    for (auto it = std::sregex_iterator(listing.output.begin(), listing.output.end(), pair); it != std::sregex_iterator(); ++it) {
      rates[std::stoi((*it)[1])] = std::stod((*it)[2]);
    }
    CHECK(rates == shp_rates);
  }
}

// Metres on a transverse Mercator centred on a point (PROJ): bearings and distances over a
// field within millimetres, and independent of the plane fieldrx lays its grids in.
class LocalMetres {
 public:
  LocalMetres(double lon, double lat) {
    OGRSpatialReference wgs84, local;
    wgs84.importFromEPSG(4326);
    wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    local.SetProjCS("local transverse Mercator");
    local.SetWellKnownGeogCS("WGS84");
    local.SetTM(lat, lon, 1.0, 0.0, 0.0);
    local.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    to_local_.reset(OGRCreateCoordinateTransformation(&wgs84, &local));
    REQUIRE(to_local_);
  }
  OGRGeometryUniquePtr operator()(const OGRGeometry& lonlat) const {
    OGRGeometryUniquePtr g(lonlat.clone());
    REQUIRE(g->transform(to_local_.get()) == OGRERR_NONE);
    return g;
  }

 private:
  std::unique_ptr<OGRCoordinateTransformation> to_local_;
};

std::map<std::string, OGRGeometryUniquePtr> read_boundaries(const std::string& path) {
  configure_gdal(64 << 20);
  DatasetPtr ds = open_vector(path);
  std::map<std::string, OGRGeometryUniquePtr> boundaries;
  for (auto& feature : *ds->GetLayer(0)) {
    boundaries[feature->GetFieldAsString("field_id")] = OGRGeometryUniquePtr(feature->GetGeometryRef()->clone());
  }
  return boundaries;
}

// Every ring of a (multi)polygon.
std::vector<const OGRLinearRing*> rings_of(const OGRGeometry& geometry) {
  std::vector<const OGRLinearRing*> rings;
  std::vector<const OGRPolygon*> polygons;
  if (wkbFlatten(geometry.getGeometryType()) == wkbPolygon) {
    polygons.push_back(geometry.toPolygon());
  } else {
    for (const OGRPolygon* p : *geometry.toMultiPolygon()) polygons.push_back(p);
  }
  for (const OGRPolygon* polygon : polygons) {
    for (const OGRLinearRing* ring : *polygon) rings.push_back(ring);
  }
  return rings;
}

double bearing_deg(double dx, double dy) {
  const double b = std::atan2(dx, dy) * 180 / M_PI;
  return b < 0 ? b + 360 : b;
}

}  // namespace

TEST_CASE("prescriptions on a synthetic farm pass the independent checks", "[e2e][prescribe]") {
  // Guards the acceptance checks: XSD + isoxml parser, totals vs OGR areas, cells vs zones, rows south->north.
  SynthFarm farm;
  const std::string out = prescribe(farm, farm.out("rx"), "--machine dji-agras-t50 --threads 2");
  const auto rows = test::read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == 6);
  for (const auto& row : rows) check_field_exports(out, row);
}

TEST_CASE("zones along an A-B line follow its passes and pass the independent checks", "[e2e][prescribe][abline]") {
  // Guards A-B grids: the zone polygons' inner edges run along and across the line at whole
  // cell widths/lengths from A (measured on a PROJ transverse Mercator, not fieldrx's plane),
  // and the north-aligned ISOXML grid and drone raster pass every independent check.
  SynthFarm farm;
  const auto boundaries = read_boundaries(farm.fields());
  const double heading = 30, along = 10, across = 7;
  const std::string out = prescribe(farm, farm.out("ab"), "--ab-line 30 --cell-width 7 --threads 2");
  const auto rows = test::read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == 6);
  const double t = heading * M_PI / 180;
  const double across_e = std::cos(t), across_n = -std::sin(t), back_e = -std::sin(t), back_n = -std::cos(t);
  int inner_edges = 0;
  for (const auto& row : rows) {
    check_field_exports(out, row);
    const std::string id = row.at("field_id");
    const auto summary = nlohmann::json::parse(read_text(out + "/" + id + "/summary.json"));
    const auto& grid = summary["zoning_grid"];
    REQUIRE(grid.is_object());
    CHECK(grid["kind"] == "ab_line");
    CHECK(grid["heading_deg"].get<double>() == Approx(heading));
    CHECK(grid["cell_size_m"].get<double>() == along);
    CHECK(grid["cell_width_m"].get<double>() == across);
    CHECK(summary["grid"]["cell_size_m"].get<double>() == 3.5);  // delivery: half the narrower A-B edge
    const LocalMetres local(grid["anchor_lon"].get<double>(), grid["anchor_lat"].get<double>());
    const OGRGeometryUniquePtr boundary = local(*boundaries.at(id));
    const OGRGeometryUniquePtr boundary_line(boundary->Boundary());
    // The TASKDATA carries the line as an AB guidance pattern: A, then B at the heading.
    const std::string xml = read_text(out + "/" + id + "/TASKDATA/TASKDATA.XML");
    CHECK(attribute(xml, "GPN", "C") == 1);
    CHECK(attribute(xml, "GPN", "G") == Approx(heading));
    CHECK(attribute(xml, "LSG A=\"5\"", "C") == across * 1000);
    CHECK(attribute(xml, "PNT A=\"6\"", "C") == Approx(grid["anchor_lat"].get<double>()).margin(1e-9));
    CHECK(attribute(xml, "PNT A=\"6\"", "D") == Approx(grid["anchor_lon"].get<double>()).margin(1e-9));
    OGRPoint b_point(attribute(xml, "PNT A=\"7\"", "D"), attribute(xml, "PNT A=\"7\"", "C"));
    const OGRGeometryUniquePtr b_local = local(b_point);
    CHECK(bearing_deg(b_local->toPoint()->getX(), b_local->toPoint()->getY()) == Approx(heading).margin(0.01));
    for (const auto& zone : read_zones(out + "/" + id + "/zones.shp")) {
      const OGRGeometryUniquePtr polygon = local(*zone.geometry);
      for (const OGRLinearRing* ring : rings_of(*polygon)) {
        for (int i = 0; i + 1 < ring->getNumPoints(); ++i) {
          const double x0 = ring->getX(i), y0 = ring->getY(i), x1 = ring->getX(i + 1), y1 = ring->getY(i + 1);
          if (std::hypot(x1 - x0, y1 - y0) < 0.5) continue;
          OGRPoint middle((x0 + x1) / 2, (y0 + y1) / 2);
          if (boundary_line->Distance(&middle) < 0.05) continue;  // the clip along the field's edge
          const double relative = std::fmod(bearing_deg(x1 - x0, y1 - y0) - heading + 360.0, 180.0);
          const bool parallel = relative < 0.05 || relative > 179.95, perpendicular = std::abs(relative - 90) < 0.05;
          INFO(id << " zone " << zone.zone << " edge at bearing " << bearing_deg(x1 - x0, y1 - y0));
          REQUIRE((parallel || perpendicular));
          // Distance from A across the line (parallel edges) or along it (perpendicular ones).
          const double offset = parallel ? middle.getX() * across_e + middle.getY() * across_n
                                         : middle.getX() * back_e + middle.getY() * back_n;
          const double cell = parallel ? across : along;
          CHECK(std::abs(std::remainder(offset, cell)) < 0.1);
          ++inner_edges;
        }
      }
    }
  }
  CHECK(inner_edges > 50);

  // 'auto' takes each field's longest boundary edge.
  const std::string automatic = prescribe(farm, farm.out("ab-auto"), "--ab-line auto");
  for (const auto& [id, lonlat] : boundaries) {
    const auto summary = nlohmann::json::parse(read_text(automatic + "/" + id + "/summary.json"));
    const auto& grid = summary["zoning_grid"];
    const LocalMetres local(grid["anchor_lon"].get<double>(), grid["anchor_lat"].get<double>());
    const OGRGeometryUniquePtr boundary = local(*lonlat);
    double longest = 0, longest_bearing = 0;
    for (const OGRLinearRing* ring : rings_of(*boundary)) {
      for (int i = 0; i + 1 < ring->getNumPoints(); ++i) {
        const double dx = ring->getX(i + 1) - ring->getX(i), dy = ring->getY(i + 1) - ring->getY(i);
        if (std::hypot(dx, dy) > longest) longest = std::hypot(dx, dy), longest_bearing = bearing_deg(dx, dy);
      }
    }
    INFO(id);
    CHECK(grid["heading_deg"].get<double>() == Approx(longest_bearing).margin(0.01));
  }

  // Each field's own line from a boundary attribute; empty values fall back to --ab-line, a bad
  // one fails only its field.
  auto geojson = nlohmann::json::parse(read_text(farm.fields()));
  const std::map<std::string, std::string> own = {{"F001", "45"}, {"F002", ""}, {"F003", "auto"}, {"F004", "north-east"}};
  for (auto& feature : geojson["features"]) {
    const std::string id = feature["properties"]["field_id"];
    if (own.count(id)) feature["properties"]["ab"] = own.at(id);
  }
  const std::string with_attribute = farm.out("fields-ab.geojson");
  std::ofstream(with_attribute) << geojson.dump();
  const std::string per_field = farm.out("ab-attr");
  const auto run = test::run_fieldrx("prescribe --image " + farm.farm_tif() + " --fields " + with_attribute +
                                     " --field-id field_id --index ndvi --zones 3 --rates 12,15,18 --unit l/ha --cell-size 10"
                                     " --ab-line 30 --ab-line-attribute ab -q -o " + per_field);
  INFO(run.output);
  CHECK(run.exit_code == 5);  // some fields failed
  auto heading_of = [&](const std::string& dir, const std::string& id) {
    return nlohmann::json::parse(read_text(dir + "/" + id + "/summary.json"))["zoning_grid"]["heading_deg"].get<double>();
  };
  CHECK(heading_of(per_field, "F001") == Approx(45));
  CHECK(heading_of(per_field, "F002") == Approx(30));
  CHECK(heading_of(per_field, "F003") == Approx(heading_of(automatic, "F003")));
  CHECK(heading_of(per_field, "F005") == Approx(30));
  for (const auto& row : test::read_csv(per_field + "/summary.csv")) {
    INFO(row.at("field_id"));
    if (row.at("field_id") == "F004") {
      CHECK(row.at("status") == "error");
      CHECK_THAT(row.at("message"), Catch::Contains("A-B line attribute is 'north-east'"));
    } else {
      CHECK(row.at("status") != "error");
    }
  }
}

TEST_CASE("prescription outputs are identical at 1 and 2 threads", "[e2e][prescribe][tiling]") {
  // Guards determinism: every export byte-identical at 1 and 2 threads; the grids also at another tile size.
  SynthFarm farm;
  const std::string one = prescribe(farm, farm.out("t1"), "--threads 1 --tile 256 --no-report");
  const std::string two = prescribe(farm, farm.out("t2"), "--threads 2 --tile 256 --no-report");
  const std::string odd = prescribe(farm, farm.out("t3"), "--threads 2 --tile 97 --no-report");
  for (const char* id : {"F001", "F004"}) {
    for (const char* file : {"zones.geojson", "zones.shp", "zones.dbf", "zones.kml", "TASKDATA/GRD00001.bin",
                             "TASKDATA/TASKDATA.XML", "TASKDATA.zip", "rx_wgs84.tif"}) {
      INFO(id << "/" << file);
      CHECK(test::files_identical(one + "/" + id + "/" + file, two + "/" + id + "/" + file));
    }
    // Cell means are sums in tile order, so another tile size may move their last bits (and a
    // printed mean index), but not the zones and rates.
    for (const char* file : {"TASKDATA/GRD00001.bin", "TASKDATA/TASKDATA.XML", "rx_wgs84.tif", "zones.shp"}) {
      INFO(id << "/" << file << " at tile 97");
      CHECK(test::files_identical(one + "/" + id + "/" + file, odd + "/" + id + "/" + file));
    }
  }
}

TEST_CASE("a broken field gets its error in the summary and the others are done", "[e2e][prescribe]") {
  // Guards failure isolation: a field outside the image fails alone, exit code 5.
  SynthFarm farm;
  std::string geojson = read_text(farm.fields());
  // Append a field far away from the image.
  const auto end = geojson.rfind(']');
  geojson.insert(end, ",{\"type\":\"Feature\",\"properties\":{\"field_id\":\"AWAY\"},\"geometry\":{\"type\":\"Polygon\","
                      "\"coordinates\":[[[120.0,40.0],[120.01,40.0],[120.01,40.01],[120.0,40.01],[120.0,40.0]]]}}");
  const std::string fields = farm.out("fields_with_bad.geojson");
  std::ofstream(fields) << geojson;
  const auto r = test::run_fieldrx("prescribe --image " + farm.farm_tif() + " --fields " + fields +
                                   " --field-id field_id --rates 12,15,18 --no-report -q -o " + farm.out("bad"));
  CHECK(r.exit_code == 5);
  const auto rows = test::read_csv(farm.out("bad/summary.csv"));
  REQUIRE(rows.size() == 7);
  int errors = 0;
  for (const auto& row : rows) {
    if (row.at("field_id") == "AWAY") {
      CHECK(row.at("status") == "error");
      CHECK_THAT(row.at("message"), Catch::Contains("outside the image"));
      ++errors;
    } else {
      CHECK(row.at("status") != "error");
    }
  }
  CHECK(errors == 1);
}

TEST_CASE("the NDVI mean inside square_crop over 615.tif is the published one", "[e2e][prescribe]") {
  // Guards field masking (pixel centres inside) and statistics against GDAL's Python bindings: 0.384267.
  test::TempDir dir;
  const auto r = test::run_fieldrx("prescribe --image " + test::source_path("samples/plantcv-615/615.tif") +
                                   " --bands blue,green,red,red_edge,nir --nodata -10000 --fields " +
                                   test::shared_path("data/plantcv-geospatial/square_crop.geojson") +
                                   " --field-id FID --rates 12,15,18 --cell-size 1 --min-zone-area 0 -q -o " + dir.file("o"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rows = test::read_csv(dir.file("o/summary.csv"));
  REQUIRE(rows.size() == 1);
  CHECK(std::stod(rows[0].at("mean_index")) == Approx(0.384267).margin(1e-4));
}

TEST_CASE("plot indices of the AgPipeline clip match its published rgb_plot.csv", "[e2e][prescribe]") {
  // Guards the index of the mean reflectance: whole clip = one plot, alpha as mask; ExG 14, GLI 0.02, NGRDI -0.02.
  test::TempDir dir;
  const std::string tif = test::shared_path("data/agpipeline-maricopa-rgb/rgb_1_2_E.tif");
  // The plot is the whole clip: its extent as a boundary file, made with GDAL's own tools.
  REQUIRE(test::run_command("gdaltindex -f GeoJSON " + dir.file("plot.geojson") + " " + tif).exit_code == 0);
  const auto r = test::run_fieldrx("prescribe --image " + tif + " --fields " + dir.file("plot.geojson") +
                                   " --field-id FID --index exg --rates 12,15,18 --cell-size 1 --min-zone-area 0 -q -o " + dir.file("o"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto summary = nlohmann::json::parse(read_text(dir.file("o/0/summary.json")));
  INFO(summary.dump(1));
  const auto& plot = summary["index_of_mean_reflectance"];
  CHECK(plot["exg"].get<double>() == Approx(14.0).margin(0.05));
  CHECK(plot["gli"].get<double>() == Approx(0.02).margin(0.005));
  CHECK(plot["ngrdi"].get<double>() == Approx(-0.02).margin(0.005));
}
