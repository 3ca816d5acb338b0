// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "stages/filters/band_alignment.hpp"
#include "stages/filters/radiometric_calibration.hpp"
#include "stages/filters/radiometric_capture.hpp"
#include "stages/readers/capture_reader.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
using fieldrx::test::shared_path;

namespace {

Capture sample_capture(const std::string& number) {
  std::vector<std::string> files;
  for (int band = 1; band <= 5; ++band) {
    files.push_back(shared_path("data/micasense/data/0000SET/000/IMG_" + number + "_" +
                                std::to_string(band) + ".tif"));
  }
  return capture_from_files(files);
}

}  // namespace

TEST_CASE("every band of the real RedEdge flight capture converges with a residual under 1 px",
          "[stage][captures]") {
  // Guards ECC on the pyramid, the phase-correlation seed (no RigRelatives on RedEdge-3) and the
  // residual check.
  const Capture capture = sample_capture("0001");
  const std::vector<double> irradiance(5, 1.0);
  const CalibratedCapture out =
      calibrate_capture(capture, read_capture_pixels(capture), irradiance, {});
  CHECK(out.reference_band == 1);  // Green, as MicaSense aligns RedEdge captures
  REQUIRE(out.alignment.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    INFO(out.band_names[i] << ": " << out.alignment[i].message);
    CHECK(out.alignment[i].converged);
    CHECK(out.alignment[i].residual_px < 1.0);
    if (i != out.reference_band) {
      CHECK(out.alignment[i].residual_patches >= 3);
      CHECK(out.alignment[i].correlation > 0.5);
      CHECK(out.alignment[i].worst_patch_px <= 2.0);
      CHECK(out.alignment[i].smooth_patches <= out.alignment[i].residual_patches);
    }
  }
  CHECK(out.all_converged);
  CHECK(out.max_residual_px < 1.0);
  CHECK(out.warnings.empty());
}

TEST_CASE("the close-range panel capture reports bands whose residual a homography cannot remove",
          "[stage][captures]") {
  // Guards the report: at ~1 m the panel and the ground disparity differ, so some bands keep
  // a residual over 1 px; those must be flagged and fall back to the factory geometry.
  const Capture capture = sample_capture("0000");
  const CalibratedCapture out =
      calibrate_capture(capture, read_capture_pixels(capture), std::vector<double>(5, 1.0), {});
  int flagged = 0;
  for (std::size_t i = 0; i < out.alignment.size(); ++i) {
    const BandAlignment& a = out.alignment[i];
    INFO(out.band_names[i] << ": " << a.message);
    if (a.converged) {
      CHECK(a.residual_px <= 1.0);
    } else {
      ++flagged;
      CHECK(a.warp == a.seed);
      CHECK_FALSE(a.message.empty());
    }
  }
  CHECK(out.all_converged == (flagged == 0));
  CHECK(out.warnings.size() == static_cast<std::size_t>(flagged));
}

TEST_CASE("a band that cannot be registered is reported and keeps the factory geometry",
          "[kernel][captures]") {
  // Guards against a silently wrong warp: noise and a blank frame must not count as converged.
  const Capture capture = sample_capture("0001");
  const std::vector<cv::Mat> raw = read_capture_pixels(capture);
  const BandMetadata& green = capture.bands[1];
  cv::Mat reference;
  raw[1].convertTo(reference, CV_32F, 1.0 / 65535);
  const cv::Matx33d seed(1, 0, 3.5, 0, 1, -2.0, 0, 0, 1);

  cv::Mat noise(reference.size(), CV_32F);
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::UNIFORM, 0.0, 1.0);
  BandAlignment a = align_band(reference, noise, seed);
  CHECK_FALSE(a.converged);
  CHECK(a.warp == seed);
  CHECK_FALSE(a.message.empty());

  const cv::Mat blank(reference.size(), CV_32F, cv::Scalar(0.2));
  a = align_band(reference, blank, seed);
  CHECK_FALSE(a.converged);
  CHECK(a.warp == seed);
  INFO(a.message);
  CHECK_FALSE(a.message.empty());

  // A known shift of the band itself is recovered within a quarter pixel.
  const cv::Matx33d shift(1, 0, 6.25, 0, 1, -4.5, 0, 0, 1);
  const cv::Mat moved = warp_to_reference(reference, shift.inv(), reference.size());
  a = align_band(reference, moved, cv::Matx33d::eye());
  REQUIRE(a.converged);
  CHECK(a.warp(0, 2) == Approx(6.25).margin(0.25));  // ECC stops at half resolution
  CHECK(a.warp(1, 2) == Approx(-4.5).margin(0.25));
  CHECK(green.band_name == "Green");
}

namespace {

// The colleague's smooth scene (docs/captures.md): plane waves of 170 px period and more, the
// band reading the scene at x + dx (band(x) = scene(x + d), so band(W x) = scene(x) for the warp W
// x = x - d).
cv::Mat smooth_scene(cv::Size size, double dx, double base) {
  static const double wave[][4] = {// rad per px along x, along y; phase; amplitude
                                   {0.030, 0.006, 0.3, 0.25},
                                   {-0.010, 0.034, 1.1, 0.2},
                                   {0.022, 0.022, 2.0, 0.15},
                                   {-0.019, -0.026, 0.7, 0.1}};
  cv::Mat m(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      double p = 0;
      for (const auto& w : wave) p += w[3] * std::sin(w[0] * (x + dx) + w[1] * y + w[2]);
      m.at<float>(y, x) = static_cast<float>(base * (1 + p));
    }
  }
  return m;
}

// Field-like texture: blurred white noise (features of a few px to tens of px).
cv::Mat textured_scene(cv::Size size) {
  cv::Mat m(size, CV_32F);
  cv::RNG rng(11);
  rng.fill(m, cv::RNG::NORMAL, 0.0, 1.0);
  cv::GaussianBlur(m, m, cv::Size(0, 0), 3.0);
  cv::normalize(m, m, 0.04, 0.12, cv::NORM_MINMAX);
  return m;
}

// out(x) = image(x + d): a band whose true warp (reference px -> band px) is x - d.
cv::Mat moved_by(const cv::Mat& image, cv::Point2d d) {
  cv::Mat out;
  cv::warpAffine(image, out, cv::Matx23d(1, 0, d.x, 0, 1, d.y), image.size(),
                 cv::INTER_CUBIC | cv::WARP_INVERSE_MAP, cv::BORDER_REFLECT);
  return out;
}

cv::Matx33d translation(cv::Point2d d) {
  return {1, 0, d.x, 0, 1, d.y, 0, 0, 1};
}

}  // namespace

TEST_CASE("a smooth scene cannot verify a warp: a band 2 px off is reported as too smooth",
          "[kernel][captures]") {
  // Guards the texture test: on waves of 170 px and more phase correlation read 0.4-0.7 px for
  // a 2 px error and the band passed as converged; now no patch counts and the seed is kept.
  const cv::Size size(640, 480);
  const cv::Mat reference = smooth_scene(size, 0, 0.08), band = smooth_scene(size, 2.0, 0.4);
  const cv::Matx33d truth = translation({-2.0, 0});
  for (const cv::Matx33d& warp : {cv::Matx33d::eye(), truth}) {
    const ResidualCheck check = check_alignment(reference, band, warp);
    CHECK(check.grid_patches == 8);
    CHECK(check.smooth_patches == 8);
    CHECK(check.patches == 0);
    CHECK(std::isnan(check.median_px));
  }
  for (const cv::Matx33d& seed : {cv::Matx33d::eye(), truth}) {
    const BandAlignment a = align_band(reference, band, seed);
    INFO(a.message);
    CHECK_FALSE(a.converged);
    CHECK(a.warp == seed);
    CHECK(a.message.rfind("too little texture to verify (smooth scene)", 0) == 0);
    CHECK(std::isnan(a.residual_px));
    CHECK(a.smooth_patches == 8);
  }
}

TEST_CASE("on field-like texture the residual reads a known shift and a sub-pixel band converges",
          "[kernel][captures]") {
  // Guards that the texture test keeps what works: every patch counts, the residual follows the
  // true error (within 0.1 px), a 2 px error exceeds the limit, and a known sub-pixel shift is
  // recovered.
  const cv::Size size(640, 480);
  const cv::Mat reference = textured_scene(size);
  for (const double e : {0.0, 0.5, 1.0, 2.0}) {
    const cv::Point2d d(e, -0.5 * e);
    const ResidualCheck check =
        check_alignment(reference, moved_by(reference, d), cv::Matx33d::eye());
    const double truth = std::hypot(d.x, d.y);
    INFO("true error " << truth);
    CHECK(check.patches == 8);
    CHECK(check.smooth_patches == 0);
    CHECK(check.spread);
    CHECK(check.median_px == Approx(truth).margin(0.1));
    CHECK(check.worst_px == Approx(truth).margin(0.15));
    CHECK(check.worst_at.x > 0);
    if (e == 2.0) CHECK(check.median_px > AlignmentSettings{}.max_residual_px);
  }
  const cv::Point2d d(0.4, -0.3);
  const BandAlignment a = align_band(reference, moved_by(reference, d), cv::Matx33d::eye());
  INFO(a.message);
  REQUIRE(a.converged);
  double true_error = 0;  // worst over interior points
  for (int y = 90; y < size.height; y += 100) {
    for (int x = 90; x < size.width; x += 100) {
      const cv::Vec3d q = a.warp * cv::Vec3d(x, y, 1);
      true_error = std::max(true_error, std::hypot(q[0] / q[2] - x + d.x, q[1] / q[2] - y + d.y));
    }
  }
  CHECK(true_error < 0.2);  // ECC stops at half resolution
  CHECK(a.residual_px == Approx(true_error).margin(0.1));
  CHECK(a.worst_patch_px == Approx(true_error).margin(0.1));
  CHECK(a.smooth_patches == 0);
}

TEST_CASE("MicaSense RigRelatives give the band->reference homography of the undistorted cameras",
          "[kernel][captures]") {
  // Guards the rotation order Rx*Ry*Rz and K_ref R K_band^-1 (MicaSense image.get_homography).
  const cv::Matx33d k(1400, 0, 640, 0, 1400, 480, 0, 0, 1);
  CHECK(cv::norm(rig_relatives_seed({0, 0, 0}, k, k) - cv::Matx33d::eye()) < 1e-12);
  // A pure 0.1 degree rotation about y moves the centre by f*tan(0.1 deg) px along x.
  const cv::Matx33d h = rig_relatives_seed({0, 0.1, 0}, k, k);
  const cv::Vec3d c = h * cv::Vec3d(640, 480, 1);
  CHECK(c[0] / c[2] - 640 ==
        Approx(1400 * std::tan(0.1 * 3.14159265358979323846 / 180)).epsilon(1e-9));
  CHECK(c[1] / c[2] == Approx(480).margin(1e-9));
}

namespace {

// A DJI M3M band whose metadata says `h` maps it onto the common reference frame.
BandMetadata synthetic_m3m_band(int index, const char* name, const cv::Matx33d& h, cv::Size size) {
  std::string matrix;
  for (int i = 0; i < 9; ++i) matrix += (i ? "," : "") + std::to_string(h.val[i]);
  ImageTags tags = ImageTags::from_xmp_packet(
      std::string(
          R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">)"
          R"(<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" xmlns:Camera="http://pix4d.com/camera/1.0/")"
          R"( drone-dji:BlackLevel="3200" drone-dji:SensorGain="1" drone-dji:ExposureTime="1000")"
          R"( drone-dji:SensorGainAdjustment="1.25" drone-dji:Irradiance="2.0")"
          R"( drone-dji:CalibratedOpticalCenterX="320" drone-dji:CalibratedOpticalCenterY="240")"
          R"( drone-dji:DewarpData="2023-01-01;1400,1400,0,0,0,0,0,0,0" drone-dji:CalibratedHMatrix=")") +
      matrix + R"(" Camera:BandName=")" + name + R"("/></rdf:RDF></x:xmpmeta>)");
  tags.set_exif("Exif.Image.ImageWidth", std::to_string(size.width), {double(size.width)});
  // (CalibratedOpticalCenter is the frame centre of this 640 x 480 band.)
  tags.set_exif("Exif.Image.ImageLength", std::to_string(size.height), {double(size.height)});
  tags.set_exif("Exif.Image.Make", "DJI", {});
  tags.set_exif("Exif.Image.Model", "M3M", {});
  return band_metadata_from_tags(tags, CameraFamily::dji_m3m, index, "DJI_20230101120000_0001");
}

}  // namespace

TEST_CASE(
    "DJI M3M: CalibratedHMatrix seeds the alignment and reflectance is X * SensorGainAdjustment / "
    "Irradiance",
    "[stage][captures]") {
  // Guards the DJI path end to end without a DJI sample file: bands cut from a real scene at
  // known offsets, factory matrices 1.5 px off the truth; ECC must recover the truth.
  const cv::Mat scene =
      read_raw_band(shared_path("data/micasense/data/0000SET/000/IMG_0001_2.tif"));
  const cv::Point truth[4] = {{-12, 5}, {0, 0}, {7, -3}, {20, 2}};  // band px + t = reference px
  const char* names[4] = {"Green", "Red", "RedEdge", "NIR"};
  const cv::Size size(640, 480);  // small enough to keep the test quick at full resolution
  std::vector<BandMetadata> bands;
  std::vector<cv::Mat> raw;
  for (int i = 0; i < 4; ++i) {
    // H maps band px onto the common (reference) frame; the factory is 1.5 px / 1 px off.
    const double ex = i == 1 ? 0 : 1.5, ey = i == 1 ? 0 : -1.0;
    const cv::Matx33d h(1, 0, truth[i].x + ex, 0, 1, truth[i].y + ey, 0, 0, 1);
    bands.push_back(synthetic_m3m_band(i, names[i], h, size));
    raw.push_back(
        scene(cv::Rect(40 + truth[i].x, 30 + truth[i].y, size.width, size.height)).clone());
  }
  FlightScan scan = group_captures(bands);
  REQUIRE(scan.captures.size() == 1);
  const Capture& capture = scan.captures.front();
  std::vector<double> irradiance;
  for (const auto& b : capture.bands) irradiance.push_back(sun_sensor_irradiance(b));
  CaptureCalibrationOptions options;
  options.alignment.finest_level = 0;  // --align-full-res: to 0.25 px (half resolution: 0.35 px)
  const CalibratedCapture out = calibrate_capture(capture, raw, irradiance, options);
  REQUIRE(out.reference_band == 1);
  for (int i = 0; i < 4; ++i) {
    INFO(names[i] << ": " << out.alignment[i].message);
    CHECK(out.alignment[i].converged);
    if (i == 1) continue;
    // reference px x is band px x - t: W = translation by -t.
    CHECK(out.alignment[i].seed(0, 2) == Approx(-truth[i].x - 1.5));
    // The homography moves interior points by -t (its translation entry alone may trade off
    // against a tiny scale about the origin).
    for (const cv::Vec3d p :
         {cv::Vec3d(160, 120, 1), cv::Vec3d(480, 120, 1), cv::Vec3d(320, 240, 1),
          cv::Vec3d(160, 360, 1), cv::Vec3d(480, 360, 1)}) {
      const cv::Vec3d q = out.alignment[i].warp * p;
      CHECK(q[0] / q[2] - p[0] == Approx(-truth[i].x).margin(0.25));
      CHECK(q[1] / q[2] - p[1] == Approx(-truth[i].y).margin(0.25));
    }
    CHECK(out.alignment[i].residual_px < 0.5);
  }
  // rho = X * SGA / Irradiance, X = (DN - 3200) / (gain * t) / 2^16, on the undistorted grid.
  cv::Mat expected;
  raw[1].convertTo(expected, CV_32F, 1.0 / 0.001 / 65536 * 1.25 / 2.0,
                   -3200.0 / 0.001 / 65536 * 1.25 / 2.0);
  cv::max(expected, 0.0, expected);
  expected = undistort(expected, band_undistort_maps(capture.bands[1]), std::nan(""));
  CHECK(out.reflectance[1].at<float>(450, 600) ==
        Approx(expected.at<float>(450, 600)).epsilon(1e-5));
}
