// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/errors.hpp"
#include "stages/readers/capture_metadata.hpp"
#include "stages/readers/xmp_metadata.hpp"
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

std::string utc_text(const BandMetadata& band) {
  REQUIRE(band.utc_us.has_value());
  return format_utc(*band.utc_us);
}

}  // namespace

TEST_CASE("MicaSense metadata of IMG_0000_1 matches MicaSense's own test values",
          "[stage][captures]") {
  // Guards the EXIF/XMP reading against tests/test_metadata.py of micasense/imageprocessing.
  const BandMetadata b = read_band_metadata(micasense("data/0000SET/000/IMG_0000_1.tif"));
  CHECK(b.family == CameraFamily::micasense);
  CHECK(b.band_index == 0);
  CHECK(b.make == "MicaSense");
  CHECK(b.model == "RedEdge");
  CHECK(b.flight_id == "NtLNbVIdowuCaWYbg3ck");
  CHECK(b.capture_id == "5v25BtsZg3BQBhVH7Iaz");
  CHECK(b.black_level == 4800.0);
  CHECK(b.focal_length_mm == Approx(5.43509341).epsilon(1e-6));
  CHECK(b.focal_plane_px_per_mm_x == Approx(266.666667).epsilon(1e-6));
  CHECK(b.focal_plane_px_per_mm_y == Approx(266.666667).epsilon(1e-6));
  CHECK(utc_text(b) == "2017-10-19T20:40:39.200174Z");
  CHECK(b.latitude_deg == Approx(36.576096).epsilon(1e-6));
  CHECK(b.longitude_deg == Approx(-119.4352689).epsilon(1e-6));
  CHECK(b.altitude_m == Approx(101.861).epsilon(1e-6));
  CHECK(b.sun.present);
  CHECK(b.radiometric_cal.size() == 3);
  CHECK(b.wavelength_nm == 475);
  REQUIRE(b.vignette_center.size() == 2);
  CHECK(b.vignette_center[0] == Approx(676.703).margin(0.001));
  CHECK(b.vignette_center[1] == Approx(480.445).margin(0.001));
  const std::vector<double> poly = {-3.188190987533484e-05,  1.1380741452056501e-07,
                                    -2.7776829778142425e-09, 9.981184981301047e-12,
                                    -1.4703936738578638e-14, 7.334097230810222e-18};
  REQUIRE(b.vignette_poly.size() == poly.size());
  for (std::size_t i = 0; i < poly.size(); ++i)
    CHECK(b.vignette_poly[i] == Approx(poly[i]).epsilon(1e-3));
  REQUIRE(b.principal_point_mm.size() == 2);
  CHECK(b.principal_point_mm[0] == Approx(2.35363).epsilon(1e-6));
  CHECK(b.principal_point_mm[1] == Approx(1.79947).epsilon(1e-6));
  const std::vector<double> dist = {-0.09679655532374383, 0.14041893470790068,
                                    -0.022980842634993275, 0.0002758383774216635,
                                    0.0006600729536460939};
  REQUIRE(b.distortion_xmp.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(b.distortion_xmp[i] == Approx(dist[i]).epsilon(1e-3));
  CHECK(b.bits == 16);
  CHECK(b.dark_level == Approx(5071.5).epsilon(1e-6));
  CHECK(b.gain == 1);
  CHECK(b.firmware == "v2.1.2-34-g05e37eb-local");
  CHECK(b.sun.spectral_irradiance == Approx(1.0848).margin(1e-4));
  CHECK(b.sun.yaw_rad == Approx(-3.07).margin(0.001));
  CHECK(b.sun.pitch_rad == Approx(-0.188).margin(0.001));
  CHECK(b.sun.roll_rad == Approx(-0.013).margin(0.001));
  CHECK(b.exposure_s == Approx(0.0004725).epsilon(1e-6));
  CHECK(b.sun.scale_to_si == 1.0);
  CHECK_FALSE(b.sun.horizontal_valid);
  CHECK(b.width == 1280);
  CHECK(b.height == 960);
  CHECK_FALSE(b.auto_calibration_image());
  CHECK(b.rig_relatives_deg.empty());
}

TEST_CASE("RedEdge-M v3 metadata: mm focal length, negative SubSecTime, 1/6329 s exposure bug",
          "[stage][captures]") {
  // Guards the three firmware quirks MicaSense's tests single out (test_*_v3,
  // test_bad_exposure_time).
  const BandMetadata v3 = read_band_metadata(micasense("data/0001SET/000/IMG_0002_4.tif"));
  CHECK(v3.focal_length_mm == Approx(5.45221099).epsilon(1e-6));
  CHECK(utc_text(v3) == "2018-04-10T10:52:30.866550Z");
  CHECK(v3.firmware == "v3.3.0");
  CHECK(v3.exposure_s == Approx(0.00171).epsilon(1e-6));
  const BandMetadata legacy = read_band_metadata(micasense("data/0001SET/000/IMG_0003_1.tif"));
  CHECK(legacy.exposure_s == 0.000274);
}

TEST_CASE("per-image metadata and camera matrices equal the reference values of every sample file",
          "[stage][captures]") {
  // Guards units and orders (mm vs px focal length, k1,k2,p1,p2,k3) on all twelve RedEdge files.
  const auto reference = load_json("reference_values.json");
  for (const auto& [file, ref] : reference["per_image"].items()) {
    INFO(file);
    const BandMetadata b = read_band_metadata(micasense(file));
    CHECK(b.band_name == ref["band_name"].get<std::string>());
    CHECK(b.band_index == ref["band_index"].get<int>());
    CHECK(b.model == ref["camera_model"].get<std::string>());
    CHECK(b.capture_id == ref["capture_id"].get<std::string>());
    CHECK(b.exposure_s == Approx(ref["exposure_s"].get<double>()).epsilon(1e-9));
    CHECK(b.gain == ref["gain"].get<double>());
    CHECK(b.black_level == ref["black_level"].get<double>());
    for (int i = 0; i < 3; ++i)
      CHECK(b.radiometric_cal.at(i) ==
            Approx(ref["radiometric_cal"][i].get<double>()).epsilon(1e-12));
    for (int i = 0; i < 5; ++i) {
      CHECK(b.intrinsics.distortion.at(i) ==
            Approx(ref["cv2_dist_k1k2p1p2k3"][i].get<double>()).epsilon(1e-12));
    }
    const auto& k = ref["camera_matrix"];
    CHECK(b.intrinsics.fx == Approx(k[0][0].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.fy == Approx(k[1][1].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.cx == Approx(k[0][2].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.cy == Approx(k[1][2].get<double>()).epsilon(1e-9));
    CHECK(b.focal_length_mm == Approx(ref["focal_length_mm"].get<double>()).epsilon(1e-9));
    // The reference prints Python's isoformat: "2017-10-19T20:40:39.200174+00:00".
    std::string utc = ref["utc"].get<std::string>();
    utc = utc.substr(0, utc.find('+'));
    if (utc.find('.') == std::string::npos) utc += ".000000";
    CHECK(utc_text(b) == utc + "Z");
    CHECK(b.latitude_deg == Approx(ref["lat_lon_alt"][0].get<double>()).epsilon(1e-9));
    CHECK(b.longitude_deg == Approx(ref["lat_lon_alt"][1].get<double>()).epsilon(1e-9));
    CHECK(b.altitude_m == Approx(ref["lat_lon_alt"][2].get<double>()).epsilon(1e-9));
    CHECK(b.sun.spectral_irradiance ==
          Approx(ref["dls_spectral_irradiance"].get<double>()).epsilon(1e-9));
    // Upstream reads exiftool's flat XMP:Yaw, which for IMG_0003_1 (no DLS namespace) is the
    // camera's Camera:Yaw in degrees taken as radians; fieldrx reads DLS:Yaw only.
    if (file.find("IMG_0003_1") != std::string::npos) continue;
    for (int i = 0; i < 3; ++i) {
      const double pose[] = {b.sun.yaw_rad, b.sun.pitch_rad, b.sun.roll_rad};
      CHECK(pose[i] == Approx(ref["dls_pose_rad"][i].get<double>()).epsilon(1e-9));
    }
  }
}

TEST_CASE("DLS2 and Altum LWIR metadata equal the reference values", "[stage][captures]") {
  // Guards the DLS2 x0.01 irradiance scale, HorizontalIrradiance trust and comma-string
  // RigRelatives.
  const auto reference = load_json("reference_values_dls2_lwir.json");
  for (const char* file :
       {"data/10BANDSET/000/IMG_0431_1.tif", "data/10BANDSET/000/IMG_0431_6.tif"}) {
    INFO(file);
    const auto& ref = reference[file];
    const BandMetadata b = read_band_metadata(micasense(file));
    CHECK(b.band_name == ref["band"].get<std::string>());
    CHECK(b.band_index == ref["band_index"].get<int>());
    CHECK(b.model == ref["model"].get<std::string>());
    CHECK(b.firmware == ref["fw"].get<std::string>());
    CHECK(b.exposure_s == Approx(ref["exposure"].get<double>()).epsilon(1e-9));
    CHECK(b.gain == ref["gain"].get<double>());
    REQUIRE(b.rig_relatives_deg.size() == 3);
    for (int i = 0; i < 3; ++i)
      CHECK(b.rig_relatives_deg[i] == Approx(ref["rig_relatives"][i].get<double>()));
    CHECK(b.rig_reference_index == (b.band_index == 0 ? 1 : 6));  // the Dual's two cameras
    CHECK(b.sun.scale_to_si == ref["irradiance_scale"].get<double>());
    CHECK(b.sun.spectral_irradiance ==
          Approx(ref["dls_spectral_irradiance_scaled"].get<double>()).epsilon(1e-6));
    CHECK(b.sun.horizontal_valid == ref["horiz_valid"].get<bool>());
    CHECK(b.sun.horizontal_irradiance ==
          Approx(ref["horizontal_irradiance"].get<double>()).epsilon(1e-9));
    CHECK(b.sun.direct_irradiance == Approx(ref["direct"].get<double>()).epsilon(1e-9));
    CHECK(b.sun.scattered_irradiance == Approx(ref["scattered"].get<double>()).epsilon(1e-9));
    CHECK(b.auto_calibration_image() == ref["auto_calibration_image"].get<bool>());
    const auto& k = ref["camera_matrix"];
    CHECK(b.intrinsics.fx == Approx(k[0][0].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.cx == Approx(k[0][2].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.cy == Approx(k[1][2].get<double>()).epsilon(1e-9));
    for (int i = 0; i < 5; ++i)
      CHECK(b.intrinsics.distortion[i] == Approx(ref["dist"][i].get<double>()).epsilon(1e-9));
  }
  // MicaSense test_10_band_irradiance: HorizontalIrradiance x 0.01.
  CHECK(read_band_metadata(micasense("data/10BANDSET/000/IMG_0431_1.tif"))
            .sun.horizontal_irradiance == Approx(0.67305).margin(1e-5));
  CHECK(read_band_metadata(micasense("data/10BANDSET/000/IMG_0431_6.tif"))
            .sun.horizontal_irradiance == Approx(0.5747).margin(1e-5));
  CHECK(read_band_metadata(micasense("data/10BANDSET/000/IMG_0431_6.tif")).canonical_band_name() ==
        "Blue-444");
  for (const char* file :
       {"data/ALTUM1SET/000/IMG_0000_6.tif", "data/ALTUM1SET/000/IMG_0008_6.tif"}) {
    INFO(file);
    const auto& ref = reference[file];
    const BandMetadata b = read_band_metadata(micasense(file));
    CHECK(b.band_name == "LWIR");
    CHECK(b.is_thermal());
    CHECK(b.width == 160);
    CHECK(b.height == 120);
    CHECK_FALSE(b.auto_calibration_image());
    CHECK(b.intrinsics.fx == Approx(ref["camera_matrix"][0][0].get<double>()).epsilon(1e-9));
    CHECK(b.intrinsics.cx == Approx(ref["camera_matrix"][0][2].get<double>()).epsilon(1e-9));
  }
}

TEST_CASE("a flight folder groups into complete captures and reports incomplete and mixed ones",
          "[stage][captures]") {
  // Guards grouping by CaptureId (test_imageset.py: 2 captures in 0000SET) and that partial
  // captures are never kept.
  const FlightScan set0 = scan_flight_folder(micasense("data/0000SET"));
  REQUIRE(set0.captures.size() == 2);
  CHECK(set0.problems.empty());
  CHECK(set0.captures[0].reference_band().latitude_deg == Approx(36.576096));
  std::vector<std::string> names;
  for (const auto& band : set0.captures[0].bands) names.push_back(band.band_name);
  CHECK(names == std::vector<std::string>{"Blue", "Green", "Red", "NIR", "Red edge"});
  std::vector<std::string> canonical;
  for (const auto& band : set0.captures[0].bands) canonical.push_back(band.canonical_band_name());
  CHECK(canonical == std::vector<std::string>{"Blue", "Green", "Red", "NIR", "RedEdge"});
  for (const auto& band : set0.captures[1].bands)
    CHECK(band.rig_relatives_deg.empty());  // test_no_rig_relatives

  // The whole data folder: the single-band samples are incomplete captures of their rigs.
  const FlightScan all = scan_flight_folder(micasense("data"));
  CHECK(all.captures.size() == 2);
  CHECK(all.files_seen == 16);
  CHECK(all.problems.size() == 5);  // IMG_0002 (NIR only), IMG_0003, IMG_0431 (2 of 10), Altum x2
  for (const auto& problem : all.problems) CHECK_THAT(problem, Catch::Contains("incomplete"));

  // test_from_different_ids: two capture ids are not one capture.
  CHECK_THROWS_AS(capture_from_files({micasense("data/0000SET/000/IMG_0000_1.tif"),
                                      micasense("data/0000SET/000/IMG_0001_1.tif")}),
                  StageError);
  CHECK_THROWS_WITH(capture_from_files({micasense("data/0000SET/000/IMG_0000_1.tif"),
                                        micasense("data/0000SET/000/IMG_0001_1.tif")}),
                    Catch::Contains("different captures"));
  CHECK_THROWS_WITH(capture_from_files({micasense("data/0000SET/000/IMG_0000_1.tif"),
                                        micasense("data/0000SET/000/IMG_0000_1.tif")}),
                    Catch::Contains("appears twice"));
}

TEST_CASE("file names select the camera family and band position", "[kernel][captures]") {
  // Guards the naming patterns of the four camera lines (and that RGB JPEGs are not bands).
  int band = -2;
  std::string stem;
  CHECK(family_from_file_name("IMG_0042_5.tif", &band, &stem) == CameraFamily::micasense);
  CHECK(band == 4);
  CHECK(stem == "IMG_0042");
  CHECK(family_from_file_name("DJI_0013.TIF", &band, &stem) == CameraFamily::dji_p4m);
  CHECK(band == 2);
  CHECK(stem == "DJI_001");
  CHECK_FALSE(family_from_file_name("DJI_0010.JPG").has_value());
  CHECK(family_from_file_name("DJI_20230510094512_0001_MS_RE.TIF", &band, &stem) ==
        CameraFamily::dji_m3m);
  CHECK(band == 2);
  CHECK(stem == "DJI_20230510094512_0001");
  CHECK(family_from_file_name("IMG_180703_101505_0042_NIR.TIF", &band, &stem) ==
        CameraFamily::sequoia);
  CHECK(band == 3);
  CHECK_FALSE(family_from_file_name("IMG_180703_101505_0042_RGB.JPG").has_value());
}

TEST_CASE("XMP lists read alike as rdf:Seq, one comma string, attributes, under each Camera URI",
          "[kernel][captures]") {
  // Guards the encodings cameras and firmware use for the same property.
  const std::string head =
      R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">)";
  const std::string tail = "</rdf:RDF></x:xmpmeta>";
  for (const char* uri :
       {"http://pix4d.com/1.0", "http://pix4d.com/camera/1.0", "http://pix4d.com/camera/1.0/"}) {
    INFO(uri);
    const std::string ns = std::string(R"(xmlns:Cam=")") + uri + "\"";
    const ImageTags seq =
        ImageTags::from_xmp_packet(head + "<rdf:Description " + ns +
                                   "><Cam:VignettingCenter><rdf:Seq><rdf:li>1.5</"
                                   "rdf:li><rdf:li>2.5</rdf:li></rdf:Seq></Cam:VignettingCenter>"
                                   "<Cam:BandName>NIR</Cam:BandName></rdf:Description>" +
                                   tail);
    const ImageTags one_li =
        ImageTags::from_xmp_packet(head + "<rdf:Description " + ns +
                                   "><Cam:VignettingCenter><rdf:Seq><rdf:li>1.5,2.5</rdf:li></"
                                   "rdf:Seq></Cam:VignettingCenter></rdf:Description>" +
                                   tail);
    const ImageTags attributes = ImageTags::from_xmp_packet(
        head + "<rdf:Description " + ns +
        R"( Cam:VignettingCenter="1.5, 2.5" Cam:BandName="NIR"/>)" + tail);
    for (const ImageTags* tags : {&seq, &one_li, &attributes}) {
      CHECK(tags->numbers(kXmpCamera, "VignettingCenter") == std::vector<double>{1.5, 2.5});
    }
    CHECK(seq.text(kXmpCamera, "BandName") == "NIR");
    CHECK(attributes.text(kXmpCamera, "BandName") == "NIR");
  }
  const ImageTags bad = ImageTags::from_xmp_packet(
      head +
      R"(<rdf:Description xmlns:Camera="http://pix4d.com/camera/1.0/" Camera:VignettingCenter="1.5, abc"/>)" +
      tail);
  CHECK_THROWS_WITH(bad.numbers(kXmpCamera, "VignettingCenter"),
                    Catch::Contains("'abc' is not a number"));
}

TEST_CASE("DJI M3M attributes give gain, exposure, vignetting, dewarp camera matrix and UTC",
          "[stage][captures]") {
  // Guards the DJI reading rules of docs/multispectral-cameras.md (exposure in us, matrix about the
  // optical centre).
  const ImageTags tags = ImageTags::from_xmp_packet(
      R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">)"
      R"(<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" xmlns:Camera="http://pix4d.com/camera/1.0/")"
      R"( drone-dji:BlackLevel="3200" drone-dji:SensorGain="2.5" drone-dji:ExposureTime="1000")"
      R"( drone-dji:SensorGainAdjustment="1.125" drone-dji:Irradiance="1234.5")"
      R"( drone-dji:VignettingData="0.1, 0.2, 0.3, 0.4, 0.5, 0.6")"
      R"( drone-dji:CalibratedOpticalCenterX="1296" drone-dji:CalibratedOpticalCenterY="972")"
      R"( drone-dji:DewarpData="2022-06-08;2200.5,2201.5,-10.25,12.5,0.01,-0.02,0.001,0.002,0.03")"
      R"( drone-dji:CalibratedHMatrix="1,0,5,0,1,-3,0,0,1" drone-dji:RelativeAltitude="+60.10")"
      R"( drone-dji:GimbalYawDegree="45.2" drone-dji:GimbalPitchDegree="-90.0" drone-dji:GimbalRollDegree="0.0")"
      R"( drone-dji:UTCAtExposure="2023:05:10 08:46:01.250" Camera:BandName="RedEdge" Camera:CentralWavelength="730"/>)"
      R"(</rdf:RDF></x:xmpmeta>)");
  const BandMetadata b =
      band_metadata_from_tags(tags, CameraFamily::dji_m3m, 2, "DJI_20230510104601_0001");
  CHECK(b.black_level == 3200);
  CHECK(b.gain == 2.5);
  CHECK(b.exposure_s == Approx(0.001));
  CHECK(b.sensor_gain_adjustment == 1.125);
  CHECK(b.dji_irradiance == 1234.5);
  CHECK(b.dji_vignetting.size() == 6);
  CHECK(b.intrinsics.fx == 2200.5);
  CHECK(b.intrinsics.cx == Approx(1296 - 10.25));
  CHECK(b.intrinsics.cy == Approx(972 + 12.5));
  CHECK(b.intrinsics.distortion == std::array<double, 5>{0.01, -0.02, 0.001, 0.002, 0.03});
  CHECK(b.calibrated_hmatrix.size() == 9);
  CHECK(b.relative_altitude_m == Approx(60.1));
  REQUIRE(b.camera_ypr_deg.has_value());
  CHECK((*b.camera_ypr_deg)[1] == -90.0);
  CHECK(utc_text(b) == "2023-05-10T08:46:01.250000Z");
  CHECK(b.canonical_band_name() == "RedEdge");
  CHECK(b.band_index == 2);
  CHECK(b.capture_id == "DJI_20230510104601_0001");
}
