// SPDX-License-Identifier: Apache-2.0
#include <gdal_priv.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/io/gdal_io.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
using fieldrx::test::run_fieldrx;
using fieldrx::test::shared_path;
using fieldrx::test::TempDir;

namespace {

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    if (!line.empty() && line.back() == ',') fields.emplace_back();
    rows.push_back(fields);
  }
  return rows;
}

// Mean of a band with NaN counted as 0, as MicaSense's undistorted images (black corners) are
// averaged.
double mean_nan_as_zero(GDALRasterBand* band) {
  std::vector<float> data(static_cast<std::size_t>(band->GetXSize()) * band->GetYSize());
  REQUIRE(band->RasterIO(GF_Read, 0, 0, band->GetXSize(), band->GetYSize(), data.data(),
                         band->GetXSize(), band->GetYSize(), GDT_Float32, 0, 0) == CE_None);
  double sum = 0;
  for (float v : data) sum += std::isfinite(v) ? v : 0.0;
  return sum / static_cast<double>(data.size());
}

}  // namespace

TEST_CASE(
    "fieldrx calibrate turns the RedEdge flight folder into reflectance, captures.csv and a mosaic",
    "[e2e][captures]") {
  // Guards the CLI chain: panel found in the folder, per-band panel irradiance, aligned stack,
  // atomic outputs.
  TempDir out;
  const auto result = run_fieldrx(
      "calibrate " + shared_path("data/micasense/data/0000SET") +
      " --panel-albedo 0.67,0.69,0.68,0.61,0.67 --mosaic --threads 2 -o " + out.path().string());
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto rows = read_csv(out.file("captures.csv"));
  REQUIRE(rows.size() == 2);  // the panel capture is the calibration, not a flight capture
  CHECK(rows[0] == std::vector<std::string>{"capture", "time", "lat", "lon", "alt",
                                            "irradiance_Blue", "irradiance_Green", "irradiance_Red",
                                            "irradiance_NIR", "irradiance_RedEdge",
                                            "irradiance_source", "irradiance_unit",
                                            "alignment_residual_px", "converged"});
  const auto& row = rows[1];
  CHECK(row[0] == "g2R43Qr5m7EeTFGbkh1W");
  CHECK(row[1].rfind("2017-10-19T20:42:", 0) == 0);
  // Panel irradiance, MicaSense test_panel_irradiance (rel 0.01).
  const double expected[] = {0.7984513552377268, 0.8168153316499894, 0.7494420564933592,
                             0.5483377661926259, 0.6133644489479754};
  for (int i = 0; i < 5; ++i) CHECK(std::stod(row[5 + i]) == Approx(expected[i]).epsilon(0.01));
  CHECK(row[10] == "panel");
  CHECK(row[11] == "W/m2/nm");
  CHECK(std::stod(row[12]) < 1.0);
  CHECK(row[13] == "yes");
  for (const auto& entry : std::filesystem::directory_iterator(out.path())) {
    CHECK(entry.path().filename().string().rfind(".tmp-", 0) !=
          0);  // nothing half-written left behind
  }

  configure_gdal(64 << 20);
  DatasetPtr stack = open_raster(out.file("g2R43Qr5m7EeTFGbkh1W_reflectance.tif"));
  REQUIRE(stack->GetRasterCount() == 5);
  const char* names[] = {"Blue", "Green", "Red", "NIR", "RedEdge"};
  for (int b = 1; b <= 5; ++b) {
    CHECK(std::string(stack->GetRasterBand(b)->GetDescription()) == names[b - 1]);
    CHECK(stack->GetRasterBand(b)->GetRasterDataType() == GDT_Float32);
  }
  // The reference band (Green) is not resampled: its mean reflectance equals MicaSense's
  // undistorted reflectance with the panel irradiance (reference flight_capture_IMG_0001).
  // 0.5 %: fieldrx marks pixels whose interpolation reaches outside the frame NaN (MicaSense
  // blends them with 0), so a one-pixel rim of the black corners differs.
  CHECK(mean_nan_as_zero(stack->GetRasterBand(2)) == Approx(0.10383293768757025).epsilon(0.005));

  // `fieldrx index` recognises the band roles of the output.
  const auto index = run_fieldrx("index " + out.file("g2R43Qr5m7EeTFGbkh1W_reflectance.tif") +
                                 " -i ndvi --no-preview -o " + out.file("idx"));
  INFO(index.output);
  CHECK(index.exit_code == 0);

  DatasetPtr mosaic = open_raster(out.file("mosaic.tif"));
  CHECK(mosaic->GetRasterCount() == 5);
  CHECK(std::string(mosaic->GetRasterBand(4)->GetDescription()) == "NIR");
  const OGRSpatialReference* srs = mosaic->GetSpatialRef();
  REQUIRE(srs != nullptr);
  CHECK(std::string(srs->GetAuthorityCode(nullptr)) == "32611");  // UTM 11N for 36.6 N, 119.4 W
  double gt[6];
  REQUIRE(mosaic->GetGeoTransform(gt) == CE_None);
  CHECK(gt[1] ==
        Approx(72.67 / 1422.98).epsilon(0.02));  // ~73 m above the panel's ground, f = 1423 px
}

TEST_CASE("fieldrx calibrate with the sun sensor uses the DLS irradiance of each capture",
          "[e2e][captures]") {
  // Guards --sun-sensor (DLS1 angle correction) and --no-align.
  TempDir flight, out;
  for (int b = 1; b <= 5; ++b) {
    const std::string name = "IMG_0001_" + std::to_string(b) + ".tif";
    std::filesystem::create_symlink(shared_path("data/micasense/data/0000SET/000/" + name),
                                    flight.path() / name);
  }
  // Without a panel or --sun-sensor there is no irradiance: a clear error, not a guess.
  const auto refused =
      run_fieldrx("calibrate " + flight.path().string() + " -o " + out.path().string());
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.output, Catch::Contains("--sun-sensor"));

  const auto result = run_fieldrx("calibrate " + flight.path().string() +
                                  " --sun-sensor --no-align -q -o " + out.path().string());
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto rows = read_csv(out.file("captures.csv"));
  REQUIRE(rows.size() == 2);
  const double dls[] = {1.0256551966031437, 0.8210596324966575, 0.7359418558233517,
                        0.4408556608746102, 0.6760376813369482};
  for (int i = 0; i < 5; ++i) CHECK(std::stod(rows[1][5 + i]) == Approx(dls[i]).epsilon(1e-4));
  CHECK(rows[1][10] == "sun sensor");
  CHECK(rows[1][13] == "skipped");

  const auto missing = run_fieldrx("calibrate " + out.file("no-such-folder") + " --sun-sensor -o " +
                                   out.path().string());
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("not a folder"));
}
