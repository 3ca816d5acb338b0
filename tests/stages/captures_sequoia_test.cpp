// SPDX-License-Identifier: Apache-2.0
// Parrot Sequoia: the sunshine sensor (IrradianceList, IrradianceCalibrationMeasurement) and the
// fisheye lens, from published numbers (there are no real Sequoia files in the sample set), and
// `fieldrx calibrate` end to end on a synthetic Sequoia flight written with exiv2 tags.
#include <gdal_priv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <exiv2/exiv2.hpp>
#include <filesystem>
#include <functional>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/filters/radiometric_kernels.hpp"
#include "stages/filters/radiometric_sunshine.hpp"
#include "stages/readers/capture_metadata.hpp"
#include "stages/readers/xmp_metadata.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Parrot's published IrradianceCalibrationMeasurement (developer forum, "Explanation of Exif
// Tags - Radiometric Calibration"): rows of gain index, integration ms, CH0, CH1.
const char* kCalibrationRows = "0,600,33,17,1,600,820,417,2,600,13526,6824,3,600,65535,65535";

// Parrot's fisheye numbers from the developer forum thread "Fish eye correction": polynomial
// p0..p3 (Parrot), FisheyeAffineMatrix C = F = 1558.553158612 and FocalLength 4.0 mm at
// FocalPlaneXResolution 266.6666559 px/mm (a 1280 x 960 band).
constexpr double kP2 = 0.009290101, kP3 = -0.145406216;

std::string base64_of(const std::vector<std::uint8_t>& bytes) {
  std::vector<char> text((bytes.size() + 2) / 3 * 4 + 1);
  REQUIRE(Exiv2::base64encode(bytes.data(), bytes.size(), text.data(), text.size()) == 1);
  return text.data();
}

}  // namespace

TEST_CASE("a Sequoia IrradianceList encoded independently decodes to its records",
          "[kernel][captures][sequoia]") {
  // Guards the record layout (u64 us, u16 CH0, CH1, gain index, integration ms, f32 yaw, pitch,
  // roll, little-endian): the text was made with Python,
  //   base64.b64encode(struct.pack('<QHHHHfff', 36030000000, 2000, 1000, 1, 100, 1.5, -0.25, 0.125)
  //                  + struct.pack('<QHHHHfff', 36030250000, 2050, 1010, 1, 100, 1.5, -0.25,
  //                  0.125))
  const auto bytes =
      decode_base64("gCuOYwgAAADQB+gDAQBkAAAAwD8AAIC+AAAAPhD8kWMIAAAAAgjyAwEAZAAAAMA/AACAvgAAAD4=");
  REQUIRE(bytes.has_value());
  CHECK(bytes->size() == 56);
  const auto records = sunshine_records(*bytes);
  REQUIRE(records.has_value());
  REQUIRE(records->size() == 2);
  const SunshineRecord& r = (*records)[1];
  CHECK(r.timestamp_us == 36030250000ULL);
  CHECK(r.ch0 == 2050);
  CHECK(r.ch1 == 1010);
  CHECK(r.gain_index == 1);
  CHECK(r.integration_ms == 100);
  CHECK(r.yaw == 1.5f);
  CHECK(r.pitch == -0.25f);
  CHECK(r.roll == 0.125f);
  CHECK((*records)[0].timestamp_us == 36030000000ULL);
  CHECK((*records)[0].ch0 == 2000);

  // Round trip through our encoder and exiv2's, for one to three records (both paddings).
  for (std::size_t n = 1; n <= 3; ++n) {
    std::vector<SunshineRecord> many(n, r);
    many.back().timestamp_us = 0xFEDCBA9876543210ULL;
    many.back().ch0 = 65535;
    const auto decoded = sunshine_records(*decode_base64(base64_of(sunshine_bytes(many))));
    REQUIRE(decoded.has_value());
    REQUIRE(decoded->size() == n);
    CHECK(decoded->back().timestamp_us == 0xFEDCBA9876543210ULL);
    CHECK(decoded->back().ch0 == 65535);
    CHECK(decoded->front().roll == 0.125f);
  }

  // Wrapped text is fine; malformed text and partial records are not guessed at.
  CHECK(decode_base64("gCuOYwgAAADQ\n B+gDAQBk").has_value());
  CHECK_FALSE(decode_base64("Q===").has_value());
  CHECK_FALSE(decode_base64("QUJ").has_value());
  CHECK_FALSE(decode_base64("QU*D").has_value());
  CHECK_FALSE(decode_base64("").has_value());
  CHECK_FALSE(sunshine_records(std::vector<std::uint8_t>(20)).has_value());  // pre-1.1.0 records
  CHECK_FALSE(sunshine_records({}).has_value());
}

TEST_CASE("Sequoia sunshine readings: gain table, relative irradiance and the capture's reading",
          "[kernel][captures][sequoia]") {
  // Guards S = CH0 / (g * t_ms) with g from IrradianceCalibrationMeasurement relative to gain
  // index 1 (Parrot's advice, ODM's get_sun_sensor_sequoia), and the nearest-reading rule.
  std::vector<double> rows;
  for (const auto& item : split_list_text(kCalibrationRows)) rows.push_back(std::stod(item));
  const std::vector<double> g = sunshine_gains(rows);
  REQUIRE(g.size() == 4);
  CHECK(g[0] == Approx(33.0 / 820.0));     // 0.040244
  CHECK(g[1] == 1.0);                      // the reference
  CHECK(g[2] == Approx(13526.0 / 820.0));  // 16.4951
  CHECK(std::isnan(g[3]));                 // saturated at 65535: its gain is unknown

  SunshineRecord a;
  a.ch0 = 2000;
  a.gain_index = 1;
  a.integration_ms = 100;
  CHECK(sunshine_irradiance(a, g) == Approx(20.0));  // 2000 / (1 * 100)
  SunshineRecord b = a;
  b.ch0 = 13196;
  b.gain_index = 2;
  b.integration_ms = 50;
  // 13196 / (16.4951 * 50) = 15.99976: 0.8 of the light of `a` at another gain and exposure.
  CHECK(sunshine_irradiance(b, g) == Approx(13196.0 * 820.0 / (13526.0 * 50.0)));
  CHECK(sunshine_irradiance(b, g) / sunshine_irradiance(a, g) == Approx(0.799988).epsilon(1e-5));
  SunshineRecord dark = a;
  dark.gain_index = 3;  // saturated calibration row
  CHECK(std::isnan(sunshine_irradiance(dark, g)));
  dark.gain_index = 7;  // no calibration row
  CHECK(std::isnan(sunshine_irradiance(dark, g)));
  SunshineRecord saturated = a;
  saturated.ch0 = 65535;
  CHECK(std::isnan(sunshine_irradiance(saturated, g)));
  // Without a usable gain index 1 the lowest usable index is the reference: ratios are the same.
  const std::vector<double> no_ref = sunshine_gains({0, 600, 33, 17, 2, 300, 6763, 3412});
  CHECK(no_ref[0] == 1.0);
  CHECK(std::isnan(no_ref[1]));
  CHECK(no_ref[2] == Approx(13526.0 / 33.0));
  CHECK(sunshine_gains({}).empty());

  // The reading nearest the capture's time of day (10:20:30.250 UTC = 37230.25 s), not the
  // latest; readings on another clock (since boot): the latest.
  const std::int64_t capture = *parse_exif_time("2017:06:15 10:20:30", "250");
  std::vector<SunshineRecord> list(4, a);
  list[0].timestamp_us = 37'229'250'000;
  list[1].timestamp_us = 37'230'220'000;  // 30 ms before: this one
  list[2].timestamp_us = 37'230'420'000;  // 170 ms after
  list[3].timestamp_us = 37'229'850'000;
  CHECK(sunshine_record_for_capture(list, capture) == std::size_t(1));
  for (std::size_t i = 0; i < list.size(); ++i) list[i].timestamp_us = 500'000'000 + i * 200'000;
  CHECK(sunshine_record_for_capture(list, capture) == std::size_t(3));
  CHECK(sunshine_record_for_capture(list, std::nullopt) == std::size_t(3));
  CHECK_FALSE(sunshine_record_for_capture({}, capture).has_value());
}

TEST_CASE("the Sequoia fisheye maps a hand-worked point and inverts within 0.01 px",
          "[kernel][captures][sequoia]") {
  // Guards the Pix4D fisheye model as Sequoia files carry it: ray from the pinhole camera,
  // theta = (2/pi) atan(r), rho polynomial, the affine C, D, E, F in row-major order.
  FisheyeLens lens;
  lens.p = {0, 1, kP2, kP3, 0};
  // D and E are 0 on Sequoia files; non-zero here so that their order matters.
  lens.affine = cv::Matx22d(1558.553158612, 2.5, -1.5, 1556.0);
  const double res = 266.6666559;          // px/mm
  lens.center = {2.41 * res, 1.80 * res};  // PrincipalPoint 2.41, 1.80 mm
  const double f = 4.0 * res;              // FocalLength 4.0 mm: 1066.6666 px
  const cv::Matx33d k = camera_matrix(f, f, lens.center.x, lens.center.y);
  // By hand: the undistorted pixel (cx + 0.3 f, cy + 0.4 f) = (962.6666, 906.6666) is the ray
  // X = 0.3, Y = 0.4: r = 0.5, theta = (2/pi) atan(0.5) = 0.2951672353,
  // rho = theta + p2 theta^2 + p3 theta^3 = 0.2951672353 + 0.0008093879 - 0.0037392751
  //     = 0.2922373482, (xh, yh) = rho (0.6, 0.8) = (0.1753424089, 0.2337898785),
  // x_d = 1558.553158612 xh + 2.5 yh + 642.6666407 = 273.2805 + 0.5845 + 642.6666 = 916.5316,
  // y_d = -1.5 xh + 1556.0 yh + 479.9999806 = -0.2630 + 363.7771 + 480.0000 = 843.5140.
  const cv::Point2d u(lens.center.x + 0.3 * f, lens.center.y + 0.4 * f);
  const cv::Point2d d = fisheye_distort_point(lens, k, u);
  CHECK(d.x == Approx(916.5316).margin(1e-3));
  CHECK(d.y == Approx(843.5140).margin(1e-3));
  const cv::Point2d back = fisheye_undistort_point(lens, k, d);
  CHECK(back.x == Approx(u.x).margin(0.01));
  CHECK(back.y == Approx(u.y).margin(0.01));
  // The principal point stays put; the inverse holds over the frame.
  const cv::Point2d centre = fisheye_distort_point(lens, k, lens.center);
  CHECK(centre.x == Approx(lens.center.x));
  CHECK(centre.y == Approx(lens.center.y));
  double worst = 0;
  for (double y = 0; y < 960; y += 37) {
    for (double x = 0; x < 1280; x += 41) {
      const cv::Point2d p =
          fisheye_undistort_point(lens, k, fisheye_distort_point(lens, k, {x, y}));
      worst = std::max(worst, std::hypot(p.x - x, p.y - y));
    }
  }
  CHECK(worst < 0.01);
  // Past the lens's monotonic range (theta >= 1, behind the camera): no point, not a wrong one.
  CHECK(std::isnan(fisheye_undistort_point(lens, k, {lens.center.x + 5000, lens.center.y}).x));

  // The remap tables hold the same lookups, and a frame turned by 180 degrees gets turned maps.
  const cv::Size size(1280, 960);
  const UndistortMaps maps = fisheye_undistort_maps(lens, k, size);
  CHECK(maps.map_x.at<float>(906, 962) == Approx(fisheye_distort_point(lens, k, {962, 906}).x));
  CHECK(maps.map_y.at<float>(906, 962) == Approx(fisheye_distort_point(lens, k, {962, 906}).y));
  // A smooth image: cv::remap quantises the sub-pixel position to 1/32 px, so mirrored lookups
  // can round apart by 1/32 px at most.
  cv::Mat image(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x)
      image.at<float>(y, x) = std::sin(x / 50.0) + std::cos(y / 40.0);
  cv::Mat turned;
  cv::flip(image, turned, -1);
  cv::Mat expected;
  cv::flip(undistort(image, maps), expected, -1);
  const UndistortMaps rotated = rotate_maps_180(maps, size);
  CHECK(cv::norm(undistort(turned, rotated), expected, cv::NORM_INF) < 1e-3);
  CHECK(rotated.new_k(0, 2) == Approx(1279 - k(0, 2)));
  CHECK(rotated.new_k(1, 2) == Approx(959 - k(1, 2)));
}

namespace {

// The tags of one Sequoia band as the camera writes them (attributes, comma-separated lists).
ImageTags sequoia_tags(const std::string& irradiance_list) {
  ImageTags tags = ImageTags::from_xmp_packet(
      std::string(
          R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">)"
          R"(<rdf:Description xmlns:Camera="http://pix4d.com/camera/1.0/" Camera:BandName="NIR")"
          R"( Camera:CentralWavelength="790" Camera:SensorModel="1.5,50,0.01")"
          R"( Camera:VignettingPolynomial2DName="0,0,1,0" Camera:VignettingPolynomial2D="0.9,0.2")"
          R"( Camera:FisheyePolynomial="0,1,0.009290101,-0.145406216")"
          R"( Camera:FisheyeAffineMatrix="1558.553158612,0,0,1558.553158612")"
          R"( Camera:PrincipalPoint="2.300533,1.70701")"
          R"( Camera:IrradianceCalibrationMeasurement=")") +
      kCalibrationRows + R"(" Camera:IrradianceList=")" + irradiance_list +
      R"("/></rdf:RDF></x:xmpmeta>)");
  tags.set_exif("Exif.Photo.ExposureTime", "1/500", {0.002});
  tags.set_exif("Exif.Photo.FNumber", "2.2", {2.2});
  tags.set_exif("Exif.Photo.ISOSpeedRatings", "100", {100});
  tags.set_exif("Exif.Photo.FocalLength", "4", {4.0});
  tags.set_exif("Exif.Photo.FocalPlaneXResolution", "266.6666559", {266.6666559});
  tags.set_exif("Exif.Photo.FocalPlaneYResolution", "266.6666559", {266.6666559});
  tags.set_exif("Exif.Photo.FocalPlaneResolutionUnit", "4", {4});
  tags.set_exif("Exif.Image.ImageWidth", "1280", {1280});
  tags.set_exif("Exif.Image.ImageLength", "960", {960});
  tags.set_exif("Exif.Photo.DateTimeOriginal", "2017:06:15 10:20:30", {});
  tags.set_exif("Exif.Photo.SubSecTimeOriginal", "250", {});
  return tags;
}

}  // namespace

TEST_CASE("Sequoia band metadata gives the fisheye camera and the sunshine reading of the capture",
          "[stage][captures][sequoia]") {
  // Guards the reader (PrincipalPoint and FocalLength in mm times px/mm, IrradianceList decoded)
  // and the adapter: the reading nearest the capture time, S = CH0 / (g t), and the messages.
  SunshineRecord early, at;
  early.timestamp_us = 37'229'250'000;  // a second before the capture
  early.ch0 = 900;
  early.gain_index = 1;
  early.integration_ms = 100;
  at = early;
  at.timestamp_us = 37'230'220'000;  // 30 ms before 10:20:30.250
  at.ch0 = 13196;
  at.gain_index = 2;
  at.integration_ms = 50;
  const std::string list = base64_of(sunshine_bytes({early, at}));
  const BandMetadata b = band_metadata_from_tags(sequoia_tags(list), CameraFamily::sequoia, 3,
                                                 "IMG_170615_102030_0001");
  CHECK(b.sunshine_problem.empty());
  REQUIRE(b.sunshine.size() == 2);
  CHECK(b.sunshine_calibration.size() == 16);
  REQUIRE(b.has_fisheye());
  CHECK(band_has_lens_model(b));
  const cv::Matx33d k = band_camera_matrix(b);
  CHECK(k(0, 0) == Approx(4.0 * 266.6666559));       // 1066.67 px
  CHECK(k(0, 2) == Approx(2.300533 * 266.6666559));  // 613.48 px
  CHECK(k(1, 2) == Approx(1.70701 * 266.6666559));   // 455.20 px
  const FisheyeLens lens = band_fisheye_lens(b);
  CHECK(lens.affine(0, 0) == 1558.553158612);
  CHECK(lens.p[3] == kP3);
  CHECK(band_undistorted_camera(b)(0, 2) == Approx(k(0, 2)));
  BandMetadata turned = b;
  turned.rotated_180 = true;
  CHECK(band_undistorted_camera(turned)(0, 2) == Approx(1279 - k(0, 2)));

  // 13196 / (16.4951 * 50): the second reading, nearest the capture.
  CHECK(sun_sensor_irradiance(b) == Approx(13196.0 * 820.0 / (13526.0 * 50.0)));
  CHECK_FALSE(sun_sensor_usable_without_panel(b));
  CHECK_FALSE(sun_sensor_is_absolute(b));

  // What cannot be read says what and where, and only when the sun sensor is asked for.
  const BandMetadata bad = band_metadata_from_tags(
      sequoia_tags("not*base64"), CameraFamily::sequoia, 3, "IMG_170615_102030_0001");
  CHECK_THAT(bad.sunshine_problem, Catch::Contains("not valid base64"));
  CHECK_THROWS_WITH(sun_sensor_irradiance(bad),
                    Catch::Contains("IrradianceList") && Catch::Contains("panel alone"));
  const BandMetadata old =
      band_metadata_from_tags(sequoia_tags(base64_of(std::vector<std::uint8_t>(40, 1))),
                              CameraFamily::sequoia, 3, "IMG_170615_102030_0001");
  CHECK_THAT(old.sunshine_problem, Catch::Contains("20-byte records"));
  at.gain_index = 3;  // saturated in the calibration rows
  const BandMetadata unknown_gain =
      band_metadata_from_tags(sequoia_tags(base64_of(sunshine_bytes({early, at}))),
                              CameraFamily::sequoia, 3, "IMG_170615_102030_0001");
  CHECK_THROWS_WITH(sun_sensor_irradiance(unknown_gain),
                    Catch::Contains("gain index 3") && Catch::Contains("reading 2 of 2"));
}

namespace {

// A synthetic Sequoia flight: 640 x 480 bands (the 1280 x 960 frame at half size: 7.5 um
// pixels), each band its own fisheye lens with Parrot's polynomial and the per-band principal
// points published on the Parrot forum ("Fish eye correction": GRE 2.43165,1.879815 mm ...), one
// flat scene seen along parallel optical axes, raw DN from the Sequoia sensor model and
// vignetting, and sunshine readings whose ratio to the panel capture's sets the scene's light.
struct SynthBand {
  const char* suffix;
  const char* name;
  double wavelength_nm, pp_x_mm, pp_y_mm;
  double base_reflectance;
  double panel_irradiance;  // scene light at the panel capture, Sequoia sensor units
  std::uint16_t panel_ch0;  // sunshine reading at the panel capture (gain index 1, 100 ms)
};
constexpr SynthBand kSynthBands[] = {
    {"GRE", "Green", 550, 2.43165, 1.879815, 0.08, 2.0e6, 1500},
    {"RED", "Red", 660, 2.299911, 1.854195, 0.06, 1.6e6, 1600},
    {"REG", "Red edge", 735, 2.392066, 1.722098, 0.25, 1.2e6, 1700},
    {"NIR", "NIR", 790, 2.300533, 1.70701, 0.40, 1.0e6, 1800},
};
constexpr int kWidth = 640, kHeight = 480;
constexpr double kPxPerMm = 400.0 / 3.0, kFocalMm = 3.98;
constexpr double kA = 1.5, kB = 50, kC = 0.01, kFNumber = 2.2, kExposureS = 0.002, kIso = 100;
constexpr double kPanelAlbedo = 0.5;
// Gains of Parrot's calibration rows (kCalibrationRows) relative to gain index 1.
constexpr double kGain[] = {33.0 / 820.0, 1.0, 13526.0 / 820.0};

FisheyeLens synth_lens(const SynthBand& b) {
  FisheyeLens lens;
  lens.p = {0, 1, kP2, kP3, 0};
  lens.affine = cv::Matx22d(1558.553158612 / 2, 0, 0, 1558.553158612 / 2);
  lens.center = {b.pp_x_mm * kPxPerMm, b.pp_y_mm * kPxPerMm};
  return lens;
}

cv::Matx33d synth_camera(const SynthBand& b) {
  const double f = kFocalMm * kPxPerMm;
  return camera_matrix(f, f, b.pp_x_mm * kPxPerMm, b.pp_y_mm * kPxPerMm);
}

// Reflectance of the scene along the ray (X, Y, 1), and the panel. The texture (crop rows and
// patches) is a sum of plane waves of 30 to 100 px period in any direction: enough detail for
// the registration, smooth enough that bilinear resampling keeps it within 0.1 %.
double synth_reflectance(const SynthBand& b, double x, double y, bool panel) {
  if (panel && std::fabs(x) < 0.2 && std::fabs(y) < 0.2) return kPanelAlbedo;
  static const double wave[][3] = {// rad per unit of X/Z along x, along y; phase
                                   {111, 20, 0.3}, {-35, 98, 1.1}, {64, 64, 2.0}, {-52, -77, 0.7},
                                   {33, -41, 2.9}, {88, -30, 1.7}, {12, 47, 0.2}, {-70, 25, 2.4}};
  double pattern = 0.25 * std::sin(11 * x) * std::cos(9 * y);
  for (const auto& w : wave) pattern += 0.05 * std::sin(w[0] * x + w[1] * y + w[2]);
  return b.base_reflectance * (1 + pattern);
}

struct SynthCapture {
  std::string stem;          // IMG_170615_102030_0001
  std::string time, subsec;  // EXIF DateTimeOriginal, SubSecTimeOriginal
  double light = 1;          // sunshine relative to the panel capture (before rounding)
  std::uint16_t gain_index = 1, integration_ms = 100;
  bool panel = false, rotated = false;
  double altitude_m = 180;
};

// The sunshine count of band b at this capture, and the light it stands for (CH0 / (g t) over
// the panel capture's).
std::uint16_t synth_ch0(const SynthBand& b, const SynthCapture& c) {
  return static_cast<std::uint16_t>(
      std::lround(c.light * b.panel_ch0 / 100.0 * kGain[c.gain_index] * c.integration_ms));
}
double synth_light(const SynthBand& b, const SynthCapture& c) {
  return synth_ch0(b, c) / (kGain[c.gain_index] * c.integration_ms) / (b.panel_ch0 / 100.0);
}

void set_xmp(Exiv2::XmpData& xmp, const std::string& name, const std::string& value) {
  xmp["Xmp.Camera." + name] = value;
}

void write_synth_capture(const fs::path& folder, const SynthCapture& c) {
  fs::create_directories(folder);
  Exiv2::XmpProperties::registerNs("http://pix4d.com/camera/1.0/", "Camera");
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  REQUIRE(gtiff != nullptr);
  const std::int64_t time_of_day = *parse_exif_time("1970:01:01 " + c.time.substr(11), c.subsec);
  for (const SynthBand& b : kSynthBands) {
    const FisheyeLens lens = synth_lens(b);
    const cv::Matx33d k = synth_camera(b);
    const double e = b.panel_irradiance * synth_light(b, c);
    cv::Mat raw(kHeight, kWidth, CV_16U);
    for (int y = 0; y < kHeight; ++y) {
      for (int x = 0; x < kWidth; ++x) {
        const cv::Point2d u = fisheye_undistort_point(lens, k, {double(x), double(y)});
        double rx = (u.x - k(0, 2)) / k(0, 0), ry = (u.y - k(1, 2)) / k(1, 1);
        if (c.rotated) rx = -rx, ry = -ry;  // the camera turned by 180 degrees
        const double rho = std::isfinite(rx) ? synth_reflectance(b, rx, ry, c.panel) : 0.1;
        const double vignette = 0.9 + 0.1 * x / kWidth + 0.1 * y / kHeight;
        const double dn =
            vignette * (rho * e / kPi * (kA * kExposureS * kIso + kC) / (kFNumber * kFNumber) + kB);
        raw.at<std::uint16_t>(y, x) = cv::saturate_cast<std::uint16_t>(dn);
      }
    }
    const std::string path = (folder / (c.stem + "_" + b.suffix + ".TIF")).string();
    {
      DatasetPtr ds(gtiff->Create(path.c_str(), kWidth, kHeight, 1, GDT_UInt16, nullptr));
      REQUIRE(ds != nullptr);
      REQUIRE(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, kWidth, kHeight, raw.data, kWidth,
                                             kHeight, GDT_UInt16, 0, 0) == CE_None);
    }
    // Sunshine: a reading a second before, the capture's 30 ms before, a decoy 170 ms after.
    SunshineRecord before, reading, after;
    reading.timestamp_us = static_cast<std::uint64_t>(time_of_day - 30'000);
    reading.ch0 = synth_ch0(b, c);
    reading.gain_index = c.gain_index;
    reading.integration_ms = c.integration_ms;
    before = after = reading;
    before.timestamp_us -= 970'000;
    before.ch0 /= 2;
    after.timestamp_us += 200'000;
    after.ch0 = static_cast<std::uint16_t>(after.ch0 * 1.3);
    auto image = Exiv2::ImageFactory::open(path);
    image->readMetadata();
    Exiv2::ExifData& exif = image->exifData();
    exif["Exif.Image.Make"] = "Parrot";
    exif["Exif.Image.Model"] = "Sequoia";
    exif["Exif.Image.Orientation"] = static_cast<std::uint16_t>(c.rotated ? 3 : 1);
    exif["Exif.Photo.ExposureTime"] = Exiv2::URational(1, 500);
    exif["Exif.Photo.FNumber"] = Exiv2::URational(22, 10);
    exif["Exif.Photo.ISOSpeedRatings"] = static_cast<std::uint16_t>(kIso);
    exif["Exif.Photo.FocalLength"] = Exiv2::URational(398, 100);
    exif["Exif.Photo.FocalPlaneXResolution"] = Exiv2::URational(400, 3);
    exif["Exif.Photo.FocalPlaneYResolution"] = Exiv2::URational(400, 3);
    exif["Exif.Photo.FocalPlaneResolutionUnit"] = static_cast<std::uint16_t>(4);
    exif["Exif.Photo.DateTimeOriginal"] = c.time;
    exif["Exif.Photo.SubSecTimeOriginal"] = c.subsec;
    exif["Exif.GPSInfo.GPSLatitudeRef"] = "N";
    exif["Exif.GPSInfo.GPSLatitude"] = "48/1 51/1 1200/100";
    exif["Exif.GPSInfo.GPSLongitudeRef"] = "E";
    exif["Exif.GPSInfo.GPSLongitude"] = "2/1 21/1 0/1";
    exif["Exif.GPSInfo.GPSAltitudeRef"] = static_cast<std::uint8_t>(0);
    exif["Exif.GPSInfo.GPSAltitude"] =
        Exiv2::URational(static_cast<std::uint32_t>(c.altitude_m * 100), 100);
    Exiv2::XmpData& xmp = image->xmpData();
    set_xmp(xmp, "BandName", b.name);
    set_xmp(xmp, "CentralWavelength", std::to_string(int(b.wavelength_nm)));
    set_xmp(xmp, "SensorModel", "1.5,50,0.01");
    set_xmp(xmp, "VignettingPolynomial2DName", "0,0,1,0,0,1");
    set_xmp(xmp, "VignettingPolynomial2D", "0.9,0.1,0.1");
    set_xmp(xmp, "FisheyePolynomial", "0,1,0.009290101,-0.145406216");
    set_xmp(xmp, "FisheyeAffineMatrix", "779.276579306,0,0,779.276579306");
    set_xmp(xmp, "PrincipalPoint",
            std::to_string(b.pp_x_mm).substr(0, 8) + "," + std::to_string(b.pp_y_mm).substr(0, 8));
    set_xmp(xmp, "IrradianceCalibrationMeasurement", kCalibrationRows);
    set_xmp(xmp, "IrradianceList", base64_of(sunshine_bytes({before, reading, after})));
    set_xmp(xmp, "Yaw", "0");
    set_xmp(xmp, "Pitch", "0");
    set_xmp(xmp, "Roll", "0");
    image->writeMetadata();
  }
}

std::vector<float> read_band(GDALDataset& ds, int band) {
  std::vector<float> data(static_cast<std::size_t>(kWidth) * kHeight);
  REQUIRE(ds.GetRasterBand(band)->RasterIO(GF_Read, 0, 0, kWidth, kHeight, data.data(), kWidth,
                                           kHeight, GDT_Float32, 0, 0) == CE_None);
  return data;
}

double quantile(std::vector<double> v, double q) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * (v.size() - 1))];
}

}  // namespace

TEST_CASE(
    "fieldrx calibrate on a synthetic Sequoia flight: panel x sunshine ratio, fisheye, mosaic",
    "[e2e][captures][sequoia]") {
  // Guards the Sequoia path end to end: the reader on exiv2-written tags, the panel given by
  // corners, E = E_panel * S_capture / S_panel per band (captures.csv), fisheye undistortion and
  // alignment (reflectance equals the scene's, also for a frame recorded turned by 180 degrees),
  // the quick mosaic, and the refusal of the sunshine sensor without a panel.
  test::TempDir dir;
  configure_gdal(64 << 20);
  const SynthCapture panel{
      "IMG_170615_101500_0001", "2017:06:15 10:15:00", "100", 1.0, 1, 100, true, false, 120};
  // Flight: 0.8 of the panel's light at gain index 2 / 50 ms, then 1.15 at gain index 0 / 400 ms,
  // recorded turned by 180 degrees.
  const SynthCapture flight[] = {
      {"IMG_170615_102030_0002", "2017:06:15 10:20:30", "250", 0.8, 2, 50, false, false, 180},
      {"IMG_170615_102032_0003", "2017:06:15 10:20:32", "750", 1.15, 0, 400, false, true, 180}};
  write_synth_capture(dir.path() / "panel", panel);
  for (const auto& c : flight) write_synth_capture(dir.path() / "flight", c);
  const std::string corners = "237,177,377,177,377,317,237,317";  // inside the panel, every band

  // The sunshine sensor alone: refused, in the log and in captures.csv.
  const auto alone = test::run_fieldrx("calibrate " + dir.file("flight") + " --sun-sensor -o " +
                                       dir.file("alone"));
  INFO(alone.output);
  CHECK(alone.exit_code == 3);
  CHECK_THAT(alone.output, Catch::Contains("sunshine sensor is uncalibrated"));
  const auto refused = test::read_csv(dir.file("alone/captures.csv"));
  REQUIRE(refused.size() == 2);
  for (const auto& row : refused) {
    CHECK_THAT(row.at("converged"),
               Catch::StartsWith("error: ") && Catch::Contains("uncalibrated"));
  }
  // A panel capture without a MicaSense QR code needs its corners.
  const auto no_corners =
      test::run_fieldrx("calibrate " + dir.file("flight") + " --panel " + dir.file("panel") +
                        " --panel-albedo 0.5 -o " + dir.file("no-corners"));
  CHECK(no_corners.exit_code != 0);
  CHECK_THAT(no_corners.output, Catch::Contains("--panel-corners"));

  const auto result =
      test::run_fieldrx("calibrate " + dir.file("flight") + " --panel " + dir.file("panel") +
                        " --panel-albedo 0.5 --panel-corners " + corners +
                        " --sun-sensor --mosaic --threads 2 -o " + dir.file("out"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto rows = test::read_csv(dir.file("out/captures.csv"));
  REQUIRE(rows.size() == 2);
  const char* names[] = {"Green", "Red", "RedEdge", "NIR"};
  for (std::size_t c = 0; c < 2; ++c) {
    INFO("capture " << flight[c].stem);
    CHECK(rows[c].at("capture") == flight[c].stem);
    CHECK(rows[c].at("irradiance_source") == "panel x sun sensor");
    CHECK(rows[c].at("irradiance_unit") == "Sequoia relative");
    CHECK(rows[c].at("converged") == "yes");
    CHECK(std::stod(rows[c].at("alignment_residual_px")) < 1.0);
    for (std::size_t b = 0; b < 4; ++b) {
      // E = E_panel * S_capture / S_panel; E_panel measured over the panel = the scene's light.
      const double expected =
          kSynthBands[b].panel_irradiance * synth_light(kSynthBands[b], flight[c]);
      CHECK(std::stod(rows[c].at(std::string("irradiance_") + names[b])) ==
            Approx(expected).epsilon(0.005));
    }
  }
  // Each stack on the reference (Red) band's undistorted grid holds the scene's reflectance.
  for (std::size_t c = 0; c < 2; ++c) {
    INFO("capture " << flight[c].stem);
    DatasetPtr stack = open_raster(dir.file("out/" + flight[c].stem + "_reflectance.tif"));
    REQUIRE(stack->GetRasterCount() == 4);
    cv::Matx33d k = synth_camera(kSynthBands[1]);
    if (flight[c].rotated) {
      k(0, 2) = kWidth - 1 - k(0, 2);
      k(1, 2) = kHeight - 1 - k(1, 2);
    }
    for (int b = 0; b < 4; ++b) {
      INFO("band " << names[b]);
      CHECK(std::string(stack->GetRasterBand(b + 1)->GetDescription()) == names[b]);
      const std::vector<float> rho = read_band(*stack, b + 1);
      std::vector<double> error;
      for (int y = 80; y < kHeight - 80; y += 3) {
        for (int x = 100; x < kWidth - 100; x += 3) {
          const double truth = synth_reflectance(kSynthBands[b], (x - k(0, 2)) / k(0, 0),
                                                 (y - k(1, 2)) / k(1, 1), false);
          const float v = rho[static_cast<std::size_t>(y) * kWidth + x];
          error.push_back(std::isfinite(v) ? std::fabs(v / truth - 1) : 1.0);
        }
      }
      CHECK(quantile(error, 0.5) < 0.003);  // measured 0.03 % (Red, the reference) to 0.07 %
      CHECK(quantile(error, 0.95) < 0.01);  // measured 0.08 % to 0.24 %
    }
  }
  DatasetPtr mosaic = open_raster(dir.file("out/mosaic.tif"));
  CHECK(mosaic->GetRasterCount() == 4);
  REQUIRE(mosaic->GetSpatialRef() != nullptr);
  CHECK(std::string(mosaic->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32631");  // 2.35 E
}
