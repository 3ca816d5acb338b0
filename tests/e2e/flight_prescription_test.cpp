// SPDX-License-Identifier: Apache-2.0
// configs/flight_to_prescription.yaml (and the same job as `fieldrx prescribe --flight`) end to end
// on the real MicaSense RedEdge sample flight: raw band files -> calibrated, aligned quick mosaic
// (built once) -> NDVI -> zones -> prescription -> ISOXML / zones / drone raster / report.
#include <gdal_priv.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/io/gdal_io.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
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

// A field's TASKDATA.XML is valid against the ISO 11783-10 v4.3 XSD (xmllint).
void check_taskdata_xsd(const std::string& field_folder) {
  REQUIRE(fs::exists(field_folder + "/TASKDATA/TASKDATA.XML"));
  const auto xsd = test::run_command(
      "xmllint --noout --schema " +
      test::shared_path("data/prescriptions/xsd_ISO11783-10/ISO11783_TaskFile_V4-3.xsd") + " " +
      field_folder + "/TASKDATA/TASKDATA.XML");
  INFO(xsd.output);
  CHECK(xsd.exit_code == 0);
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
    check_taskdata_xsd(field);
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

TEST_CASE("fieldrx prescribe --flight prescribes the real RedEdge flight with the calibrate flags",
          "[e2e][captures][flight]") {
  // Guards `prescribe --flight`: the same readers.captures + calibration workflow as
  // configs/flight_to_prescription.yaml (same inputs hash for the same settings, mosaic built once
  // and then up to date), valid ISOXML per field, and --image/--flight given exactly once.
  test::TempDir dir;
  const std::string out = dir.file("rx");
  const std::string command =
      "cd " + test::source_path("") + " && " + fieldrx_binary() +
      " prescribe --flight ../shared/data/micasense/data/0000SET"
      " --panel-albedo 0.67,0.69,0.68,0.61,0.67 --fields samples/micasense-0000SET/fields.geojson"
      " --field-id field_id --crop-attribute crop --index ndvi --zones 3 --method quantile"
      " --cell-size 2 --smoothing 3 --min-zone-area 20 --rates 12,15,18 --machine dji-agras-t50"
      " --threads 2 -o " +
      out;
  const auto first = test::run_command(command);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.output, Catch::Contains("calibrating ../shared/data/micasense/data/0000SET"));
  CHECK(fs::exists(out + "/mosaic.tif"));
  CHECK(fs::exists(out + "/flight/g2R43Qr5m7EeTFGbkh1W_reflectance.tif"));
  // The flags fill the same flight settings a config's readers.captures options do.
  FlightSettings settings;
  settings.flight_dir = test::source_path("../shared/data/micasense/data/0000SET");
  settings.panel_albedo = {0.67, 0.69, 0.68, 0.61, 0.67};
  CHECK(read_json(out + "/mosaic.json")["inputs_hash"].get<std::string>() ==
        flight_inputs_hash(settings));

  const auto rows = test::read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == 2);
  for (const auto& row : rows) {
    INFO("field " << row.at("field_id") << ": " << row.at("message"));
    CHECK(row.at("status") == "ok");
    CHECK(row.at("zones") == "3");
    check_taskdata_xsd(out + "/" + row.at("field_id"));
    const double ndvi = std::stod(row.at("mean_index"));
    CHECK(ndvi > 0.2);
    CHECK(ndvi < 0.95);
  }

  // Again: the mosaic is up to date, the flight is not calibrated a second time.
  const auto mtime = fs::last_write_time(out + "/mosaic.tif");
  const auto second = test::run_command(command);
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.output, Catch::Contains("is up to date"));
  CHECK(fs::last_write_time(out + "/mosaic.tif") == mtime);

  // Imagery exactly once, and the flight flags only with --flight.
  const std::string fields = " --fields " +
                             test::source_path("samples/micasense-0000SET/fields.geojson") +
                             " --field-id field_id --rates 12,15,18 -o " + dir.file("bad");
  const auto neither = test::run_fieldrx("prescribe" + fields);
  CHECK(neither.exit_code == 2);
  CHECK_THAT(neither.output, Catch::Contains("--image") && Catch::Contains("--flight"));
  const auto both = test::run_fieldrx("prescribe --image " + out + "/mosaic.tif --flight " +
                                      dir.file("x") + fields);
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.output, Catch::Contains("both --image and --flight"));
  const auto stray =
      test::run_fieldrx("prescribe --image " + out + "/mosaic.tif --sun-sensor" + fields);
  CHECK(stray.exit_code == 2);
  CHECK_THAT(stray.output, Catch::Contains("--sun-sensor applies to --flight"));
}
