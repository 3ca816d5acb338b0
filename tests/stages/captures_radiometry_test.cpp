// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/errors.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/filters/radiometric_sun.hpp"
#include "stages/readers/capture_reader.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
using fieldrx::test::shared_path;

namespace {

std::string micasense(const std::string& relative) {
  return shared_path("data/micasense/" + relative);
}

nlohmann::json load_json(const std::string& relative) {
  std::ifstream in(micasense(relative));
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::vector<cv::Point> points(const nlohmann::json& corners) {
  std::vector<cv::Point> out;
  for (const auto& c : corners) out.emplace_back(c[0].get<int>(), c[1].get<int>());
  return out;
}

// Every expected corner has a detected corner within `tolerance` px on both axes.
bool same_corners(const std::vector<cv::Point>& found, const std::vector<cv::Point>& expected,
                  int tolerance) {
  if (found.size() != expected.size()) return false;
  for (const auto& e : expected) {
    bool hit = false;
    for (const auto& f : found)
      hit = hit || (std::abs(f.x - e.x) <= tolerance && std::abs(f.y - e.y) <= tolerance);
    if (!hit) return false;
  }
  return true;
}

std::string panel_file(int band) {
  return "data/0000SET/000/IMG_0000_" + std::to_string(band) + ".tif";
}

}  // namespace

TEST_CASE("MicaSense vignetting, row gradient and radiance equal the reference at sample pixels",
          "[kernel][captures]") {
  // Guards the radiance model term by term (reference_values.json "pixels") on all twelve RedEdge
  // files.
  const auto reference = load_json("reference_values.json");
  for (const auto& [file, ref] : reference["per_image"].items()) {
    INFO(file);
    const BandMetadata b = read_band_metadata(micasense(file));
    const cv::Mat raw = read_raw_band(micasense(file));
    const cv::Mat radiance = band_radiance(b, raw);
    const cv::Mat vignette =
        micasense_vignette(raw.size(), b.vignette_center[0], b.vignette_center[1], b.vignette_poly);
    const cv::Mat rows =
        micasense_row_gradient(raw.rows, b.radiometric_cal[1], b.radiometric_cal[2], b.exposure_s);
    const UndistortMaps maps = band_undistort_maps(b);
    const cv::Mat undistorted = undistort(radiance, maps);
    for (const auto& [where, px] : ref["pixels"].items()) {
      INFO(where);
      const int row = std::stoi(where.substr(0, where.find(','))),
                col = std::stoi(where.substr(where.find(',') + 1));
      CHECK(raw.at<std::uint16_t>(row, col) == px["raw"].get<double>());
      CHECK(vignette.at<double>(row, col) == Approx(px["vignette"].get<double>()).epsilon(1e-9));
      CHECK(rows.at<double>(row) == Approx(px["rowgrad"].get<double>()).epsilon(1e-9));
      CHECK(radiance.at<float>(row, col) == Approx(px["radiance"].get<double>()).epsilon(1e-6));
      CHECK(undistorted.at<float>(row, col) ==
            Approx(px["undist_radiance"].get<double>()).epsilon(1e-4).margin(1e-7));
    }
    CHECK(cv::mean(raw)[0] == Approx(ref["raw_mean"].get<double>()).epsilon(1e-9));
    CHECK(cv::mean(radiance)[0] == Approx(ref["radiance_mean"].get<double>()).epsilon(1e-5));
    CHECK(cv::mean(undistorted)[0] ==
          Approx(ref["undistorted_radiance_mean"].get<double>()).epsilon(1e-4));
    MicaSenseRadiometry r;
    r.black_level = b.black_level;
    r.exposure_s = b.exposure_s;
    r.gain = b.gain;
    r.cal = {b.radiometric_cal[0], b.radiometric_cal[1], b.radiometric_cal[2]};
    r.vignette_cx = b.vignette_center[0];
    r.vignette_cy = b.vignette_center[1];
    r.vignette_poly = b.vignette_poly;
    CHECK(cv::mean(micasense_intensity(raw, r))[0] ==
          Approx(ref["intensity_mean"].get<double>()).epsilon(1e-5));
    // Undistortion target camera: cv2.getOptimalNewCameraMatrix(alpha=1).
    const auto& nk = ref["optimal_new_camera_matrix_alpha1"];
    CHECK(maps.new_k(0, 0) == Approx(nk[0][0].get<double>()).epsilon(1e-6));
    CHECK(maps.new_k(1, 1) == Approx(nk[1][1].get<double>()).epsilon(1e-6));
    CHECK(maps.new_k(0, 2) == Approx(nk[0][2].get<double>()).epsilon(1e-6));
    CHECK(maps.new_k(1, 2) == Approx(nk[1][2].get<double>()).epsilon(1e-6));
  }
}

TEST_CASE("RedEdge-MX Dual radiance and Altum LWIR temperature equal the reference",
          "[kernel][captures]") {
  // Guards gain 2 (ISO 200), DLS2 files and the centi-kelvin thermal band.
  const auto reference = load_json("reference_values_dls2_lwir.json");
  for (const char* file :
       {"data/10BANDSET/000/IMG_0431_1.tif", "data/10BANDSET/000/IMG_0431_6.tif"}) {
    INFO(file);
    const auto& ref = reference[file];
    const cv::Mat raw = read_raw_band(micasense(file));
    const cv::Mat radiance = band_radiance(read_band_metadata(micasense(file)), raw);
    CHECK(cv::mean(raw)[0] == Approx(ref["raw_mean"].get<double>()).epsilon(1e-9));
    CHECK(cv::mean(radiance)[0] == Approx(ref["radiance_mean"].get<double>()).epsilon(1e-5));
    CHECK(radiance.at<float>(480, 640) ==
          Approx(ref["rad_at"]["480,640"].get<double>()).epsilon(1e-6));
    CHECK(radiance.at<float>(100, 200) ==
          Approx(ref["rad_at"]["100,200"].get<double>()).epsilon(1e-6));
  }
  for (const char* file :
       {"data/ALTUM1SET/000/IMG_0000_6.tif", "data/ALTUM1SET/000/IMG_0008_6.tif"}) {
    INFO(file);
    const auto& ref = reference[file];
    const cv::Mat raw = read_raw_band(micasense(file));
    const cv::Mat celsius = band_radiance(read_band_metadata(micasense(file)), raw);
    CHECK(raw.at<std::uint16_t>(60, 80) == ref["raw_at_60_80"].get<int>());
    CHECK(celsius.at<float>(60, 80) == Approx(ref["degC_at_60_80"].get<double>()).margin(1e-3));
    CHECK(cv::mean(celsius)[0] == Approx(ref["degC_mean"].get<double>()).margin(1e-3));
  }
}

TEST_CASE("panel statistics over given corners reproduce MicaSense's panel tests",
          "[kernel][captures]") {
  // Guards region membership, population std and the saturation count (test_panel.py raw_panel_*).
  const BandMetadata b = read_band_metadata(micasense(panel_file(1)));
  const cv::Mat raw = read_raw_band(micasense(panel_file(1)));
  const UndistortMaps maps = band_undistort_maps(b);
  cv::Mat undistorted = undistort(raw, maps);
  const std::vector<cv::Point> manual = {{809, 613}, {648, 615}, {646, 454}, {808, 452}};
  RegionStats s = region_stats(undistorted, manual, 65000);
  CHECK(s.mean == Approx(45406).epsilon(0.01));
  CHECK(s.stddev == Approx(738.0).epsilon(0.05));
  CHECK(s.count == Approx(26005).epsilon(0.001));
  CHECK(s.saturated == 0);
  const std::vector<cv::Point> bad = {
      {460, 599}, {583, 599}, {584, 478}, {462, 477}};  // the QR code
  s = region_stats(undistorted, bad, 65000);
  CHECK(s.mean == Approx(26965).epsilon(0.01));
  CHECK(s.stddev == Approx(15396.0).epsilon(0.05));
  CHECK(s.count == Approx(14824).epsilon(0.01));
  CHECK(s.saturated <= 2);
  undistorted(cv::Rect(700, 500, 50, 50)).setTo(65521);
  s = region_stats(undistorted, manual, 65000);
  CHECK(s.mean == Approx(47245).epsilon(0.01));
  CHECK(s.stddev == Approx(5846.1).epsilon(0.05));
  CHECK(s.count == Approx(26005).epsilon(0.001));
  CHECK(s.saturated == 2500);
  // test_ordered_coordinates.
  CHECK(ordered_panel_coordinates({{648, 615}, {809, 613}, {808, 452}, {646, 454}}) ==
        std::vector<cv::Point>{{809, 613}, {648, 615}, {646, 454}, {808, 452}});
  // Manual corners of every band (reference_values.json panel_capture_manual_corners).
  const auto reference = load_json("reference_values.json");
  int band = 1;
  for (const auto& ref : reference["panel_capture_manual_corners"]) {
    INFO(ref["band"].get<std::string>());
    const std::string file = micasense(panel_file(band++));
    const PanelMeasurement m =
        measure_panel(read_band_metadata(file), read_raw_band(file), points(ref["corners"]), 0.5);
    CHECK(m.raw.mean == Approx(ref["raw"][0].get<double>()).epsilon(0.001));
    CHECK(m.raw.count == Approx(ref["raw"][2].get<double>()).epsilon(0.001));
    CHECK(m.radiance.mean == Approx(ref["radiance"][0].get<double>()).epsilon(0.001));
    CHECK(m.radiance.stddev == Approx(ref["radiance"][1].get<double>()).epsilon(0.02));
  }
}

TEST_CASE("the panel is found from its QR code and irradiance and reflectance match the references",
          "[stage][captures]") {
  // Guards auto panel detection (test_panel.py, test_capture.py panel_*), E = pi*L/rho, and rho
  // over the panel.
  const auto reference = load_json("reference_values.json");
  const auto& auto_ref = reference["panel_capture_auto"];
  const std::vector<double> albedo = {0.67, 0.69, 0.68, 0.61, 0.67};
  const std::vector<double> expected_irradiance = {0.7984513552377268, 0.8168153316499894,
                                                   0.7494420564933592, 0.5483377661926259,
                                                   0.6133644489479754};
  for (int i = 0; i < 5; ++i) {
    const auto& ref = auto_ref["panels"][i];
    INFO(ref["band"].get<std::string>());
    const std::string file = micasense(panel_file(i + 1));
    const BandMetadata b = read_band_metadata(file);
    const cv::Mat raw = read_raw_band(file);
    const UndistortMaps maps = band_undistort_maps(b);
    const PanelDetection detection =
        detect_micasense_panel(undistort(band_radiance(b, raw), maps), raw);
    REQUIRE(detection.found);
    CHECK(detection.serial == "RP02-1603036-SC");
    CHECK(detection.version == 2);
    CHECK(same_corners(detection.qr_corners, points(ref["qr_corners"]), 3));
    CHECK(same_corners(detection.panel_corners, points(ref["panel_corners"]), 3));

    const PanelMeasurement m = measure_panel(b, raw, std::nullopt, albedo[i]);
    CHECK(m.source == "detected");
    CHECK(m.raw.mean == Approx(ref["raw_mean_std_n_sat"][0].get<double>()).epsilon(0.01));
    CHECK(m.raw.stddev == Approx(ref["raw_mean_std_n_sat"][1].get<double>()).epsilon(0.05));
    CHECK(m.raw.count == Approx(ref["raw_mean_std_n_sat"][2].get<double>()).epsilon(0.02));
    CHECK(m.raw.saturated == 0);
    CHECK(m.radiance.mean == Approx(ref["radiance_mean_std_n_sat"][0].get<double>()).epsilon(0.01));
    CHECK(m.radiance.stddev ==
          Approx(ref["radiance_mean_std_n_sat"][1].get<double>()).epsilon(0.02));
    CHECK(m.irradiance == Approx(expected_irradiance[i]).epsilon(0.01));
    // Reflectance of the panel capture over the panel equals the panel albedo within 1%.
    const cv::Mat rho =
        undistort(reflectance_from_radiance(band_radiance(b, raw), m.irradiance), maps);
    CHECK(region_stats(rho, m.corners).mean == Approx(albedo[i]).epsilon(0.01));
    if (i == 0) {
      // test_panel.py: intensity stats, and test_irradiance_mean / test_reflectance with rho = 0.5.
      MicaSenseRadiometry r;
      r.black_level = b.black_level;
      r.exposure_s = b.exposure_s;
      r.gain = b.gain;
      r.cal = {b.radiometric_cal[0], b.radiometric_cal[1], b.radiometric_cal[2]};
      r.vignette_cx = b.vignette_center[0];
      r.vignette_cy = b.vignette_center[1];
      r.vignette_poly = b.vignette_poly;
      const RegionStats intensity =
          region_stats(undistort(micasense_intensity(raw, r), maps), m.corners);
      CHECK(intensity.mean == Approx(1162).epsilon(0.01));
      CHECK(intensity.stddev == Approx(20).epsilon(0.03));
      CHECK(m.radiance.mean == Approx(0.170284).epsilon(0.01));
      CHECK(irradiance_from_panel(m.radiance.mean, 0.67) == Approx(0.7984).epsilon(0.01));
      const double e_half = irradiance_from_panel(m.radiance.mean, 0.5);
      CHECK(
          region_stats(reflectance_from_radiance(band_radiance(b, raw), e_half), m.corners).mean ==
          Approx(0.5).epsilon(1e-3));
    }
  }
  // test_panel_not_detected / test_no_detect_panels_in_flight_image.
  for (int band = 1; band <= 5; ++band) {
    const std::string file =
        micasense("data/0000SET/000/IMG_0001_" + std::to_string(band) + ".tif");
    const BandMetadata b = read_band_metadata(file);
    const cv::Mat raw = read_raw_band(file);
    CHECK_FALSE(
        detect_micasense_panel(undistort(band_radiance(b, raw), band_undistort_maps(b)), raw)
            .found);
    CHECK_THROWS_AS(measure_panel(b, raw), StageError);
  }
  // An RP02 serial carries no albedo: it must be given (test_panel_albedo_not_preset).
  const std::string blue = micasense(panel_file(1));
  CHECK(measure_panel(read_band_metadata(blue), read_raw_band(blue)).irradiance == 0);
  CHECK_FALSE(panel_albedo_from_serial("RP02-1603036-SC", 475).has_value());
  CHECK(*panel_albedo_from_serial("RP06-2051004-OB-04505400850520", 650) == Approx(0.53));
}

TEST_CASE("sun position and DLS angle correction reproduce MicaSense's DLS tests",
          "[kernel][captures]") {
  // Guards test_dls.py (sun angle, fresnel, NED conversions) and the DLS1 horizontal irradiance of
  // every band.
  const BandMetadata blue = read_band_metadata(micasense(panel_file(1)));
  const DlsIrradiance d = dls1_horizontal_irradiance(
      blue.sun.spectral_irradiance, blue.sun.yaw_rad, blue.sun.pitch_rad, blue.sun.roll_rad,
      blue.latitude_deg, blue.longitude_deg, *blue.utc_us);
  CHECK(d.sun_sensor_angle_rad == Approx(0.6754).margin(0.001));
  CHECK(d.solar_elevation_rad == Approx(0.7193).margin(0.001));
  CHECK(d.solar_azimuth_rad == Approx(3.4756).margin(0.001));
  const auto n_sun = ned_from_sun(d.solar_azimuth_rad, d.solar_elevation_rad);
  CHECK(n_sun[0] == Approx(-0.711).margin(0.001));
  CHECK(n_sun[1] == Approx(-0.247).margin(0.001));
  CHECK(n_sun[2] == Approx(-0.659).margin(0.001));
  const auto n_sensor =
      body_to_ned(blue.sun.yaw_rad, blue.sun.pitch_rad, blue.sun.roll_rad, {0, 0, -1});
  CHECK(n_sensor[0] == Approx(-0.187482468).margin(0.001));
  CHECK(n_sensor[1] == Approx(1.82720334e-05).margin(0.001));
  CHECK(n_sensor[2] == Approx(-0.982267949).margin(0.001));
  CHECK(d.horizontal == Approx(1.0101948).epsilon(1e-4));

  const std::vector<double> phis = {0, 0.01, 0.5, 0.99, 1.0},
                            fresnel = {0.9416, 0.9416, 0.94, 0.903, 0.901};
  for (std::size_t i = 0; i < phis.size(); ++i)
    CHECK(dls_fresnel(phis[i]) == Approx(fresnel[i]).margin(0.001));
  const double deg = 3.14159265358979323846 / 180;
  const double expected_ned[8][3] = {{0.707, 0, -0.707},  {0.5, 0.5, -0.707},  {0, 0.707, -0.707},
                                     {-0.5, 0.5, -0.707}, {-0.707, 0, -0.707}, {-0.5, -0.5, -0.707},
                                     {0, -0.707, -0.707}, {0.5, -0.5, -0.707}};
  for (int i = 0; i < 8; ++i) {
    const auto n = ned_from_sun(45.0 * i * deg, 45 * deg);
    for (int k = 0; k < 3; ++k)
      CHECK(n[k] == Approx(expected_ned[i][k]).epsilon(0.01).margin(1e-12));
  }
  const double ypr[6][3] = {{0, 0, 0},  {0, -90, 0},   {90, -90, 0},
                            {0, 90, 0}, {180, -90, 0}, {-90, -90, 0}};
  const double expected_dir[6][3] = {{0, 0, -1}, {1, 0, 0},  {0, 1, 0},
                                     {-1, 0, 0}, {-1, 0, 0}, {0, -1, 0}};
  for (int i = 0; i < 6; ++i) {
    const auto n = body_to_ned(ypr[i][0] * deg, ypr[i][1] * deg, ypr[i][2] * deg, {0, 0, -1});
    for (int k = 0; k < 3; ++k) CHECK(n[k] == Approx(expected_dir[i][k]).margin(1e-6));
  }
  // test_pysolar_az_el_vs_usno: equinox noon at Greenwich longitude.
  auto utc = [](int y, int m, int d, int h, int mi) {
    return *parse_exif_time(std::to_string(y) + ":" + std::to_string(m) + ":" + std::to_string(d) +
                                " " + std::to_string(h) + ":" + std::to_string(mi) + ":00",
                            "");
  };
  SolarPosition p = solar_position(51.4769, 0, utc(2019, 3, 21, 12, 8));
  CHECK(p.elevation_rad == Approx(0.67235).margin(0.01));
  CHECK(p.azimuth_rad == Approx(3.14159).margin(0.01));
  p = solar_position(0, 0, utc(2019, 3, 20, 12, 8));
  CHECK(p.elevation_rad == Approx(1.5708).margin(0.01));
  p = solar_position(-45, 0, utc(2019, 3, 20, 12, 8));
  CHECK(p.elevation_rad == Approx(0.7854).margin(0.01));
  CHECK(std::fmod(p.azimuth_rad + 0.01, 2 * 3.14159265358979323846) == Approx(0.01).margin(0.01));

  // Every band of the panel and the flight capture (reference dls_irradiance, DLS1).
  const auto reference = load_json("reference_values.json");
  const auto& dls_ref = reference["panel_capture_auto"]["dls_irradiance"];
  for (int i = 0; i < 5; ++i) {
    CHECK(sun_sensor_irradiance(read_band_metadata(micasense(panel_file(i + 1)))) ==
          Approx(dls_ref[i].get<double>()).epsilon(1e-4));
    const std::string flight =
        micasense("data/0000SET/000/IMG_0001_" + std::to_string(i + 1) + ".tif");
    CHECK(sun_sensor_irradiance(read_band_metadata(flight)) ==
          Approx(reference["flight_capture_IMG_0001"][i]["dls_horizontal_irradiance"].get<double>())
              .epsilon(1e-4));
  }
  // DLS2: HorizontalIrradiance x 0.01 is used as it is.
  CHECK(sun_sensor_irradiance(read_band_metadata(micasense("data/10BANDSET/000/IMG_0431_1.tif"))) ==
        Approx(0.67305).margin(1e-5));
}

TEST_CASE("flight capture reflectance with the panel's irradiance equals the reference",
          "[stage][captures]") {
  // Guards the whole chain raw -> radiance -> reflectance -> undistortion against reference
  // flight_capture_IMG_0001.
  const auto reference = load_json("reference_values.json");
  for (int i = 0; i < 5; ++i) {
    const auto& ref = reference["flight_capture_IMG_0001"][i];
    INFO(ref["band"].get<std::string>());
    const std::string file =
        micasense("data/0000SET/000/IMG_0001_" + std::to_string(i + 1) + ".tif");
    const BandMetadata b = read_band_metadata(file);
    const cv::Mat radiance = band_radiance(b, read_raw_band(file));
    CHECK(cv::mean(radiance)[0] == Approx(ref["radiance_mean"].get<double>()).epsilon(1e-5));
    const cv::Mat rho =
        undistort(reflectance_from_radiance(radiance, ref["panel_irradiance"].get<double>()),
                  band_undistort_maps(b));
    CHECK(cv::mean(rho)[0] ==
          Approx(ref["undist_reflectance_mean_panel"].get<double>()).epsilon(1e-4));
  }
}

TEST_CASE("DJI, Sequoia and thermal kernels give hand-worked values", "[kernel][captures]") {
  // Guards the formulas of docs/multispectral-cameras.md for the cameras without sample files.
  cv::Mat raw(3, 4, CV_16U, cv::Scalar(3200 + 6400));
  DjiRadiometry dji;
  dji.black_level = 3200;
  dji.sensor_gain = 2;
  dji.exposure_s = 0.001;
  dji.vignetting = {0.01, 0, 0, 0, 0, 0};
  dji.center_x = 0;
  dji.center_y = 0;
  const cv::Mat x = dji_signal(raw, dji);
  // (6400 * (1 + 0.01 r)) / (2 * 0.001) / 65536 at r = 0 and r = 5 (pixel 3,4 -> (x=3,y=2) r =
  // sqrt(13)).
  CHECK(x.at<float>(0, 0) == Approx(6400.0 / 0.002 / 65536));
  CHECK(x.at<float>(2, 3) ==
        Approx(6400.0 * (1 + 0.01 * std::sqrt(13.0)) / 0.002 / 65536).epsilon(1e-6));
  raw.at<std::uint16_t>(0, 1) = 100;  // below black: clipped, not negative
  CHECK(dji_signal(raw, dji).at<float>(0, 1) == 0.0f);

  SequoiaRadiometry seq;
  seq.a = 2;
  seq.b = 10;
  seq.c = 5;
  seq.f_number = 2.2;
  seq.exposure_s = 0.01;
  seq.iso = 100;
  seq.exponents = {0, 0, 1, 0};  // V = 0.5 + 0.5 x/W
  seq.coefficients = {0.5, 0.5};
  const cv::Mat s_raw(2, 2, CV_16U, cv::Scalar(1000));
  const cv::Mat irradiance = sequoia_irradiance(s_raw, seq);
  CHECK(irradiance.at<float>(0, 0) == Approx(2.2 * 2.2 * (1000 / 0.5 - 10) / (2 * 0.01 * 100 + 5)));
  CHECK(irradiance.at<float>(0, 1) ==
        Approx(2.2 * 2.2 * (1000 / 0.75 - 10) / (2 * 0.01 * 100 + 5)));

  const cv::Mat lwir(1, 1, CV_16U, cv::Scalar(29358));
  CHECK(thermal_celsius(lwir).at<float>(0, 0) == Approx(20.43).margin(1e-3));
  // No irradiance, no reflectance: NaN, never a number that looks like a crop.
  CHECK(std::isnan(
      reflectance_from_radiance(cv::Mat(1, 1, CV_32F, cv::Scalar(0.1)), 0).at<float>(0, 0)));
  CHECK(reflectance_from_radiance(cv::Mat(1, 1, CV_32F, cv::Scalar(0.1)),
                                  3.14159265358979323846 * 0.2)
            .at<float>(0, 0) == Approx(0.5));
}

TEST_CASE("an auto-calibration image's ReflectArea and Albedo are used as the camera wrote them",
          "[stage][captures]") {
  // Guards the metadata panel path (CalibrationPicture 2 + Albedo + ReflectArea + PanelSerial)
  // without QR detection.
  const std::string file = micasense(panel_file(1));
  BandMetadata b = read_band_metadata(file);
  CHECK_FALSE(b.auto_calibration_image());
  b.calibration_picture = 2;
  b.panel_albedo = 0.53;
  b.panel_region = {{{809, 613}}, {{648, 615}}, {{646, 454}}, {{808, 452}}};
  b.panel_serial = "RP04-1234567-OB";
  REQUIRE(b.auto_calibration_image());
  const PanelMeasurement m = measure_panel(b, read_raw_band(file));
  CHECK(m.source == "metadata");
  CHECK(m.albedo_source == "metadata");
  CHECK(m.albedo == 0.53);
  CHECK(m.raw.count == 26008);  // reference_values.json panel_capture_manual_corners, Blue
  CHECK(m.radiance.mean == Approx(0.1702733136606002).epsilon(0.001));
  CHECK(m.irradiance == Approx(3.14159265358979323846 * m.radiance.mean / 0.53));
  // A given albedo wins over the metadata's.
  CHECK(measure_panel(b, read_raw_band(file), std::nullopt, 0.5).albedo_source == "given");
}

TEST_CASE(
    "DLS2 files: the sun position agrees with the camera's, and a distrusted horizontal irradiance "
    "is rebuilt",
    "[kernel][captures]") {
  // Guards the solar-position kernel on a second date and place (2019-11-01, 47.7 N) against the
  // DLS2's own SolarElevation/SolarAzimuth, and the direct*sin(el)+scattered fallback.
  BandMetadata b = read_band_metadata(micasense("data/10BANDSET/000/IMG_0431_1.tif"));
  const SolarPosition sun = solar_position(b.latitude_deg, b.longitude_deg, *b.utc_us);
  CHECK(sun.elevation_rad == Approx(b.sun.solar_elevation_rad).margin(0.002));
  CHECK(sun.azimuth_rad == Approx(b.sun.solar_azimuth_rad).margin(0.002));
  b.sun.horizontal_valid = false;  // as for DLS2 firmware before RedEdge 5.1.7 / Altum 1.2.3
  CHECK(sun_sensor_irradiance(b) == Approx(0.67305).epsilon(0.003));
  b.sun = SunSensorReading{};
  CHECK_THROWS_WITH(sun_sensor_irradiance(b), Catch::Contains("panel"));
}
