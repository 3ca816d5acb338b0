// SPDX-License-Identifier: Apache-2.0
// configs/prescription.yaml run end to end (configs/indices.yaml: index_cli_test.cpp;
// configs/flight_to_prescription.yaml: flight_prescription_test.cpp).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "tests/support/test_support.hpp"

using namespace fieldrx;

TEST_CASE("configs/prescription.yaml runs on a synthetic farm", "[e2e][config]") {
  // Guards the shipped main job: it runs as shipped, with only its input and output paths moved.
  test::TempDir dir;
  const auto synth =
      test::run_fieldrx("synth -o " + dir.file("farm") + " --size 1200 --fields 4 --seed 3 -q");
  INFO(synth.output);
  REQUIRE(synth.exit_code == 0);
  const char* binary = std::getenv("FIELDRX_BINARY");
  const auto run = test::run_command(
      "cd " + test::source_path("") + " && " + (binary ? binary : FIELDRX_BINARY) +
      " run configs/prescription.yaml -q --threads 2 --set readers.orthomosaic.files=" +
      dir.file("farm/farm.tif") + " --set readers.fields.file=" + dir.file("farm/fields.geojson") +
      " -o " + dir.file("rx"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto rows = test::read_csv(dir.file("rx/summary.csv"));
  REQUIRE(rows.size() == 4);
  for (const auto& row : rows) {
    INFO(row.at("field_id") << ": " << row.at("message"));
    CHECK(row.at("status") != "error");
    CHECK(std::filesystem::exists(dir.file("rx/" + row.at("field_id") + "/TASKDATA/TASKDATA.XML")));
    CHECK(std::filesystem::exists(dir.file("rx/" + row.at("field_id") + "/report.html")));
  }
}
