// SPDX-License-Identifier: Apache-2.0
// configs/flight_to_prescription.yaml end to end on the real MicaSense RedEdge sample flight:
// raw band files -> calibrated, aligned quick mosaic (built once) -> NDVI -> zones ->
// prescription -> ISOXML / zones / drone raster / report.
#include <gdal_priv.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/io/gdal_io.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;

namespace {

std::string fieldrx_binary() {
  const char* binary = std::getenv("FIELDRX_BINARY");
  return binary ? binary : FIELDRX_BINARY;
}

// `fieldrx run configs/flight_to_prescription.yaml` from the repository root (the config's
// paths, ../shared/data/... and samples/..., are relative to it).
test::CommandResult run_flight_config(const std::string& out, const std::string& extra = "") {
  return test::run_command("cd " + test::source_path("") + " && " + fieldrx_binary() +
                           " run configs/flight_to_prescription.yaml --threads 2 -o " + out + " " +
                           extra);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE(
    "configs/flight_to_prescription.yaml prescribes the real RedEdge flight and calibrates it once",
    "[e2e][captures][flight]") {
  // Guards the raw-flight prescription job: readers.captures mosaic, ISOXML valid against the XSD,
  // zone areas that add up to the field, and a rerun that does not calibrate again.
  test::TempDir dir;
  const std::string out = dir.file("rx");
  const auto first = run_flight_config(out);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.output, Catch::Contains("calibrating ../shared/data/micasense/data/0000SET"));

  // The mosaic: reflectance bands named as the camera names them, in the flight's UTM zone.
  configure_gdal(64 << 20);
  {
    DatasetPtr mosaic = open_raster(out + "/mosaic.tif");
    REQUIRE(mosaic->GetRasterCount() == 5);
    const char* names[] = {"Blue", "Green", "Red", "NIR", "RedEdge"};
    for (int b = 1; b <= 5; ++b)
      CHECK(std::string(mosaic->GetRasterBand(b)->GetDescription()) == names[b - 1]);
    REQUIRE(mosaic->GetSpatialRef() != nullptr);
    CHECK(std::string(mosaic->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32611");
  }
  CHECK(fs::exists(out + "/flight/g2R43Qr5m7EeTFGbkh1W_reflectance.tif"));
  CHECK(fs::exists(out + "/flight/captures.csv"));
  const auto record = read_json(out + "/mosaic.json");
  CHECK(record["captures"].get<int>() == 1);  // the panel capture calibrates, it is not mosaicked

  const auto rows = test::read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == 2);
  const char* node_modules = std::getenv("FIELDRX_NODE_MODULES");
  const std::string modules = node_modules ? node_modules : FIELDRX_NODE_MODULES;
  for (const auto& row : rows) {
    INFO("field " << row.at("field_id") << ": " << row.at("message"));
    CHECK(row.at("status") == "ok");
    const std::string field = out + "/" + row.at("field_id");
    // ISO 11783-10: the XSD, and the isoxml npm parser.
    REQUIRE(fs::exists(field + "/TASKDATA/TASKDATA.XML"));
    const auto xsd = test::run_command(
        "xmllint --noout --schema " +
        test::shared_path("data/prescriptions/xsd_ISO11783-10/ISO11783_TaskFile_V4-3.xsd") + " " +
        field + "/TASKDATA/TASKDATA.XML");
    INFO(xsd.output);
    CHECK(xsd.exit_code == 0);
    const auto parsed =
        test::run_command("NODE_PATH=" + modules + " node " +
                          test::shared_path("data/prescriptions/tools/isoxml_js_validate_dir.js") +
                          " " + field + "/TASKDATA");
    INFO(parsed.output);
    CHECK_THAT(parsed.output, Catch::Contains("\"problems\":[]"));
    for (const char* file :
         {"zones.shp", "zones.geojson", "rx_wgs84.tif", "report.html", "TASKDATA.zip"}) {
      CHECK(fs::exists(field + "/" + file));
    }
    // summary.json: the zones cover the field (no buffer, no exclusions), the product is rate x
    // area.
    const auto summary = read_json(field + "/summary.json");
    const double area_ha = summary["area_ha"].get<double>();
    CHECK(area_ha > 0.05);
    CHECK(area_ha == Approx(std::stod(row.at("area_ha"))).margin(5e-5));
    double zones_ha = 0, product = 0;
    for (const auto& zone : summary["zones"]) {
      zones_ha += zone["area_ha"].get<double>();
      product += zone["rate"].get<double>() * zone["area_ha"].get<double>();
    }
    CHECK(summary["zones"].size() == 3);
    CHECK(zones_ha == Approx(area_ha).epsilon(0.005));
    CHECK(summary["treated_area_ha"].get<double>() == Approx(zones_ha).epsilon(1e-6));
    CHECK(summary["total_product"].get<double>() == Approx(product).epsilon(1e-6));
    // NDVI from calibrated reflectance: vegetation, not digital numbers.
    const double ndvi = summary["statistics"]["indices"]["ndvi"]["mean"].get<double>();
    CHECK(ndvi > 0.2);
    CHECK(ndvi < 0.95);
  }

  // A second run finds the mosaic up to date: no calibration, the same mosaic file.
  const auto mtime = fs::last_write_time(out + "/mosaic.tif");
  const auto second = run_flight_config(out);
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.output, Catch::Contains("is up to date"));
  CHECK_THAT(second.output, !Catch::Contains("calibrating"));
  CHECK(fs::last_write_time(out + "/mosaic.tif") == mtime);

  // Another calibration setting is another mosaic.
  const auto third = run_flight_config(out, "-q --set readers.captures.align=false");
  INFO(third.output);
  REQUIRE(third.exit_code == 0);
  CHECK(fs::last_write_time(out + "/mosaic.tif") != mtime);
  CHECK(read_json(out + "/mosaic.json")["inputs_hash"] != record["inputs_hash"]);
}
