// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>

#include "pipeline/config.hpp"
#include "pipeline/runner.hpp"
#include "tests/support/synthetic_raster.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

void run_indices(const std::string& input, const std::string& out_dir, int tile_px, int threads,
                 const std::string& extra_reader = "") {
  const std::string yaml = "pipeline:\n"
                           "  - {type: readers.orthomosaic, files: ['" + input + "'], bands: [blue, green, red, red_edge, nir]" + extra_reader + "}\n"
                           "  - {type: filters.indices, indices: [ndvi, ndre, evi], expressions: {wdrvi: '(0.1*nir - red)/(0.1*nir + red)'}}\n"
                           "  - {type: writers.cog, directory: '" + out_dir + "'}\n"
                           "execution: {tile_px: " + std::to_string(tile_px) + ", threads: " + std::to_string(threads) + "}\n";
  Pipeline pipeline = build_pipeline(parse_config(YAML::Load(yaml), "tiling"), stage_registry());
  pipeline.execution.quiet = true;
  run_pipeline(pipeline);
}

}  // namespace

TEST_CASE("tile windows cover the raster once, partial tiles at the edges", "[pipeline][tiling]") {
  // Guards the window arithmetic every pass relies on.
  const auto windows = tile_windows(10, 7, 4);
  REQUIRE(windows.size() == 6);
  long long covered = 0;
  for (const auto& w : windows) covered += w.pixel_count();
  CHECK(covered == 70);
  CHECK(windows.back().col == 8);
  CHECK(windows.back().width == 2);
  CHECK(windows.back().height == 3);
}

TEST_CASE("tokens follow the memory budget", "[pipeline][tiling]") {
  // Guards the memory bound: tiles in flight = budget / tile bytes, within [1, 4 x threads].
  CHECK(tokens_for_budget(100, 10, 2) == 8);
  CHECK(tokens_for_budget(100, 30, 8) == 3);
  CHECK(tokens_for_budget(10, 30, 2) == 1);
}

TEST_CASE("index COGs are byte-identical for any tile size and thread count", "[pipeline][tiling][e2e]") {
  // Guards tiling and thread invariance of the whole read -> indices -> COG path.
  test::TempDir dir;
  test::SyntheticRaster spec;
  spec.width = 613;
  spec.height = 389;
  spec.block = 128;
  spec.nodata = 0;
  spec.value = [](int b, int x, int y) {
    if ((x - 300) * (x - 300) + (y - 200) * (y - 200) < 400) return 0.0;  // a nodata hole
    return 2000.0 + b * 3000 + std::fmod(x * 31.0 + y * 17.0 * (b + 1), 4000.0);
  };
  const std::string input = dir.file("in.tif");
  test::write_synthetic_raster(spec, input);
  const std::string scale = ", scale: 1/65535";
  run_indices(input, dir.file("ref"), 1024, 1, scale);
  for (int tile : {64, 97, 256}) {
    for (int threads : {1, 2}) {
      const std::string out = dir.file("t" + std::to_string(tile) + "_" + std::to_string(threads));
      run_indices(input, out, tile, threads, scale);
      for (const char* name : {"ndvi", "ndre", "evi", "wdrvi"}) {
        INFO("tile " << tile << " threads " << threads << " " << name);
        CHECK(test::files_identical(dir.file("ref") + "/" + name + ".tif", out + "/" + name + ".tif"));
      }
    }
  }
  // And the values are right where checked by hand: pixel (10, 20), the hole at (300, 200).
  int w = 0;
  const auto ndvi = test::read_band(dir.file("ref/ndvi.tif"), 1, &w);
  const double red = 2000 + 6000 + std::fmod(310.0 + 20 * 17.0 * 3, 4000.0);
  const double nir = 2000 + 12000 + std::fmod(310.0 + 20 * 17.0 * 5, 4000.0);
  CHECK(ndvi[20 * w + 10] == Approx((nir - red) / (nir + red)).epsilon(1e-6));
  CHECK(std::isnan(ndvi[200 * w + 300]));
}
