// SPDX-License-Identifier: Apache-2.0
// `fieldrx batch` jobs whose imagery is a raw flight folder (flight_dir:), on the real MicaSense
// RedEdge sample flight.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using namespace fieldrx;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A copy of the flight's band files (so the test may touch them) and a manifest with one good
// flight job and one whose folder holds no capture.
class FlightBatch {
 public:
  FlightBatch() {
    fs::create_directories(dir_.path() / "flight" / "000");
    for (const char* capture : {"IMG_0000", "IMG_0001"}) {
      for (int b = 1; b <= 5; ++b) {
        const std::string name = std::string(capture) + "_" + std::to_string(b) + ".tif";
        fs::copy_file(test::shared_path("data/micasense/data/0000SET/000/" + name),
                      dir_.path() / "flight" / "000" / name);
      }
    }
    fs::create_directories(dir_.path() / "empty-flight");
    write_text(dir_.file("empty-flight/IMG_0001_1.tif"), "not a TIFF");
    write_text(manifest(),
               "defaults: {index: ndvi, zones: 3, method: quantile, rates: [12, 15, 18], unit: "
               "L/ha, cell_size_m: 2,\n"
               "           min_zone_area_m2: 20, machine: dji-agras-t50, report: false,\n"
               "           fields: '" +
                   test::source_path("samples/micasense-0000SET/fields.geojson") +
                   "', field_id: field_id}\n"
                   "jobs:\n"
                   "  - name: rededge\n"
                   "    flight_dir: flight\n"
                   "    panel_albedo: [0.67, 0.69, 0.68, 0.61, 0.67]\n"
                   "  - name: broken\n"
                   "    flight_dir: empty-flight\n"
                   "    sun_sensor: true\n");
  }
  std::string manifest() const { return dir_.file("flights.yaml"); }
  std::string file(const std::string& name) const { return dir_.file(name); }

 private:
  test::TempDir dir_;
};

std::map<std::string, std::map<std::string, std::string>> rows_by_key(const std::string& csv) {
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (const auto& row : test::read_csv(csv)) rows[row.at("job") + "/" + row.at("field")] = row;
  return rows;
}

}  // namespace

TEST_CASE("a batch job with flight_dir mosaics its flight once and a bad flight fails alone",
          "[batch][e2e][captures]") {
  // Guards issue 5's raw-flight imagery: OUTDIR/<job>/mosaic.tif built once and shared by the
  // job's fields, a broken flight folder as one job error, resume hashes that include the flight's
  // band files, and a dry run that builds nothing.
  FlightBatch farm;
  const std::string out = farm.file("out");

  const auto plan = test::run_fieldrx("batch " + farm.manifest() + " -o " + out + " --dry-run");
  INFO(plan.output);
  CHECK(plan.exit_code == 0);
  CHECK_THAT(plan.output, Catch::Contains("calibrate rededge: " + farm.file("flight") + " -> " +
                                          out + "/rededge/mosaic.tif"));
  CHECK_FALSE(fs::exists(out + "/rededge/mosaic.tif"));

  const auto first =
      test::run_fieldrx("batch " + farm.manifest() + " -o " + out + " -q --threads 2");
  INFO(first.output);
  CHECK(first.exit_code == 5);  // some job failed
  auto rows = rows_by_key(out + "/summary.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows["rededge/rows"]["status"] == "ok");
  CHECK(rows["rededge/orchard"]["status"] == "ok");
  CHECK(rows["rededge/rows"]["zones"] == "3");
  CHECK(std::stod(rows["rededge/rows"]["mean_index"]) > 0.2);
  CHECK(rows["broken/"]["status"] == "error");
  CHECK_THAT(rows["broken/"]["error"], Catch::Contains("empty-flight: no complete capture found"));
  CHECK(fs::exists(out + "/rededge/mosaic.tif"));
  CHECK(fs::exists(out + "/rededge/mosaic.json"));
  CHECK(fs::exists(out + "/rededge/rows/TASKDATA/TASKDATA.XML"));
  CHECK(fs::exists(out + "/rededge/orchard/rx_wgs84.tif"));
  const auto mosaic_time = fs::last_write_time(out + "/rededge/mosaic.tif");

  // Rerun: the fields are up to date and the flight is not calibrated again.
  const auto second = test::run_fieldrx("batch " + farm.manifest() + " -o " + out + " --threads 2");
  INFO(second.output);
  CHECK(second.exit_code == 5);
  CHECK_THAT(second.output, Catch::Contains("2 up to date"));
  CHECK_THAT(second.output, Catch::Contains("is up to date"));
  CHECK(fs::last_write_time(out + "/rededge/mosaic.tif") == mosaic_time);

  // A band file of the flight changes: its mosaic and every field of its job are redone.
  const std::string band = farm.file("flight/000/IMG_0001_3.tif");
  fs::last_write_time(band, fs::last_write_time(band) + std::chrono::seconds(10));
  const auto third =
      test::run_fieldrx("batch " + farm.manifest() + " -o " + out + " -q --threads 2");
  INFO(third.output);
  CHECK(third.exit_code == 5);
  CHECK_THAT(third.output, Catch::Contains("2 run, 0 up to date, 1 failed"));
  CHECK(fs::last_write_time(out + "/rededge/mosaic.tif") != mosaic_time);

  // image and flight_dir together, or a flight option on an image job, are manifest errors.
  write_text(
      farm.file("both.yaml"),
      "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: a.tif, flight_dir: flight}\n");
  const auto both = test::run_fieldrx("batch " + farm.file("both.yaml") + " -o " + out + "/x");
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.output, Catch::Contains("both 'image' and 'flight_dir'; give one"));
  write_text(
      farm.file("albedo.yaml"),
      "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: a.tif, panel_albedo: 0.5}\n");
  const auto albedo = test::run_fieldrx("batch " + farm.file("albedo.yaml") + " -o " + out + "/x");
  CHECK(albedo.exit_code == 2);
  CHECK_THAT(albedo.output, Catch::Contains("'panel_albedo' applies to 'flight_dir'"));
  write_text(farm.file("corners.yaml"),
             "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: a.tif, "
             "panel_corners_px: [1, 1, 9, 1, 9, 9, 1, 9]}\n");
  const auto corners =
      test::run_fieldrx("batch " + farm.file("corners.yaml") + " -o " + out + "/x");
  CHECK(corners.exit_code == 2);
  CHECK_THAT(corners.output, Catch::Contains("'panel_corners_px' applies to 'flight_dir'"));
}
