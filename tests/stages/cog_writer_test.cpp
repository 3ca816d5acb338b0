// SPDX-License-Identifier: Apache-2.0
#include <gdal_priv.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "pipeline/config.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/runner.hpp"
#include "stages/writers/cog_tiff.hpp"
#include "tests/support/synthetic_raster.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

// A one-band Float32 raster with smooth areas, noise (hard for LZW: its code table fills and
// restarts), NaN holes and an all-NaN corner, at an odd size.
test::SyntheticRaster float_raster(int width, int height) {
  test::SyntheticRaster spec;
  spec.width = width;
  spec.height = height;
  spec.bands = 1;
  spec.data_type = "Float32";
  spec.block = 128;
  spec.value = [](int, int x, int y) {
    if (x < 200 && y < 150) return std::nan("");  // whole blocks of nodata
    if ((x - 600) * (x - 600) + (y - 300) * (y - 300) < 900) return std::nan("");  // a hole
    if ((x * 7 + y * 3) % 11 == 0) return std::nan("");  // scattered nodata
    if (x > 800) {                                       // noise
      const std::uint32_t h =
          static_cast<std::uint32_t>(x) * 2654435761u ^ static_cast<std::uint32_t>(y) * 40503u;
      return static_cast<double>(h % 100000) / 50000.0 - 1.0;
    }
    return 0.1 + 0.0007 * x - 0.0003 * y;
  };
  return spec;
}

// readers.orthomosaic -> writers.cog writing the band itself as layer 'nir'.
void run_cog(const std::string& input, const std::string& out_dir, const std::string& cog_options,
             int tile_px = 128, int threads = 2) {
  const std::string yaml =
      "pipeline:\n"
      "  - {type: readers.orthomosaic, files: ['" +
      input +
      "'], bands: [nir], scale: 1}\n"
      "  - {type: writers.cog, directory: '" +
      out_dir + "', layers: [nir]" + cog_options +
      "}\n"
      "execution: {tile_px: " +
      std::to_string(tile_px) + ", threads: " + std::to_string(threads) + "}\n";
  Pipeline pipeline = build_pipeline(parse_config(YAML::Load(yaml), "cog-test"), stage_registry());
  pipeline.execution.quiet = true;
  run_pipeline(pipeline);
}

struct Image {
  int width = 0, height = 0;
  std::vector<float> values;
  float at(int x, int y) const { return values[static_cast<std::size_t>(y) * width + x]; }
};

Image read_image(GDALRasterBand* band) {
  Image image{band->GetXSize(), band->GetYSize(), {}};
  image.values.resize(static_cast<std::size_t>(image.width) * image.height);
  REQUIRE(band->RasterIO(GF_Read, 0, 0, image.width, image.height, image.values.data(), image.width,
                         image.height, GDT_Float32, 0, 0, nullptr) == CE_None);
  return image;
}

// Writes float_raster(width, height) to `path` and returns its pixels as GDAL reads them.
Image write_input(const std::string& path, int width, int height) {
  test::write_synthetic_raster(float_raster(width, height), path);
  Image image;
  const auto values = test::read_band(path, 1, &image.width, &image.height);
  image.values.assign(values.begin(), values.end());
  return image;
}

// Full resolution, then every overview, as GDAL reads them.
std::vector<Image> read_levels(const std::string& path) {
  configure_gdal(64 << 20);
  DatasetPtr ds = open_raster(path);
  GDALRasterBand* band = ds->GetRasterBand(1);
  std::vector<Image> levels{read_image(band)};
  for (int i = 0; i < band->GetOverviewCount(); ++i)
    levels.push_back(read_image(band->GetOverview(i)));
  return levels;
}

// The documented overview rule, worked independently: sizes halve rounding up until both sides
// fit one block; each pixel is the mean of the non-NaN pixels of its 2x2 window one level
// down ((a + b) + (c + d) in double, as GDAL sums), NaN when there are none.
std::vector<Image> expected_levels(const Image& full, int block) {
  std::vector<Image> levels{full};
  while (levels.back().width > block || levels.back().height > block) {
    const Image& below = levels.back();
    Image up{(below.width + 1) / 2, (below.height + 1) / 2, {}};
    for (int y = 0; y < up.height; ++y) {
      for (int x = 0; x < up.width; ++x) {
        double rows[2] = {0, 0};
        int n = 0;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int sx = 2 * x + dx, sy = 2 * y + dy;
            if (sx >= below.width || sy >= below.height || std::isnan(below.at(sx, sy))) continue;
            rows[dy] += below.at(sx, sy);
            ++n;
          }
        }
        up.values.push_back(n ? static_cast<float>((rows[0] + rows[1]) / n) : kNaN);
      }
    }
    levels.push_back(std::move(up));
  }
  return levels;
}

void check_levels_equal(const std::vector<Image>& got, const std::vector<Image>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t l = 0; l < got.size(); ++l) {
    INFO("level " << l);
    REQUIRE(got[l].width == want[l].width);
    REQUIRE(got[l].height == want[l].height);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got[l].values.size(); ++i)
      differ += !same_float(got[l].values[i], want[l].values[i]);
    CHECK(differ == 0);
  }
}

test::CommandResult validate_cog(const std::string& path) {
  // GDAL's own checker (python3-gdal): IFDs before data, overviews smallest first, and with
  // --full-check every tile's size leader and repeated trailer.
  return test::run_command(
      "/usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff --full-check=yes " +
      path);
}

std::string node_modules() {
  const char* env = std::getenv("FIELDRX_NODE_MODULES");
  return env ? env : FIELDRX_NODE_MODULES;
}

}  // namespace

TEST_CASE("cog 2x2 average: NaN-aware mean of each window, NaN when empty", "[cog][kernel]") {
  // Guards the overview arithmetic: GDAL's AVERAGE with a nodata mask, hand-worked.
  const float src[16] = {1,    2,    kNaN, kNaN,   //
                         3,    4,    kNaN, kNaN,   //
                         -1,   kNaN, 0.5f, 0.25f,  //
                         kNaN, kNaN, kNaN, 1};
  float dst[4];
  cog::average_2x2(src, 4, dst, 2);
  CHECK(dst[0] == 2.5f);
  CHECK(std::isnan(dst[1]));
  CHECK(dst[2] == -1.0f);
  CHECK(dst[3] == static_cast<float>((0.5 + 0.25 + 1.0) / 3));
}

TEST_CASE("cog floating-point predictor regroups bytes MSB first and differences them",
          "[cog][kernel]") {
  // Guards Predictor=3 as TIFF Technical Note 3 defines it: 1.0f = 3F800000, 2.0f = 40000000.
  const float row[2] = {1.0f, 2.0f};
  std::uint8_t out[8];
  cog::float_predictor_row(row, 2, out);
  const std::uint8_t expected[8] = {0x3F, 0x01, 0x40, 0x80,
                                    0,    0,    0,    0};  // 3F, 40-3F, 80-40, 00-80 (mod 256)
  for (int i = 0; i < 8; ++i) CHECK(out[i] == expected[i]);
}

TEST_CASE("cog LZW: the TIFF code stream for a short input", "[cog][kernel]") {
  // Guards the bit packing and code order, worked by hand: "AAAA" -> Clear, 'A', 258 ("AA"),
  // 'A', EOI as 9-bit codes MSB first: 100000000 001000001 100000010 001000001 100000001.
  const std::uint8_t data[4] = {'A', 'A', 'A', 'A'};
  std::vector<std::uint8_t> out;
  cog::lzw_encode(data, 4, out);
  const std::vector<std::uint8_t> expected = {0x80, 0x10, 0x60, 0x44, 0x18, 0x08};
  CHECK(out == expected);
}

TEST_CASE(
    "writers.cog writes valid COGs with every compression, values and overviews as documented",
    "[cog][stage]") {
  // Guards the streamed COG: GDAL's validator, full resolution bit-exact, overviews = the
  // documented 2x2 NaN-aware means (odd sizes, 4 levels), GDAL metadata, and a second reader.
  test::TempDir dir;
  const std::string input = dir.file("in.tif");
  const std::vector<Image> expected = expected_levels(write_input(input, 1100, 700), 128);
  REQUIRE(expected.size() == 5);
  for (const std::string compress : {"none", "zstd", "deflate", "lzw"}) {
    INFO("compress " << compress);
    const std::string out = dir.file("out_" + compress);
    run_cog(input, out, ", compress: " + compress + ", block_px: 128", 97);
    const std::string path = out + "/nir.tif";
    const auto valid = validate_cog(path);
    INFO(valid.output);
    CHECK(valid.exit_code == 0);
    CHECK_THAT(valid.output, Catch::Contains("is a valid cloud optimized GeoTIFF"));
    check_levels_equal(read_levels(path), expected);
    const auto info = test::run_command("gdalinfo " + path);
    CHECK_THAT(info.output, Catch::Contains("LAYOUT=COG"));
    CHECK_THAT(info.output, Catch::Contains("Description = nir"));
    CHECK_THAT(info.output, Catch::Contains("NoData Value=nan"));
    CHECK_THAT(info.output, Catch::Contains("UTM zone 52N"));
    CHECK_THAT(info.output,
               Catch::Contains("Origin = (500000.000000000000000,5230000.000000000000000)"));
    CHECK_THAT(info.output, Catch::Contains("Block=128x128 Type=Float32"));
    if (compress != "none") CHECK_THAT(info.output, Catch::Contains("PREDICTOR=3"));
    // The geotiff npm package (not GDAL) decodes every level the same (it has no ZSTD codec).
    if (compress != "zstd") {
      const auto js = test::run_command("NODE_PATH=" + node_modules() + " node " +
                                        test::source_path("tests/data/cog_read.js") + " " + path);
      INFO(js.output);
      REQUIRE(js.exit_code == 0);
      const auto images = nlohmann::json::parse(js.output);
      REQUIRE(images.size() == expected.size());
      for (std::size_t l = 0; l < expected.size(); ++l) {
        long long count = 0;
        double sum = 0;
        for (float v : expected[l].values) {
          if (!std::isnan(v)) ++count, sum += v;
        }
        CHECK(images[l]["width"].get<int>() == expected[l].width);
        CHECK(images[l]["count"].get<long long>() == count);
        CHECK(images[l]["sum"].get<double>() == Approx(sum).epsilon(1e-12));
      }
    }
    // Nothing but the COG is left in the folder.
    for (const auto& entry : std::filesystem::directory_iterator(out))
      CHECK(entry.path().filename() == "nir.tif");
  }
}

TEST_CASE("writers.cog overviews equal GDAL's AVERAGE overviews bit for bit at even sizes",
          "[cog][stage]") {
  // Guards "the same arithmetic as GDAL": GDAL's COG driver on our full resolution must give the
  // very same overview floats when no size is odd (1024 x 768 -> 512 -> 256 -> 128).
  test::TempDir dir;
  const std::string input = dir.file("in.tif");
  test::write_synthetic_raster(float_raster(1024, 768), input);
  run_cog(input, dir.file("out"), ", compress: zstd, block_px: 128", 256);
  configure_gdal(64 << 20);
  {
    DatasetPtr ours = open_raster(dir.file("out/nir.tif"));
    CPLStringList options;
    options.SetNameValue("BLOCKSIZE", "128");
    options.SetNameValue("OVERVIEW_RESAMPLING", "AVERAGE");
    options.SetNameValue("OVERVIEWS", "IGNORE_EXISTING");
    DatasetPtr gdal(GetGDALDriverManager()->GetDriverByName("COG")->CreateCopy(
        dir.file("gdal.tif").c_str(), ours.get(), false, options.List(), nullptr, nullptr));
    REQUIRE(gdal);
  }
  const auto ours = read_levels(dir.file("out/nir.tif"));
  const auto theirs = read_levels(dir.file("gdal.tif"));
  REQUIRE(ours.size() == 4);
  check_levels_equal(ours, theirs);
}

TEST_CASE("writers.cog bytes do not depend on tile size, threads or alignment with COG blocks",
          "[cog][tiling]") {
  // Guards determinism of the streamed layout: whole blocks per tile (128, 256), partial blocks
  // (64, 97) and one tile for all, at 1 and 2 threads, uncompressed (tiles written in place)
  // and LZW (tiles encoded in parallel batches, then copied in COG order).
  test::TempDir dir;
  const std::string input = dir.file("in.tif");
  test::write_synthetic_raster(float_raster(700, 450), input);
  for (const std::string compress : {"none", "lzw"}) {
    const std::string options = ", compress: " + compress + ", block_px: 128";
    const std::string reference = dir.file(compress + "_ref");
    run_cog(input, reference, options, 128, 1);
    for (int tile : {64, 97, 256, 1024}) {
      for (int threads : {1, 2}) {
        const std::string out =
            dir.file(compress + "_" + std::to_string(tile) + "_" + std::to_string(threads));
        run_cog(input, out, options, tile, threads);
        INFO(compress << " tile " << tile << " threads " << threads);
        CHECK(test::files_identical(reference + "/nir.tif", out + "/nir.tif"));
      }
    }
  }
}

TEST_CASE("writers.cog writes BigTIFF when asked, and no overviews when told", "[cog][stage]") {
  // Guards the 64-bit layout (files past 4 GiB take it by themselves) and overviews: false.
  test::TempDir dir;
  const std::string input = dir.file("in.tif");
  const Image full = write_input(input, 700, 450);
  for (const std::string compress : {"none", "deflate"}) {
    INFO("compress " << compress);
    run_cog(input, dir.file("big_" + compress),
            ", compress: " + compress + ", block_px: 128, bigtiff: 'yes'", 97);
    const std::string path = dir.file("big_" + compress + "/nir.tif");
    const auto valid = validate_cog(path);
    INFO(valid.output);
    CHECK(valid.exit_code == 0);
    std::uint8_t magic[4] = {};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE(f);
    CHECK(std::fread(magic, 1, 4, f) == 4);
    std::fclose(f);
    CHECK(magic[2] == 43);  // BigTIFF
    check_levels_equal(read_levels(path), expected_levels(full, 128));
  }
  run_cog(input, dir.file("flat"), ", compress: zstd, overviews: false", 256);
  check_levels_equal(read_levels(dir.file("flat/nir.tif")), {full});
  CHECK(validate_cog(dir.file("flat/nir.tif")).exit_code == 0);
}

TEST_CASE("writers.cog options name what is wrong", "[cog][stage]") {
  // Guards validation before the first pixel: block edge and DEFLATE level.
  test::TempDir dir;
  const std::string input = dir.file("in.tif");
  test::write_synthetic_raster(float_raster(300, 200), input);
  auto error_of = [&](const std::string& options) -> std::string {
    try {
      run_cog(input, dir.file("out"), options);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of(", block_px: 100"), Catch::Contains("'block_px' must be a multiple of 16"));
  CHECK_THAT(error_of(", compress: deflate, level: 12"), Catch::Contains("DEFLATE levels are 1-9"));
  CHECK_THAT(error_of(", bigtiff: maybe"), Catch::Contains("bigtiff"));
}
