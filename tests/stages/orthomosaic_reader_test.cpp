// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "pipeline/config.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/registry.hpp"
#include "pipeline/runner.hpp"
#include "stages/readers/orthomosaic_reader.hpp"
#include "tests/support/synthetic_raster.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

// Runs reader -> NDVI -> COG and returns the NDVI values.
std::vector<double> ndvi_of(const std::string& reader_yaml, const std::string& out_dir, int* width = nullptr) {
  const std::string yaml = "pipeline:\n  - {type: readers.orthomosaic, " + reader_yaml + "}\n"
                           "  - {type: filters.indices, indices: [ndvi]}\n"
                           "  - {type: writers.cog, directory: '" + out_dir + "', overviews: false}\n"
                           "execution: {tile_px: 64}\n";
  Pipeline pipeline = build_pipeline(parse_config(YAML::Load(yaml), "reader-test"), stage_registry());
  pipeline.execution.quiet = true;
  run_pipeline(pipeline);
  return test::read_band(out_dir + "/ndvi.tif", 1, width);
}

std::string error_of(const std::string& reader_yaml, const std::string& out_dir) {
  try {
    ndvi_of(reader_yaml, out_dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("band roles come from band descriptions in many spellings", "[stage][reader]") {
  // Guards role detection for DJI Terra / Pix4D / ODM band names.
  CHECK(OrthomosaicReader::role_from_description("NIR") == "nir");
  CHECK(OrthomosaicReader::role_from_description("Red edge") == "red_edge");
  CHECK(OrthomosaicReader::role_from_description("RedEdge") == "red_edge");
  CHECK(OrthomosaicReader::role_from_description("red_edge") == "red_edge");
  CHECK(OrthomosaicReader::role_from_description("Blue-450nm") == "blue");
  CHECK(OrthomosaicReader::role_from_description("nir_842nm") == "nir");
  CHECK(OrthomosaicReader::role_from_description("NDVI") == "ndvi");
  CHECK(OrthomosaicReader::role_from_description("Band 1").empty());
}

TEST_CASE("UInt16 with nodata, scale and alpha reads as NaN-masked reflectance", "[stage][reader]") {
  // Guards nodata values and alpha masks becoming NaN, and the reflectance scale.
  test::TempDir dir;
  test::SyntheticRaster spec;
  spec.width = 100;
  spec.height = 70;
  spec.bands = 5;
  spec.nodata = 65535;
  spec.alpha = true;
  spec.descriptions = {"Blue", "Green", "Red", "RedEdge", "NIR"};
  spec.value = [](int b, int x, int y) { return x == 5 && y == 5 ? 65535.0 : (b == 2 ? 6554.0 : b == 4 ? 32768.0 : 1000.0); };
  spec.opacity = [](int x, int y) { return x < 10 && y > 60 ? 0 : 255; };
  test::write_synthetic_raster(spec, dir.file("a.tif"));
  int w = 0;
  const auto ndvi = ndvi_of("files: ['" + dir.file("a.tif") + "'], scale: 1/65535", dir.file("out"), &w);
  CHECK(ndvi[0] == Approx((32768.0 - 6554.0) / (32768.0 + 6554.0)).epsilon(1e-6));
  CHECK(std::isnan(ndvi[5 * w + 5]));    // nodata value
  CHECK(std::isnan(ndvi[65 * w + 3]));   // alpha = 0
  CHECK_FALSE(std::isnan(ndvi[65 * w + 30]));
}

TEST_CASE("one single-band file per band equals the multi-band file", "[stage][reader]") {
  // Guards the DJI Terra / Pix4D per-band export layout, including a band on another grid.
  test::TempDir dir;
  const std::string mosaic = test::source_path("samples/plantcv-615/615.tif");
  std::string files;
  const char* names[] = {"b", "g", "r", "re", "n"};
  for (int b = 1; b <= 5; ++b) {
    const std::string path = dir.file(std::string(names[b - 1]) + ".tif");
    REQUIRE(test::run_command("gdal_translate -q -b " + std::to_string(b) + " '" + mosaic + "' '" + path + "'").exit_code == 0);
    files += (b > 1 ? ", '" : "'") + path + "'";
  }
  const auto whole = ndvi_of("files: ['" + mosaic + "'], bands: [blue, green, red, red_edge, nir], nodata: -10000", dir.file("whole"));
  const auto split = ndvi_of("files: [" + files + "], bands: [blue, green, red, red_edge, nir], nodata: -10000", dir.file("split"));
  REQUIRE(whole.size() == split.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (std::isnan(whole[i])) {
      CHECK(std::isnan(split[i]));
    } else {
      CHECK(split[i] == whole[i]);
    }
  }
  // The NIR band at half resolution is resampled onto the first file's grid, not rejected.
  REQUIRE(test::run_command("gdalwarp -q -tr 0.0712 0.0709 -r average '" + dir.file("n.tif") + "' '" + dir.file("n_coarse.tif") + "'").exit_code == 0);
  const std::string coarse_files = "'" + dir.file("b.tif") + "', '" + dir.file("g.tif") + "', '" + dir.file("r.tif") + "', '" + dir.file("re.tif") + "', '" + dir.file("n_coarse.tif") + "'";
  int w = 0;
  const auto resampled = ndvi_of("files: [" + coarse_files + "], bands: [blue, green, red, red_edge, nir], nodata: -10000", dir.file("coarse"), &w);
  REQUIRE(resampled.size() == whole.size());
  double sum_whole = 0, sum_resampled = 0;
  int n = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (std::isfinite(whole[i]) && std::isfinite(resampled[i])) {
      sum_whole += whole[i];
      sum_resampled += resampled[i];
      ++n;
    }
  }
  REQUIRE(n > 10000);
  CHECK(sum_resampled / n == Approx(sum_whole / n).margin(0.01));
}

TEST_CASE("reader errors say which file and band and what to give", "[stage][reader]") {
  // Guards the messages for the commonest mistakes: wrong role count, unknown roles, missing file.
  test::TempDir dir;
  const std::string mosaic = test::source_path("samples/plantcv-615/615.tif");
  CHECK_THAT(error_of("files: ['" + mosaic + "'], bands: [red, nir]", dir.file("o")),
             Catch::Contains("option 'bands' names 2 roles, but the 1 file(s) have 5 bands"));
  CHECK_THAT(error_of("files: ['" + mosaic + "']", dir.file("o")),
             Catch::Contains("band 1 (description '') has no recognisable role; name every band with --bands"));
  CHECK_THAT(error_of("files: ['" + dir.file("missing.tif") + "']", dir.file("o")),
             Catch::Contains("missing.tif: cannot open as a raster"));
  CHECK_THAT(error_of("files: ['" + mosaic + "'], bands: [blue, green, red, red, nir]", dir.file("o")),
             Catch::Contains("layer 'red' is produced twice"));
  CHECK_THAT(error_of("files: ['" + mosaic + "'], bands: [blue, green, skip, red_edge, nir]", dir.file("o")),
             Catch::Contains("index 'ndvi' needs band role 'red', but the image provides [blue, green, red_edge, nir]"));
}

TEST_CASE("RedEdge-MX Dual band descriptions map to roles deterministically", "[stage][reader][captures]") {
  // Guards duplicate colours: the reference-wavelength band keeps the plain role, the others get
  // <role>_<nm>, in any band order; lwir_celsius is skipped; true ties are errors.
  const StringList dual = {"Blue", "Green", "Red", "NIR", "RedEdge", "Blue-444", "Green-531", "Red-650",
                           "RedEdge-705", "RedEdge-740"};
  const StringList roles = {"blue", "green", "red", "nir", "red_edge", "blue_444", "green_531", "red_650",
                            "red_edge_705", "red_edge_740"};
  CHECK(OrthomosaicReader::roles_from_descriptions(dual) == roles);
  StringList reversed(dual.rbegin(), dual.rend()), expected(roles.rbegin(), roles.rend());
  CHECK(OrthomosaicReader::roles_from_descriptions(reversed) == expected);
  // Wavelengths in every name: the one nearest 475/560/668/717/842 nm is the plain role.
  CHECK(OrthomosaicReader::roles_from_descriptions({"Blue 444nm", "Blue 475nm", "Red 650", "Red 668", "nir_842nm"}) ==
        StringList{"blue_444", "blue", "red_650", "red", "nir"});
  // A colour that appears once keeps its plain role at any wavelength (P4M red at 650 nm).
  CHECK(OrthomosaicReader::roles_from_descriptions({"Blue-450", "Red-650", "NIR-840"}) == StringList{"blue", "red", "nir"});
  CHECK(OrthomosaicReader::roles_from_descriptions({"Blue", "Green", "Red", "NIR", "RedEdge", "lwir_celsius"}).back() == "skip");
  CHECK(OrthomosaicReader::roles_from_descriptions({"Band 1", "Red"}) == StringList{"", "red"});
  CHECK_THROWS_WITH(OrthomosaicReader::roles_from_descriptions({"Red", "Red"}),
                    Catch::Contains("band 1 'Red' and band 2 'Red' are both 'red'"));
  CHECK_THROWS_WITH(OrthomosaicReader::roles_from_descriptions({"Red-650", "Red-686"}), Catch::Contains("name every band"));
  for (const char* role : {"blue_444", "green_531", "red_650", "red_edge_705", "red_edge_740"}) {
    const auto known = OrthomosaicReader::known_roles();
    CHECK(std::find(known.begin(), known.end(), role) != known.end());
  }
}

TEST_CASE("a 10-band Dual stack reads with NDVI from the 668 nm red and the 842 nm NIR", "[stage][reader][captures]") {
  // Guards the collision `fieldrx index` had on Dual stacks: one layer per band, the plain roles
  // where the indices look for them.
  test::TempDir dir;
  test::SyntheticRaster spec{.width = 40, .height = 30, .bands = 10, .data_type = "Float32",
                             .descriptions = {"Blue", "Green", "Red", "NIR", "RedEdge", "Blue-444", "Green-531",
                                              "Red-650", "RedEdge-705", "RedEdge-740"}};
  // Red 0.05, NIR 0.45, and a Red-650 band of 0.25 that must not be used.
  spec.value = [](int b, int, int) { return b == 2 ? 0.05 : b == 3 ? 0.45 : b == 7 ? 0.25 : 0.1 + 0.01 * b; };
  test::write_synthetic_raster(spec, dir.file("dual.tif"));
  const std::vector<double> ndvi = ndvi_of("files: ['" + dir.file("dual.tif") + "']", dir.file("o"));
  REQUIRE(ndvi.size() == 40u * 30u);
  for (double v : {ndvi.front(), ndvi.back()}) CHECK(v == Approx((0.45 - 0.05) / (0.45 + 0.05)).margin(1e-6));
  const auto index = test::run_fieldrx("index " + dir.file("dual.tif") + " -i ndvi,ndre --no-preview -q -o " + dir.file("idx"));
  INFO(index.output);
  CHECK(index.exit_code == 0);
}

TEST_CASE("only the band layers a pass uses are read, in the file's type, as GDAL's Float32 would give", "[stage][reader]") {
  // Guards the native-type read (Byte, Int16, UInt16, Float32 with inf) and the band selection:
  // values equal (float)dn * scale + offset bit for bit, nodata -> NaN, unused layers untouched.
  for (const std::string type : {"Byte", "Int16", "UInt16", "Float32"}) {
    test::TempDir dir;
    test::SyntheticRaster spec;
    spec.width = 37;
    spec.height = 23;
    spec.data_type = type;
    spec.nodata = type == "Int16" ? -7 : 3;
    spec.descriptions = {"Blue", "Green", "Red", "RedEdge", "NIR"};
    spec.value = [&](int b, int x, int y) -> double {
      if (type == "Float32" && x == 4 && y == 2) return b == 2 ? INFINITY : -INFINITY;
      if (x == 1 && y == 1) return *spec.nodata;
      const double v = (b * 31 + x * 7 + y * 13) % 250;
      return type == "Int16" ? v * 100 - 9000 : type == "UInt16" ? v * 250 : type == "Float32" ? v * 0.37 : v;
    };
    test::write_synthetic_raster(spec, dir.file("a.tif"));
    auto reader = create_stage<Reader>(stage_registry(), "readers.orthomosaic");
    reader->options().set_text("files", dir.file("a.tif"));
    reader->options().set_text("scale", "0.0001");
    reader->options().set_text("offset", "0.01");
    const RasterLayout layout = reader->open();
    const int red = layout.find_layer("red"), nir = layout.find_layer("nir"), blue = layout.find_layer("blue");
    Tile tile(layout.layers().size(), 37 * 23);
    std::vector<bool> used(layout.layers().size(), false);
    used[static_cast<std::size_t>(red)] = used[static_cast<std::size_t>(nir)] = true;
    tile.set_layers_used(used);
    tile.reset({0, 0, 37, 23}, layout.georef);
    tile.layer(blue).setTo(42.0f);
    reader->read(tile);
    const std::vector<double> red_dn = test::read_band(dir.file("a.tif"), 3);
    INFO(type);
    for (int i = 0; i < 37 * 23; ++i) {
      const float dn = static_cast<float>(red_dn[static_cast<std::size_t>(i)]);
      const float got = tile.layer(red).ptr<float>()[i];
      if (dn == static_cast<float>(*spec.nodata) || !std::isfinite(dn)) {
        CHECK(std::isnan(got));
      } else {
        CHECK(got == dn * 0.0001f + 0.01f);
      }
      CHECK(tile.layer(blue).ptr<float>()[i] == 42.0f);
    }
    CHECK(std::isnan(tile.layer(nir).ptr<float>()[2 * 37 + 4]) == (type == "Float32"));
  }
}
