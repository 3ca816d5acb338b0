// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/support/synthetic_raster.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {
double finite_mean(const std::vector<double>& values) {
  double sum = 0;
  long n = 0;
  for (double v : values) {
    if (std::isfinite(v)) sum += v, ++n;
  }
  return n ? sum / n : NAN;
}
const std::string k615 = "samples/plantcv-615/615.tif";
}  // namespace

TEST_CASE("fieldrx index on the real 615 clip reproduces the published means", "[e2e][cli]") {
  // Guards the acceptance numbers: NDVI/NDRE/GNDVI means over valid pixels from GDAL's Python bindings.
  test::TempDir dir;
  const auto result = test::run_fieldrx("index " + test::source_path(k615) + " --bands blue,green,red,red_edge,nir --nodata -10000 --index ndvi,ndre,gndvi -o " + dir.file("out") + " --quiet");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(finite_mean(test::read_band(dir.file("out/ndvi.tif"), 1)) == Approx(0.364155).margin(1e-5));
  CHECK(finite_mean(test::read_band(dir.file("out/ndre.tif"), 1)) == Approx(0.417015).margin(1e-5));
  CHECK(finite_mean(test::read_band(dir.file("out/gndvi.tif"), 1)) == Approx(0.187401).margin(1e-5));
  // gdalinfo, an independent reader, sees a COG with NaN nodata, the index as band description, overviews off
  // for this small raster, and the source CRS.
  const auto info = test::run_command("gdalinfo " + dir.file("out/ndvi.tif"));
  CHECK_THAT(info.output, Catch::Contains("LAYOUT=COG"));
  CHECK_THAT(info.output, Catch::Contains("Description = ndvi"));
  CHECK_THAT(info.output, Catch::Contains("NoData Value=nan"));
  CHECK_THAT(info.output, Catch::Contains("UTM zone 15N"));
  CHECK_THAT(info.output, Catch::Contains("Type=Float32"));
  CHECK(std::filesystem::exists(dir.file("out/ndvi.png")));
  // No temporary file is left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("out"))) {
    CHECK(entry.path().filename().string().rfind(".tmp-", 0) != 0);
  }
}

TEST_CASE("fieldrx index output bytes do not depend on tile size or threads", "[e2e][cli][tiling]") {
  // Guards the acceptance check: identical bytes at 1 and 2 threads and tiles 64, 256, 1024, 97.
  test::TempDir dir;
  test::SyntheticRaster spec;
  spec.width = 1100;
  spec.height = 700;
  spec.block = 256;
  spec.nodata = 0;
  spec.descriptions = {"Blue", "Green", "Red", "RedEdge", "NIR"};
  spec.value = [](int b, int x, int y) { return (x + y) % 97 == 0 ? 0.0 : 3000.0 + b * 2000 + (x * 13 + y * 7 * (b + 1)) % 5000; };
  test::write_synthetic_raster(spec, dir.file("in.tif"));
  auto run = [&](int threads, int tile) {
    const std::string out = dir.file("o" + std::to_string(threads) + "_" + std::to_string(tile));
    const auto r = test::run_fieldrx("index " + dir.file("in.tif") + " --index ndvi,ndre --scale 1/65535 --threads " + std::to_string(threads) +
                                     " --tile " + std::to_string(tile) + " --no-preview -q -o " + out);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return out;
  };
  const std::string reference = run(1, 1024);
  for (int threads : {1, 2}) {
    for (int tile : {64, 256, 1024, 97}) {
      const std::string out = run(threads, tile);
      INFO("threads " << threads << " tile " << tile);
      CHECK(test::files_identical(reference + "/ndvi.tif", out + "/ndvi.tif"));
      CHECK(test::files_identical(reference + "/ndre.tif", out + "/ndre.tif"));
    }
  }
}

TEST_CASE("fieldrx exit codes say what failed", "[e2e][cli]") {
  // Guards scripts that branch on the exit code: 2 usage/config, 3 unfit data, 4 I/O.
  test::TempDir dir;
  CHECK(test::run_fieldrx("index --index ndvi").exit_code == 2);  // missing -o and inputs
  const auto unknown = test::run_fieldrx("index " + test::source_path(k615) + " --bands blue,green,red,red_edge,nir --index ndvx -o " + dir.file("o"));
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("'ndvx' is not one of"));
  const auto missing_band = test::run_fieldrx("index " + test::source_path(k615) + " --bands blue,green,red,skip,nir --index ndre -o " + dir.file("o"));
  CHECK(missing_band.exit_code == 3);
  CHECK_THAT(missing_band.output, Catch::Contains("index 'ndre' needs band role 'red_edge'"));
  const auto missing_file = test::run_fieldrx("index " + dir.file("nope.tif") + " --bands ndvi --index ndvi -o " + dir.file("o"));
  CHECK(missing_file.exit_code == 4);
  CHECK_THAT(missing_file.output, Catch::Contains("nope.tif: cannot open as a raster"));
}

TEST_CASE("fieldrx run executes a shipped config with overrides", "[e2e][cli][config]") {
  // Guards configs/indices.yaml end to end and the --set override path.
  test::TempDir dir;
  const auto r = test::run_command("cd " + test::source_path("") + " && " + std::string(std::getenv("FIELDRX_BINARY") ? std::getenv("FIELDRX_BINARY") : FIELDRX_BINARY) +
                                   " run configs/indices.yaml --quiet --set writers.cog.directory=" + dir.file("c") +
                                   " --set writers.preview.directory=" + dir.file("c") + " --set filters.indices.indices=ndvi");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(finite_mean(test::read_band(dir.file("c/ndvi.tif"), 1)) == Approx(0.364155).margin(1e-5));
  CHECK(std::filesystem::exists(dir.file("c/wdrvi.tif")));
  CHECK(std::filesystem::exists(dir.file("c/wdrvi.png")));
  CHECK_FALSE(std::filesystem::exists(dir.file("c/ndre.tif")));
}
