// SPDX-License-Identifier: Apache-2.0
// readers.captures: options, errors, and the flight inputs hash behind "built once".
#include "stages/readers/captures_reader.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "pipeline/config.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/registry.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<CapturesReader> captures_reader(const std::string& yaml_options) {
  auto reader = create_stage<CapturesReader>(stage_registry(), "readers.captures");
  const YAML::Node options = YAML::Load(yaml_options);
  for (const auto& entry : options)
    reader->options().set(entry.first.as<std::string>(), entry.second);
  reader->options().check_required();
  return reader;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("readers.captures mirrors the calibrate flags with typed, ranged options",
          "[stage][captures]") {
  // Guards the defaults (= fieldrx calibrate's), the ranges and the required flight folder.
  const auto reader = captures_reader("{flight_dir: flight}");
  const FlightSettings& s = reader->flight();
  CHECK(s.flight_dir == "flight");
  CHECK(s.panel_dir.empty());
  CHECK(s.panel_albedo.empty());
  CHECK_FALSE(s.sun_sensor);
  CHECK(s.align);
  CHECK_FALSE(s.align_full_res);
  CHECK(s.max_residual_px == 1.0);
  CHECK(s.mosaic_gsd_m == 0.0);
  CHECK(std::isnan(s.ground_elevation_m));
  CHECK(reader->workspace().empty());

  const auto given = captures_reader(
      "{flight_dir: f, panel_dir: p, panel_albedo: '0.67,0.69', sun_sensor: true, align: false, "
      "mosaic_gsd_m: 0.1, ground_elevation_m: 120, workspace: w}");
  CHECK(given->flight().panel_albedo == std::vector<double>{0.67, 0.69});
  CHECK(given->flight().sun_sensor);
  CHECK_FALSE(given->flight().align);
  CHECK(given->flight().ground_elevation_m == 120);
  CHECK(given->workspace() == "w");

  CHECK_THAT(error_of([] { captures_reader("{panel_dir: p}"); }), Catch::Contains("flight_dir"));
  CHECK_THAT(error_of([] { captures_reader("{flight_dir: f, panel_albedo: [0.6, 1.5]}"); }),
             Catch::Contains("option 'panel_albedo' is 1.5, outside its range"));
  CHECK_THAT(error_of([] { captures_reader("{flight_dir: f, max_residual_px: 0}"); }),
             Catch::Contains("option 'max_residual_px' is 0, outside its range"));
  CHECK_THAT(error_of([] { captures_reader("{flight_dir: f, files: [a.tif]}"); }),
             Catch::Contains("files"));
}

TEST_CASE("readers.captures says what is missing before it reads a pixel", "[stage][captures]") {
  // Guards the errors: no mosaic handed over, a flight folder that is not a folder, no output
  // folder.
  test::TempDir dir;
  auto reader = captures_reader("{flight_dir: '" + dir.file("nowhere") + "'}");
  CHECK_THAT(error_of([&] { reader->open(); }),
             Catch::Contains("has not been calibrated into a mosaic"));
  CHECK_THAT(error_of([&] { prepare_image_reader(*reader, dir.file("out"), {}); }),
             Catch::Contains("nowhere: not a folder"));
  CHECK_THAT(error_of([&] { prepare_image_reader(*reader, "", {}); }),
             Catch::Contains("no folder for the flight's mosaic"));
  // An empty folder is a flight without captures.
  fs::create_directories(dir.file("empty"));
  auto empty = captures_reader("{flight_dir: '" + dir.file("empty") + "', sun_sensor: true}");
  CHECK_THAT(error_of([&] { prepare_image_reader(*empty, dir.file("out"), {}); }),
             Catch::Contains("no complete capture found"));
  CHECK_FALSE(fs::exists(dir.file("out/mosaic.tif")));
}

TEST_CASE("the flight inputs hash follows the band files and the settings, not the folder's name",
          "[stage][captures]") {
  // Guards "built once": what makes a mosaic stale (a band file, a setting) and what does not.
  test::TempDir a, b;
  for (const auto* dir : {&a, &b}) {
    for (int band = 1; band <= 2; ++band) {
      std::ofstream(dir->file("IMG_0001_" + std::to_string(band) + ".tif")) << "band " << band;
    }
    std::ofstream(dir->file("notes.txt")) << "not a band file";
  }
  const auto time = fs::last_write_time(a.file("IMG_0001_1.tif"));
  for (const auto* dir : {&a, &b}) {
    for (int band = 1; band <= 2; ++band)
      fs::last_write_time(dir->file("IMG_0001_" + std::to_string(band) + ".tif"), time);
  }
  FlightSettings s;
  s.flight_dir = a.path().string();
  const std::string base = flight_inputs_hash(s);
  CHECK(flight_inputs_hash(s) == base);
  FlightSettings moved = s;
  moved.flight_dir = b.path().string();
  CHECK(flight_inputs_hash(moved) == base);  // the same files in another folder
  std::ofstream(a.file("notes.txt")) << "edited";
  CHECK(flight_inputs_hash(s) == base);  // not a band file
  FlightSettings other = s;
  other.sun_sensor = true;
  CHECK(flight_inputs_hash(other) != base);
  other = s;
  other.panel_albedo = {0.5};
  CHECK(flight_inputs_hash(other) != base);
  other = s;
  other.mosaic_gsd_m = 0.2;
  CHECK(flight_inputs_hash(other) != base);
  fs::last_write_time(a.file("IMG_0001_2.tif"), time + std::chrono::seconds(5));
  CHECK(flight_inputs_hash(s) != base);
  // Up to date needs mosaic.tif and a mosaic.json recording this hash.
  CHECK_FALSE(flight_mosaic_up_to_date(s, b.path().string()));
}
