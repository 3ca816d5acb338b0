// SPDX-License-Identifier: Apache-2.0
// Altum thermal (LWIR) band in the outputs of `fieldrx calibrate`: degrees Celsius, described
// lwir_celsius, never read as reflectance.
#include <gdal_priv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <exiv2/exiv2.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "pipeline/io/gdal_io.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/readers/capture_metadata.hpp"
#include "stages/readers/capture_reader.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;

namespace {

const char* kAltumCapture = "mWuludZ3pUdfNBQddCQd";  // CaptureId of ALTUM1SET/000/IMG_0008_6.tif

// The sample set holds only the LWIR band of the Altum flight capture. Its five reflectance
// bands are stood in by the RedEdge flight capture IMG_0001, copied and re-tagged as that
// Altum capture (EXIF Model, XMP CaptureId), so that the folder is one complete 6-band capture.
void make_altum_flight(const fs::path& folder) {
  fs::create_directories(folder);
  for (int b = 1; b <= 5; ++b) {
    const fs::path copy = folder / ("IMG_0008_" + std::to_string(b) + ".tif");
    fs::copy_file(
        test::shared_path("data/micasense/data/0000SET/000/IMG_0001_" + std::to_string(b) + ".tif"),
        copy);
    fs::permissions(copy, fs::perms::owner_write, fs::perm_options::add);
    auto image = Exiv2::ImageFactory::open(copy.string());
    image->readMetadata();
    image->exifData()["Exif.Image.Model"] = "Altum";
    image->xmpData()["Xmp.MicaSense.CaptureId"] = kAltumCapture;
    image->writeMetadata();
  }
  fs::copy_file(test::shared_path("data/micasense/data/ALTUM1SET/000/IMG_0008_6.tif"),
                folder / "IMG_0008_6.tif");
}

nlohmann::json lwir_reference() {
  std::ifstream in(test::shared_path("data/micasense/reference_values_dls2_lwir.json"));
  return nlohmann::json::parse(in)["data/ALTUM1SET/000/IMG_0008_6.tif"];
}

std::vector<float> read_all(GDALRasterBand* band) {
  std::vector<float> data(static_cast<std::size_t>(band->GetXSize()) * band->GetYSize());
  REQUIRE(band->RasterIO(GF_Read, 0, 0, band->GetXSize(), band->GetYSize(), data.data(),
                         band->GetXSize(), band->GetYSize(), GDT_Float32, 0, 0) == CE_None);
  return data;
}

}  // namespace

TEST_CASE(
    "the Altum LWIR band is written in degrees Celsius as lwir_celsius beside the reflectance",
    "[e2e][captures][lwir]") {
  // Guards the thermal band: centi-kelvin -> degC (MicaSense reference values), undistorted and
  // placed on the reference grid by the rig geometry, last band of the stack and of the mosaic,
  // named so that no reader takes it for reflectance.
  const auto reference = lwir_reference();
  const double degc_min = reference["raw_min"].get<double>() / 100 - 273.15;
  const double degc_max = reference["raw_max"].get<double>() / 100 - 273.15;
  // The kernel on the real file first: 29314 cK at (row 60, col 80) is 19.99 degC.
  const BandMetadata lwir =
      read_band_metadata(test::shared_path("data/micasense/data/ALTUM1SET/000/IMG_0008_6.tif"));
  const cv::Mat celsius = band_radiance(lwir, read_raw_band(lwir.path));
  CHECK(celsius.at<float>(60, 80) == Approx(reference["degC_at_60_80"].get<double>()).margin(1e-3));
  CHECK(cv::mean(celsius)[0] == Approx(reference["degC_mean"].get<double>()).margin(1e-3));

  test::TempDir dir;
  make_altum_flight(dir.path() / "flight");
  const double ground =
      read_band_metadata(test::shared_path("data/micasense/data/0000SET/000/IMG_0000_1.tif"))
          .altitude_m;
  const auto result =
      test::run_fieldrx("calibrate " + dir.file("flight") +
                        " --sun-sensor --mosaic --threads 2 -q --ground-elevation-m " +
                        std::to_string(ground) + " -o " + dir.file("out"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto rows = test::read_csv(dir.file("out/captures.csv"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("capture") == kAltumCapture);
  CHECK(rows[0].count("irradiance_LWIR") == 0);  // no irradiance: it is not reflectance

  configure_gdal(64 << 20);
  DatasetPtr stack =
      open_raster(dir.file(std::string("out/") + kAltumCapture + "_reflectance.tif"));
  REQUIRE(stack->GetRasterCount() == 6);
  const char* names[] = {"Blue", "Green", "Red", "NIR", "RedEdge", "lwir_celsius"};
  for (int b = 1; b <= 6; ++b)
    CHECK(std::string(stack->GetRasterBand(b)->GetDescription()) == names[b - 1]);
  CHECK(std::string(stack->GetRasterBand(6)->GetUnitType()) == "degC");
  CHECK(std::string(stack->GetRasterBand(2)->GetUnitType()).empty());
  // The 160x120 thermal frame (wider field of view) covers the multispectral frame, and its
  // values stay within the file's temperature range (bilinear resampling cannot leave it).
  const std::vector<float> t = read_all(stack->GetRasterBand(6));
  double sum = 0;
  std::size_t finite = 0;
  float low = std::numeric_limits<float>::infinity(), high = -low;
  for (float v : t) {
    if (!std::isfinite(v)) continue;
    ++finite;
    sum += v;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  CHECK(finite > 0.95 * t.size());
  CHECK(low >= degc_min - 1e-3);
  CHECK(high <= degc_max + 1e-3);
  // The central part of the thermal frame: within 1.5 degC of the whole frame's mean.
  CHECK(sum / finite == Approx(reference["degC_mean"].get<double>()).margin(1.5));
  // Reflectance is still reflectance.
  const std::vector<float> nir = read_all(stack->GetRasterBand(4));
  CHECK(std::count_if(nir.begin(), nir.end(),
                      [](float v) { return std::isfinite(v) && (v < -0.05f || v > 1.5f); }) == 0);

  // `fieldrx index` reads the stack: the temperature band is skipped, NDVI is computed.
  const auto index = test::run_fieldrx(
      "index " + dir.file(std::string("out/") + kAltumCapture + "_reflectance.tif") +
      " -i ndvi --no-preview -o " + dir.file("idx"));
  INFO(index.output);
  CHECK(index.exit_code == 0);
  CHECK_THAT(index.output, Catch::Contains("'lwir_celsius' is a temperature"));
  CHECK(fs::exists(dir.file("idx/ndvi.tif")));

  // The mosaic carries it too, as its last band.
  DatasetPtr mosaic = open_raster(dir.file("out/mosaic.tif"));
  REQUIRE(mosaic->GetRasterCount() == 6);
  CHECK(std::string(mosaic->GetRasterBand(6)->GetDescription()) == "lwir_celsius");
  CHECK(std::string(mosaic->GetRasterBand(6)->GetUnitType()) == "degC");
  CHECK(std::string(mosaic->GetRasterBand(1)->GetDescription()) == "Blue");
}
