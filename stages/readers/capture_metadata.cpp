// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/capture_metadata.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "pipeline/errors.hpp"

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int>(yoe) + static_cast<int>(era) * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

// First number of `name` in any of the families, in order.
std::optional<double> number_in(const ImageTags& tags,
                                std::initializer_list<std::string_view> families,
                                std::string_view name) {
  for (auto family : families) {
    if (auto v = tags.number(family, name)) return v;
  }
  return std::nullopt;
}
std::vector<double> numbers_in(const ImageTags& tags,
                               std::initializer_list<std::string_view> families,
                               std::string_view name) {
  for (auto family : families) {
    auto v = tags.numbers(family, name);
    if (!v.empty()) return v;
  }
  return {};
}
std::optional<std::string> text_in(const ImageTags& tags,
                                   std::initializer_list<std::string_view> families,
                                   std::string_view name) {
  for (auto family : families) {
    if (auto v = tags.text(family, name)) return v;
  }
  return std::nullopt;
}

double mean_of(const std::vector<double>& values) {
  if (values.empty()) return kNoValue;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

[[noreturn]] void missing(const std::string& path, const std::string& what,
                          const std::string& camera) {
  throw StageError(path + ": " + what + " is missing; a " + camera +
                   " band file carries it (is this file a processed or re-saved copy?)");
}

double gps_degrees(const ImageTags& tags, const char* key, const char* ref_key, char negative_ref) {
  const auto parts = tags.exif_numbers(key);
  if (parts.empty()) return kNoValue;
  double deg = parts[0];
  if (parts.size() > 1) deg += parts[1] / 60.0;
  if (parts.size() > 2) deg += parts[2] / 3600.0;
  const auto ref = tags.exif_text(ref_key);
  if (ref && !ref->empty() && std::toupper(static_cast<unsigned char>((*ref)[0])) == negative_ref)
    deg = -deg;
  return deg;
}

void read_common_exif(const ImageTags& tags, BandMetadata& band) {
  band.make = tags.exif_text("Exif.Image.Make").value_or("");
  band.model = tags.exif_text("Exif.Image.Model").value_or("");
  band.firmware = tags.exif_text("Exif.Image.Software").value_or("");
  band.serial = tags.exif_text("Exif.Photo.BodySerialNumber").value_or("");
  band.width = static_cast<int>(tags.exif_number("Exif.Image.ImageWidth").value_or(0));
  band.height = static_cast<int>(tags.exif_number("Exif.Image.ImageLength").value_or(0));
  band.bits = static_cast<int>(tags.exif_number("Exif.Image.BitsPerSample").value_or(16));
  band.latitude_deg =
      gps_degrees(tags, "Exif.GPSInfo.GPSLatitude", "Exif.GPSInfo.GPSLatitudeRef", 'S');
  band.longitude_deg =
      gps_degrees(tags, "Exif.GPSInfo.GPSLongitude", "Exif.GPSInfo.GPSLongitudeRef", 'W');
  if (auto alt = tags.exif_number("Exif.GPSInfo.GPSAltitude")) {
    band.altitude_m =
        *alt * (tags.exif_number("Exif.GPSInfo.GPSAltitudeRef").value_or(0) == 1 ? -1.0 : 1.0);
  }
  const auto black = tags.exif_numbers("Exif.Image.BlackLevel");
  band.black_level = black.empty() ? 0.0 : mean_of(black);
  band.exposure_s = tags.exif_number("Exif.Photo.ExposureTime").value_or(kNoValue);
  band.f_number = tags.exif_number("Exif.Photo.FNumber").value_or(kNoValue);
  if (auto iso = tags.exif_number("Exif.Photo.ISOSpeed")) {
    band.iso = *iso;
  } else if (auto iso_ratings = tags.exif_number("Exif.Photo.ISOSpeedRatings")) {
    band.iso = *iso_ratings;
  }
  band.focal_plane_px_per_mm_x =
      tags.exif_number("Exif.Photo.FocalPlaneXResolution").value_or(kNoValue);
  band.focal_plane_px_per_mm_y =
      tags.exif_number("Exif.Photo.FocalPlaneYResolution").value_or(kNoValue);
  // FocalPlaneResolutionUnit: 2 inch, 3 cm, 4 mm (MicaSense), per TIFF/EP.
  const double unit = tags.exif_number("Exif.Photo.FocalPlaneResolutionUnit").value_or(4);
  const double per_mm = unit == 2 ? 1 / 25.4 : unit == 3 ? 0.1 : 1.0;
  band.focal_plane_px_per_mm_x *= per_mm;
  band.focal_plane_px_per_mm_y *= per_mm;
  band.rotated_180 = tags.exif_number("Exif.Image.Orientation").value_or(1) == 3;
  const std::string date = tags.exif_text("Exif.Photo.DateTimeOriginal").value_or("");
  std::string subsec = tags.exif_text("Exif.Photo.SubSecTime").value_or("");
  if (subsec.empty()) subsec = tags.exif_text("Exif.Photo.SubSecTimeOriginal").value_or("");
  if (!date.empty()) band.utc_us = parse_exif_time(date, subsec);
  band.band_name = tags.text(kXmpCamera, "BandName").value_or("");
  band.wavelength_nm = tags.number(kXmpCamera, "CentralWavelength").value_or(kNoValue);
  band.fwhm_nm = tags.number(kXmpCamera, "WavelengthFWHM").value_or(kNoValue);
}

// Pix4D camera model of MicaSense/Parrot (PrincipalPoint in mm, focal length in px unless
// PerspectiveFocalLengthUnits says mm, distortion k1,k2,k3,p1,p2).
void read_pix4d_perspective(const ImageTags& tags, BandMetadata& band) {
  band.principal_point_mm = tags.numbers(kXmpCamera, "PrincipalPoint");
  band.distortion_xmp = tags.numbers(kXmpCamera, "PerspectiveDistortion");
  const auto focal = tags.number(kXmpCamera, "PerspectiveFocalLength");
  const double rx = band.focal_plane_px_per_mm_x, ry = band.focal_plane_px_per_mm_y;
  if (!focal || !(rx > 0) || !(ry > 0) || band.principal_point_mm.size() != 2) return;
  const auto units = tags.text(kXmpCamera, "PerspectiveFocalLengthUnits");
  band.focal_length_mm = (units && lower(*units) == "mm") ? *focal : *focal / rx;
  band.intrinsics.fx = band.focal_length_mm * rx;
  band.intrinsics.fy = band.focal_length_mm * ry;
  band.intrinsics.cx = band.principal_point_mm[0] * rx;
  band.intrinsics.cy = band.principal_point_mm[1] * ry;
  const auto& d = band.distortion_xmp;
  if (d.size() >= 5) band.intrinsics.distortion = {d[0], d[1], d[3], d[4], d[2]};
}

// MicaSense imageprocessing metadata.horizontal_irradiance_valid(): some DLS2 firmware
// computed HorizontalIrradiance wrong; trusted from Altum 1.2.3 and RedEdge(-M) 5.1.7 on.
bool firmware_at_least(const std::string& firmware, int major, int minor, int patch) {
  int a = 0, b = 0, c = 0;
  const char* s = firmware.c_str();
  if (*s == 'v' || *s == 'V') ++s;
  if (std::sscanf(s, "%d.%d.%d", &a, &b, &c) < 1) return false;
  if (a != major) return a > major;
  if (b != minor) return b > minor;
  return c >= patch;
}

void read_micasense(const ImageTags& tags, BandMetadata& band) {
  const std::string& path = band.path;
  if (band.band_name.empty()) missing(path, "XMP Camera:BandName", "MicaSense");
  const auto index = tags.number(kXmpCamera, "RigCameraIndex");
  if (!index) missing(path, "XMP Camera:RigCameraIndex", "MicaSense");
  band.band_index = static_cast<int>(*index);
  band.capture_id = tags.text(kXmpMicaSense, "CaptureId").value_or("");
  if (band.capture_id.empty()) missing(path, "XMP MicaSense:CaptureId", "MicaSense");
  band.capture_key = "micasense:" + band.capture_id;
  band.flight_id = tags.text(kXmpMicaSense, "FlightId").value_or("");
  band.gain = band.iso == band.iso ? band.iso / 100.0 : 1.0;
  // Legacy RedEdge firmware wrote 1/6329 s for a true exposure of 0.274 ms (metadata.py).
  if (band.model != "Altum" && std::fabs(band.exposure_s - 1.0 / 6329.0) < 1e-6)
    band.exposure_s = 0.000274;
  band.radiometric_cal = tags.numbers(kXmpMicaSense, "RadiometricCalibration");
  band.vignette_center = tags.numbers(kXmpCamera, "VignettingCenter");
  band.vignette_poly = tags.numbers(kXmpCamera, "VignettingPolynomial");
  band.dark_level = mean_of(tags.numbers(kXmpMicaSense, "DarkRowValue"));
  band.thermal_params = tags.numbers(kXmpMicaSense, "ThermalCalibrationParameters");
  if (!band.is_thermal()) {
    if (band.radiometric_cal.size() < 3) {
      throw StageError(
          path +
          ": XMP MicaSense:RadiometricCalibration is missing; radiometric calibration needs "
          "RedEdge firmware 2.1.0 or later (update the camera firmware)");
    }
    if (!(band.exposure_s > 0)) missing(path, "EXIF ExposureTime", "MicaSense");
  }
  read_pix4d_perspective(tags, band);
  band.rig_relatives_deg = tags.numbers(kXmpCamera, "RigRelatives");
  band.rig_reference_index =
      static_cast<int>(tags.number(kXmpCamera, "RigRelativesReferenceRigCameraIndex").value_or(-1));
  const auto yaw = tags.number(kXmpCamera, "Yaw");
  const auto pitch = tags.number(kXmpCamera, "Pitch");
  const auto roll = tags.number(kXmpCamera, "Roll");
  if (yaw && pitch && roll) {
    // MicaSense Camera:Pitch is 0 when the camera looks straight down; DJI's -90.
    band.camera_ypr_deg = std::array<double, 3>{*yaw, *pitch - 90.0, *roll};
  }

  // Sun sensor (metadata.py dls_present / irradiance_scale_factor / spectral_irradiance).
  SunSensorReading& sun = band.sun;
  const auto spectral = number_in(tags, {kXmpDls, kXmpCamera}, "SpectralIrradiance");
  const auto irradiance = tags.number(kXmpCamera, "Irradiance");
  const auto horizontal = number_in(tags, {kXmpDls, kXmpCamera}, "HorizontalIrradiance");
  const auto direct = number_in(tags, {kXmpDls, kXmpCamera}, "DirectIrradiance");
  sun.present = irradiance || horizontal || direct || spectral;
  if (auto scale =
          number_in(tags, {kXmpDls, kXmpCamera, kXmpMicaSense}, "IrradianceScaleToSIUnits")) {
    sun.scale_to_si = *scale;
  } else {
    sun.scale_to_si = horizontal ? 0.01 : 1.0;  // DLS2 stores x100 unless told otherwise
  }
  sun.spectral_irradiance = (spectral ? *spectral : irradiance.value_or(0.0)) * sun.scale_to_si;
  if (horizontal) sun.horizontal_irradiance = *horizontal * sun.scale_to_si;
  if (direct) sun.direct_irradiance = *direct * sun.scale_to_si;
  if (auto scattered = number_in(tags, {kXmpDls, kXmpCamera}, "ScatteredIrradiance")) {
    sun.scattered_irradiance = *scattered * sun.scale_to_si;
  }
  sun.solar_elevation_rad = number_in(tags, {kXmpDls}, "SolarElevation").value_or(kNoValue);
  sun.solar_azimuth_rad = number_in(tags, {kXmpDls}, "SolarAzimuth").value_or(kNoValue);
  if (horizontal) {
    if (band.model == "Altum") {
      sun.horizontal_valid = firmware_at_least(band.firmware, 1, 2, 3);
    } else if (band.model == "RedEdge" || band.model == "RedEdge-M") {
      sun.horizontal_valid = firmware_at_least(band.firmware, 5, 1, 7);
    } else {
      sun.horizontal_valid = true;  // later models never had the bug
    }
  }
  const auto dls_yaw = tags.number(kXmpDls, "Yaw");
  if (dls_yaw) {
    sun.yaw_rad = *dls_yaw;
    sun.pitch_rad = tags.number(kXmpDls, "Pitch").value_or(0);
    sun.roll_rad = tags.number(kXmpDls, "Roll").value_or(0);
  } else if (auto iyaw = tags.number(kXmpCamera, "IrradianceYaw")) {
    sun.yaw_rad = *iyaw * kDeg;
    sun.pitch_rad = tags.number(kXmpCamera, "IrradiancePitch").value_or(0) * kDeg;
    sun.roll_rad = tags.number(kXmpCamera, "IrradianceRoll").value_or(0) * kDeg;
  }
  if (dls_yaw || tags.has(kXmpCamera, "IrradianceYaw")) {
    band.body_ypr_rad = std::array<double, 3>{sun.yaw_rad, sun.pitch_rad, sun.roll_rad};
  }

  // Panel found by the camera (auto-calibration image).
  band.calibration_picture = static_cast<int>(
      number_in(tags, {kXmpMicaSense, kXmpCamera}, "CalibrationPicture").value_or(0));
  band.panel_albedo = number_in(tags, {kXmpMicaSense, kXmpCamera}, "Albedo");
  const auto area = numbers_in(tags, {kXmpMicaSense, kXmpCamera}, "ReflectArea");
  for (std::size_t i = 0; i + 1 < area.size(); i += 2) {
    band.panel_region.push_back({static_cast<int>(area[i]), static_cast<int>(area[i + 1])});
  }
  band.panel_serial = text_in(tags, {kXmpMicaSense, kXmpCamera}, "PanelSerial").value_or("");
}

void read_dji(const ImageTags& tags, BandMetadata& band, int band_hint) {
  const std::string& path = band.path;
  if (band.band_name.empty()) band.band_name = tags.text(kXmpDji, "BandName").value_or("");
  if (band.band_name.empty()) missing(path, "XMP Camera:BandName", "DJI multispectral");
  band.band_index = band_hint >= 0
                        ? band_hint
                        : static_cast<int>(tags.number(kXmpCamera, "RigCameraIndex").value_or(-1));
  if (band.band_index < 0)
    missing(path, "the band position (file name suffix or Camera:RigCameraIndex)", "DJI");
  if (auto black = tags.number(kXmpDji, "BlackLevel")) band.black_level = *black;
  const auto exposure_us = tags.number(kXmpDji, "ExposureTime");
  if (exposure_us) band.exposure_s = *exposure_us * 1e-6;
  if (!(band.exposure_s > 0)) missing(path, "drone-dji:ExposureTime / EXIF ExposureTime", "DJI");
  const auto gain = tags.number(kXmpDji, "SensorGain");
  if (!gain) missing(path, "XMP drone-dji:SensorGain", "DJI");
  band.gain = *gain;
  band.sensor_gain_adjustment = tags.number(kXmpDji, "SensorGainAdjustment").value_or(kNoValue);
  band.dji_irradiance = tags.number(kXmpDji, "Irradiance").value_or(kNoValue);
  band.sun.present = band.dji_irradiance > 0;
  band.sun.spectral_irradiance = band.dji_irradiance;
  band.dji_vignetting = tags.numbers(kXmpDji, "VignettingData");
  band.optical_center_x = tags.number(kXmpDji, "CalibratedOpticalCenterX").value_or(kNoValue);
  band.optical_center_y = tags.number(kXmpDji, "CalibratedOpticalCenterY").value_or(kNoValue);
  band.calibrated_hmatrix = tags.numbers(kXmpDji, "CalibratedHMatrix");
  band.relative_optical_center_x =
      tags.number(kXmpDji, "RelativeOpticalCenterX").value_or(kNoValue);
  band.relative_optical_center_y =
      tags.number(kXmpDji, "RelativeOpticalCenterY").value_or(kNoValue);
  // DewarpData "date;fx,fy,cx,cy,k1,k2,p1,p2,k3": cx, cy are offsets from the calibrated
  // optical centre; the distortion is already in OpenCV's order.
  if (auto dewarp = tags.text(kXmpDji, "DewarpData")) {
    std::string values = *dewarp;
    if (auto semicolon = values.find(';'); semicolon != std::string::npos)
      values = values.substr(semicolon + 1);
    std::vector<double> d;
    for (const auto& token : split_list_text(values))
      d.push_back(std::strtod(token.c_str(), nullptr));
    if (d.size() >= 9 && band.optical_center_x == band.optical_center_x) {
      band.intrinsics.fx = d[0];
      band.intrinsics.fy = d[1];
      band.intrinsics.cx = band.optical_center_x + d[2];
      band.intrinsics.cy = band.optical_center_y + d[3];
      band.intrinsics.distortion = {d[4], d[5], d[6], d[7], d[8]};
    }
  }
  band.relative_altitude_m = tags.number(kXmpDji, "RelativeAltitude").value_or(kNoValue);
  if (auto abs_alt = tags.number(kXmpDji, "AbsoluteAltitude")) {
    if (!(band.altitude_m == band.altitude_m)) band.altitude_m = *abs_alt;
  }
  const auto gyaw = tags.number(kXmpDji, "GimbalYawDegree");
  const auto gpitch = tags.number(kXmpDji, "GimbalPitchDegree");
  const auto groll = tags.number(kXmpDji, "GimbalRollDegree");
  if (gyaw && gpitch && groll) band.camera_ypr_deg = std::array<double, 3>{*gyaw, *gpitch, *groll};
  // UTCAtExposure is UTC; EXIF DateTimeOriginal of DJI drones is local time.
  if (auto utc = tags.text(kXmpDji, "UTCAtExposure")) {
    std::string date = *utc, frac;
    if (auto dot = date.find('.'); dot != std::string::npos) {
      frac = date.substr(dot + 1);
      date.resize(dot);
    }
    band.utc_us = parse_exif_time(date, frac);
  } else {
    band.utc_us.reset();
  }
  band.capture_id = tags.text(kXmpDji, "CaptureUUID").value_or("");
}

// Sequoia sunshine sensor: IrradianceList (base64 of 28-byte records,
// stages/filters/radiometric_sunshine.hpp) and IrradianceCalibrationMeasurement. What cannot be
// read is kept in sunshine_problem and reported only when the sun sensor is asked for.
void read_sequoia_sunshine(const ImageTags& tags, BandMetadata& band) {
  const auto list = tags.text(kXmpCamera, "IrradianceList");
  if (!list || list->empty()) {
    band.sunshine_problem = "XMP Camera:IrradianceList (the sunshine sensor readings) is missing";
    return;
  }
  const auto bytes = decode_base64(*list);
  if (!bytes) {
    band.sunshine_problem = "XMP Camera:IrradianceList is not valid base64";
    return;
  }
  auto records = sunshine_records(*bytes);
  if (!records) {
    band.sunshine_problem = "XMP Camera:IrradianceList holds " + std::to_string(bytes->size()) +
                            " bytes, not whole 28-byte records (firmware before 1.1.0 wrote "
                            "20-byte records without gain and integration time; update the "
                            "Sequoia firmware or calibrate with a panel alone)";
    return;
  }
  band.sunshine = std::move(*records);
  try {
    band.sunshine_calibration = tags.numbers(kXmpCamera, "IrradianceCalibrationMeasurement");
  } catch (const Error& e) {
    band.sunshine_problem = e.what();
  }
}

// Parrot Sequoia: SensorModel, 2-D vignetting polynomial, sunshine sensor list, fisheye.
void read_sequoia(const ImageTags& tags, BandMetadata& band, int band_hint) {
  const std::string& path = band.path;
  if (band.band_name.empty()) missing(path, "XMP Camera:BandName", "Parrot Sequoia");
  band.band_index = band_hint;
  band.sensor_model = tags.numbers(kXmpCamera, "SensorModel");
  if (band.sensor_model.size() < 3) missing(path, "XMP Camera:SensorModel", "Parrot Sequoia");
  if (!(band.exposure_s > 0)) missing(path, "EXIF ExposureTime", "Parrot Sequoia");
  if (!(band.iso > 0)) missing(path, "EXIF ISOSpeedRatings", "Parrot Sequoia");
  band.gain = band.iso;
  for (double e : tags.numbers(kXmpCamera, "VignettingPolynomial2DName"))
    band.vignetting_exponents.push_back(int(e));
  band.vignetting_coefficients = tags.numbers(kXmpCamera, "VignettingPolynomial2D");
  read_sequoia_sunshine(tags, band);
  band.fisheye_polynomial = tags.numbers(kXmpCamera, "FisheyePolynomial");
  band.fisheye_affine = tags.numbers(kXmpCamera, "FisheyeAffineMatrix");
  band.principal_point_mm = tags.numbers(kXmpCamera, "PrincipalPoint");
  band.focal_length_mm = tags.exif_number("Exif.Photo.FocalLength").value_or(kNoValue);
  band.capture_id = tags.text(kXmpCamera, "CaptureUUID").value_or("");
  const auto yaw = tags.number(kXmpCamera, "Yaw");
  const auto pitch = tags.number(kXmpCamera, "Pitch");
  const auto roll = tags.number(kXmpCamera, "Roll");
  if (yaw && pitch && roll) band.camera_ypr_deg = std::array<double, 3>{*yaw, *pitch - 90.0, *roll};
}

}  // namespace

std::string camera_family_name(CameraFamily family) {
  switch (family) {
    case CameraFamily::micasense:
      return "MicaSense";
    case CameraFamily::dji_p4m:
      return "DJI P4 Multispectral";
    case CameraFamily::dji_m3m:
      return "DJI Mavic 3 Multispectral";
    case CameraFamily::sequoia:
      return "Parrot Sequoia";
  }
  return "?";
}

bool BandMetadata::is_thermal() const {
  return lower(band_name) == "lwir";
}

bool BandMetadata::has_fisheye() const {
  return (fisheye_polynomial.size() == 4 || fisheye_polynomial.size() == 5) &&
         fisheye_affine.size() == 4 && principal_point_mm.size() == 2 && focal_length_mm > 0 &&
         focal_plane_px_per_mm_x > 0 && focal_plane_px_per_mm_y > 0;
}

bool BandMetadata::auto_calibration_image() const {
  return calibration_picture == 2 && panel_albedo.has_value() && panel_region.size() == 4 &&
         !panel_serial.empty();
}

std::string BandMetadata::canonical_band_name() const {
  std::string key, digits;
  for (char c : lower(band_name)) {
    if (std::isalpha(static_cast<unsigned char>(c))) key += c;
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  // RedEdge-MX Dual names its second set by wavelength ("Blue-444", "Red edge-705").
  std::string suffix = digits.empty() ? "" : "-" + digits;
  std::string base;
  if (key == "blue")
    base = "Blue";
  else if (key == "green" || key == "gre" || key == "g")
    base = "Green";
  else if (key == "red" || key == "r")
    base = "Red";
  else if (key == "rededge" || key == "reg" || key == "re")
    base = "RedEdge";
  else if (key == "nir" || key == "nearinfrared")
    base = "NIR";
  else if (key == "lwir")
    base = "LWIR";
  return base.empty() ? band_name : base + suffix;
}

std::optional<CameraFamily> family_from_file_name(const std::string& file_name, int* band_hint,
                                                  std::string* capture_stem) {
  static const std::regex micasense(R"(^(IMG_\d{4})_(\d{1,2})\.tiff?$)", std::regex::icase);
  static const std::regex p4m(R"(^(DJI_\d{3})([1-5])\.tiff?$)", std::regex::icase);
  static const std::regex m3m(R"(^(DJI_\d{14}_\d{4})_MS_(G|R|RE|NIR)\.tiff?$)", std::regex::icase);
  static const std::regex sequoia(R"(^(IMG_\d{6}_\d{6}_\d{4})_(GRE|RED|REG|NIR)\.tiff?$)",
                                  std::regex::icase);
  std::smatch m;
  int hint = -1;
  std::optional<CameraFamily> family;
  std::string stem;
  if (std::regex_match(file_name, m, micasense)) {
    family = CameraFamily::micasense;
    hint = std::stoi(m[2].str()) - 1;
    stem = m[1].str();
  } else if (std::regex_match(file_name, m, p4m)) {
    family = CameraFamily::dji_p4m;
    hint = std::stoi(m[2].str()) - 1;  // 1 Blue, 2 Green, 3 Red, 4 RedEdge, 5 NIR
    stem = m[1].str();
  } else if (std::regex_match(file_name, m, m3m)) {
    family = CameraFamily::dji_m3m;
    const std::string b = lower(m[2].str());
    hint = b == "g" ? 0 : b == "r" ? 1 : b == "re" ? 2 : 3;
    stem = m[1].str();
  } else if (std::regex_match(file_name, m, sequoia)) {
    family = CameraFamily::sequoia;
    const std::string b = lower(m[2].str());
    hint = b == "gre" ? 0 : b == "red" ? 1 : b == "reg" ? 2 : 3;
    stem = m[1].str();
  }
  if (band_hint) *band_hint = hint;
  if (capture_stem) *capture_stem = stem;
  return family;
}

std::optional<std::int64_t> parse_exif_time(const std::string& date_time,
                                            const std::string& sub_sec) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(date_time.c_str(), "%d:%d:%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6 &&
      std::sscanf(date_time.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  std::int64_t us =
      (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400LL +
       h * 3600LL + mi * 60LL + s) *
      1000000LL;
  // SubSecTime holds the digits of a decimal fraction ("200173789" = 0.200173789 s); a
  // negative one is subtracted (MicaSense RedEdge-M firmware 3.x).
  std::string digits;
  bool negative = false;
  for (char c : sub_sec) {
    if (c == '-' && digits.empty()) negative = true;
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  if (!digits.empty()) {
    const double fraction = std::strtod(("0." + digits).c_str(), nullptr);
    const auto frac_us = static_cast<std::int64_t>(std::llround(fraction * 1e6));
    us += negative ? -frac_us : frac_us;
  }
  return us;
}

std::string format_utc(std::int64_t utc_us) {
  std::int64_t seconds = utc_us >= 0 ? utc_us / 1000000 : (utc_us - 999999) / 1000000;
  const std::int64_t micro = utc_us - seconds * 1000000;
  std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  const std::int64_t sod = seconds - days * 86400;
  int y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d,
                int(sod / 3600), int(sod % 3600 / 60), int(sod % 60), int(micro));
  return buffer;
}

BandMetadata band_metadata_from_tags(const ImageTags& tags, CameraFamily family, int band_hint,
                                     const std::string& capture_stem) {
  BandMetadata band;
  band.path = tags.path();
  band.family = family;
  read_common_exif(tags, band);
  // The file name says which family; P4M and M3M share a maker, so check the model too.
  switch (family) {
    case CameraFamily::micasense:
      read_micasense(tags, band);
      break;
    case CameraFamily::dji_p4m:
    case CameraFamily::dji_m3m:
      read_dji(tags, band, band_hint);
      band.capture_key = camera_family_name(family) + ":" + capture_stem;
      break;
    case CameraFamily::sequoia:
      read_sequoia(tags, band, band_hint);
      band.capture_key = "sequoia:" + capture_stem;
      break;
  }
  if (family != CameraFamily::micasense) {
    if (band.capture_id.empty()) band.capture_id = capture_stem;
  }
  return band;
}

BandMetadata read_band_metadata(const std::string& path) {
  int hint = -1;
  std::string stem;
  const std::string name = std::filesystem::path(path).filename().string();
  auto family = family_from_file_name(name, &hint, &stem);
  const ImageTags tags = ImageTags::read(path);
  if (!family) {
    // A renamed file: decide by the maker.
    const std::string make = lower(tags.exif_text("Exif.Image.Make").value_or(""));
    if (make.find("micasense") != std::string::npos)
      family = CameraFamily::micasense;
    else if (make.find("parrot") != std::string::npos)
      family = CameraFamily::sequoia;
    else if (make.find("dji") != std::string::npos) {
      family =
          tags.has(kXmpDji, "CalibratedHMatrix") ? CameraFamily::dji_m3m : CameraFamily::dji_p4m;
    } else {
      throw StageError(
          path + ": not a known multispectral band file (maker '" +
          tags.exif_text("Exif.Image.Make").value_or("") +
          "'); expected MicaSense IMG_####_N.tif, DJI DJI_XXXY.TIF / DJI_..._MS_*.TIF or Sequoia "
          "IMG_..._{GRE,RED,REG,NIR}.TIF");
    }
    stem = std::filesystem::path(path).stem().string();
  }
  return band_metadata_from_tags(tags, *family, hint, stem);
}

const BandMetadata& Capture::reference_band() const {
  return bands.front();
}

bool Capture::is_panel_capture() const {
  return std::any_of(bands.begin(), bands.end(),
                     [](const BandMetadata& b) { return b.auto_calibration_image(); });
}

namespace {

// Bands a known rig has, or 0 when the model does not tell (RedEdge-M is 5 or 10 bands).
std::size_t known_band_count(const BandMetadata& band) {
  switch (band.family) {
    case CameraFamily::dji_p4m:
      return 5;
    case CameraFamily::dji_m3m:
      return 4;
    case CameraFamily::sequoia:
      return 4;
    case CameraFamily::micasense:
      if (band.model == "RedEdge") return 5;
      if (band.model == "Altum") return 6;
      return 0;
  }
  return 0;
}

std::string list_indices(const std::set<int>& indices) {
  std::string out;
  for (int i : indices) out += (out.empty() ? "" : ", ") + std::to_string(i + 1);
  return out;
}

}  // namespace

FlightScan group_captures(std::vector<BandMetadata> bands) {
  FlightScan scan;
  std::map<std::string, std::vector<BandMetadata>> by_key;
  std::map<std::string, std::set<int>> rig_bands;  // family+model -> band indices seen
  for (auto& band : bands) {
    rig_bands[camera_family_name(band.family) + "/" + band.model].insert(band.band_index);
    by_key[band.capture_key].push_back(std::move(band));
  }
  for (auto& [key, members] : by_key) {
    std::sort(members.begin(), members.end(), [](const BandMetadata& a, const BandMetadata& b) {
      return a.band_index < b.band_index;
    });
    const BandMetadata& first = members.front();
    const std::string where = "capture " + first.capture_id + " (" +
                              std::filesystem::path(first.path).parent_path().string() + ")";
    std::string problem;
    std::set<int> present;
    for (const auto& band : members) {
      if (band.family != first.family || band.model != first.model) {
        problem = where + ": mixes cameras (" + first.model + " and " + band.model +
                  "); one capture comes from one rig";
        break;
      }
      if (!present.insert(band.band_index).second) {
        problem = where + ": band " + std::to_string(band.band_index + 1) + " appears twice (" +
                  band.path + "); keep one copy of each band file";
        break;
      }
    }
    if (problem.empty()) {
      std::set<int> expected = rig_bands[camera_family_name(first.family) + "/" + first.model];
      const std::size_t count = known_band_count(first);
      for (int i = 0; i < static_cast<int>(count); ++i) expected.insert(i);
      std::set<int> absent;
      for (int i : expected) {
        if (!present.count(i)) absent.insert(i);
      }
      if (!absent.empty()) {
        problem = where + ": incomplete, band(s) " + list_indices(absent) + " of the " +
                  first.model + " rig are missing (" + std::to_string(members.size()) + " of " +
                  std::to_string(expected.size()) +
                  " files); copy the whole capture or leave it out";
      }
    }
    if (!problem.empty()) {
      scan.problems.push_back(problem);
      continue;
    }
    Capture capture;
    capture.family = first.family;
    capture.model = first.model;
    capture.id = first.capture_id;
    capture.bands = std::move(members);
    scan.captures.push_back(std::move(capture));
  }
  std::stable_sort(scan.captures.begin(), scan.captures.end(),
                   [](const Capture& a, const Capture& b) {
                     const auto ta = a.reference_band().utc_us.value_or(0),
                                tb = b.reference_band().utc_us.value_or(0);
                     if (ta != tb) return ta < tb;
                     return a.reference_band().path < b.reference_band().path;
                   });
  // Output names must be unique: file stems repeat across DJI/Parrot folders.
  std::map<std::string, int> seen;
  for (auto& capture : scan.captures) {
    const int n = seen[capture.id]++;
    if (n > 0) capture.id += "-" + std::to_string(n + 1);
  }
  return scan;
}

FlightScan scan_flight_folder(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    throw ConfigError(directory +
                      ": not a folder; give the flight folder that holds the camera's band files");
  }
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(
           directory, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file()) continue;
    if (family_from_file_name(it->path().filename().string())) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<BandMetadata> bands;
  std::vector<std::string> unreadable;
  for (const auto& path : paths) {
    try {
      bands.push_back(read_band_metadata(path));
    } catch (const Error& e) {
      unreadable.push_back(e.what());
    }
  }
  FlightScan scan = group_captures(std::move(bands));
  scan.files_seen = paths.size();
  scan.problems.insert(scan.problems.begin(), unreadable.begin(), unreadable.end());
  return scan;
}

Capture capture_from_files(const std::vector<std::string>& paths) {
  std::vector<BandMetadata> bands;
  for (const auto& path : paths) bands.push_back(read_band_metadata(path));
  if (bands.empty())
    throw ConfigError("capture: no files given; give the band files of one capture");
  std::set<std::string> keys;
  for (const auto& b : bands) keys.insert(b.capture_key);
  if (keys.size() > 1) {
    std::string ids;
    for (const auto& b : bands) ids += (ids.empty() ? "" : ", ") + b.capture_id;
    throw StageError("capture from " + std::to_string(paths.size()) +
                     " files: the files belong to different captures (" + ids +
                     "); give the band files of one capture");
  }
  FlightScan scan = group_captures(std::move(bands));
  if (scan.captures.size() != 1) {
    throw StageError(scan.problems.empty() ? "capture: not one capture" : scan.problems.front());
  }
  return std::move(scan.captures.front());
}

}  // namespace fieldrx
