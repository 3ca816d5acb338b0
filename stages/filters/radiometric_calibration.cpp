// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_calibration.hpp"

#include <cmath>

#include "pipeline/errors.hpp"
#include "stages/filters/radiometric_sun.hpp"
#include "stages/filters/radiometric_sunshine.hpp"

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;

MicaSenseRadiometry micasense_parameters(const BandMetadata& b) {
  MicaSenseRadiometry r;
  r.black_level = b.black_level;
  r.exposure_s = b.exposure_s;
  r.gain = b.gain;
  r.cal = {b.radiometric_cal.at(0), b.radiometric_cal.at(1), b.radiometric_cal.at(2)};
  r.bits = b.bits;
  if (b.vignette_center.size() != 2) {
    throw StageError(b.path +
                     ": XMP Camera:VignettingCenter is missing or not two numbers; a MicaSense "
                     "band file carries it");
  }
  r.vignette_cx = b.vignette_center[0];
  r.vignette_cy = b.vignette_center[1];
  r.vignette_poly = b.vignette_poly;
  return r;
}

}  // namespace

cv::Mat band_radiance(const BandMetadata& b, const cv::Mat& raw) {
  if (raw.cols != b.width || raw.rows != b.height) {
    throw StageError(b.path + ": the image is " + std::to_string(raw.cols) + "x" +
                     std::to_string(raw.rows) + " but its metadata says " +
                     std::to_string(b.width) + "x" + std::to_string(b.height) +
                     "; give the camera's original files");
  }
  switch (b.family) {
    case CameraFamily::micasense:
      if (b.is_thermal()) return thermal_celsius(raw);
      return micasense_radiance(raw, micasense_parameters(b));
    case CameraFamily::dji_p4m:
    case CameraFamily::dji_m3m: {
      DjiRadiometry r;
      r.black_level = b.black_level;
      r.sensor_gain = b.gain;
      r.exposure_s = b.exposure_s;
      r.bits = b.bits;
      r.vignetting = b.dji_vignetting;
      if (!r.vignetting.empty()) {
        if (!(b.optical_center_x == b.optical_center_x)) {
          throw StageError(
              b.path +
              ": drone-dji:VignettingData is given without CalibratedOpticalCenterX/Y; "
              "the vignetting centre is needed to correct it");
        }
        r.center_x = b.optical_center_x;
        r.center_y = b.optical_center_y;
      }
      return dji_signal(raw, r);
    }
    case CameraFamily::sequoia: {
      SequoiaRadiometry r;
      r.a = b.sensor_model.at(0);
      r.b = b.sensor_model.at(1);
      r.c = b.sensor_model.at(2);
      r.f_number = b.f_number;
      r.exposure_s = b.exposure_s;
      r.iso = b.iso;
      r.exponents = b.vignetting_exponents;
      r.coefficients = b.vignetting_coefficients;
      if (r.coefficients.empty()) {
        throw StageError(
            b.path +
            ": XMP Camera:VignettingPolynomial2D is missing; a Sequoia band file carries it");
      }
      cv::Mat out = sequoia_irradiance(raw, r);
      if (b.rotated_180) cv::flip(out, out, -1);
      return out;
    }
  }
  throw StageError(b.path + ": unknown camera family");
}

bool band_has_lens_model(const BandMetadata& b) {
  return b.intrinsics.valid() || (b.family == CameraFamily::sequoia && b.has_fisheye());
}

cv::Matx33d band_camera_matrix(const BandMetadata& b) {
  if (b.family == CameraFamily::sequoia && b.has_fisheye()) {
    // SeqUDR / ODM: f = FocalLength (mm) x FocalPlaneResolution (px/mm), c = PrincipalPoint (mm)
    // x FocalPlaneResolution.
    const double rx = b.focal_plane_px_per_mm_x, ry = b.focal_plane_px_per_mm_y;
    return camera_matrix(b.focal_length_mm * rx, b.focal_length_mm * ry,
                         b.principal_point_mm[0] * rx, b.principal_point_mm[1] * ry);
  }
  const auto& k = b.intrinsics;
  if (!k.valid()) {
    throw StageError(
        b.path +
        ": the lens model (focal length, principal point) is missing from the metadata; "
        "undistortion and alignment need it (run with --no-align to keep the raw geometry)");
  }
  return camera_matrix(k.fx, k.fy, k.cx, k.cy);
}

FisheyeLens band_fisheye_lens(const BandMetadata& b) {
  if (!b.has_fisheye()) {
    throw StageError(b.path +
                     ": the fisheye model is incomplete (XMP Camera:FisheyePolynomial, "
                     "FisheyeAffineMatrix, PrincipalPoint, EXIF FocalLength and "
                     "FocalPlaneX/YResolution); a Sequoia band file carries them all");
  }
  FisheyeLens lens;
  for (std::size_t i = 0; i < b.fisheye_polynomial.size(); ++i) lens.p[i] = b.fisheye_polynomial[i];
  const auto& a = b.fisheye_affine;
  lens.affine = cv::Matx22d(a[0], a[1], a[2], a[3]);
  if (!(std::fabs(lens.affine(0, 0) * lens.affine(1, 1) - lens.affine(0, 1) * lens.affine(1, 0)) >
        0)) {
    throw StageError(b.path +
                     ": XMP Camera:FisheyeAffineMatrix is singular; expected C, D, E, F "
                     "with C and F about the lens's radius in px (e.g. 1558, 0, 0, 1558)");
  }
  lens.center = {b.principal_point_mm[0] * b.focal_plane_px_per_mm_x,
                 b.principal_point_mm[1] * b.focal_plane_px_per_mm_y};
  return lens;
}

UndistortMaps band_undistort_maps(const BandMetadata& b) {
  const cv::Size size(b.width, b.height);
  if (b.family == CameraFamily::sequoia) {
    const UndistortMaps maps =
        fisheye_undistort_maps(band_fisheye_lens(b), band_camera_matrix(b), size);
    return b.rotated_180 ? rotate_maps_180(maps, size) : maps;
  }
  return undistort_maps(band_camera_matrix(b), b.intrinsics.distortion, size);
}

cv::Matx33d band_undistorted_camera(const BandMetadata& b) {
  if (b.family == CameraFamily::sequoia) {
    cv::Matx33d k = band_camera_matrix(b);
    if (b.rotated_180) {
      k(0, 2) = b.width - 1 - k(0, 2);
      k(1, 2) = b.height - 1 - k(1, 2);
    }
    return k;
  }
  return undistorted_camera_matrix(band_camera_matrix(b), b.intrinsics.distortion,
                                   {b.width, b.height});
}

bool sun_sensor_is_absolute(const BandMetadata& b) {
  return b.family == CameraFamily::micasense;
}

bool sun_sensor_usable_without_panel(const BandMetadata& b) {
  return b.family != CameraFamily::sequoia;
}

namespace {

// Sequoia: the reading nearest the capture, S = CH0 / (gain * t).
double sequoia_sunshine(const BandMetadata& b) {
  const std::string fix = "; calibrate with a panel alone (--panel without --sun-sensor)";
  if (!b.sunshine_problem.empty()) throw StageError(b.path + ": " + b.sunshine_problem + fix);
  if (b.sunshine.empty())
    throw StageError(b.path + ": no sunshine sensor reading (XMP Camera:IrradianceList)" + fix);
  const std::vector<double> gains = sunshine_gains(b.sunshine_calibration);
  const std::size_t i = *sunshine_record_for_capture(b.sunshine, b.utc_us);
  const SunshineRecord& r = b.sunshine[i];
  const double s = sunshine_irradiance(r, gains);
  if (!(s > 0)) {
    std::string why;
    if (r.ch0 >= kSunshineSaturated)
      why = "CH0 is saturated (65535)";
    else if (r.ch0 == 0)
      why = "CH0 is 0 (a covered or dark sensor)";
    else if (r.integration_ms == 0)
      why = "its integration time is 0 ms";
    else
      why = "gain index " + std::to_string(r.gain_index) +
            " has no usable row in XMP Camera:IrradianceCalibrationMeasurement (missing or "
            "saturated), so its gain is unknown";
    throw StageError(b.path + ": the sunshine sensor reading " + std::to_string(i + 1) + " of " +
                     std::to_string(b.sunshine.size()) + " cannot be used: " + why + fix);
  }
  return s;
}

}  // namespace

double sun_sensor_irradiance(const BandMetadata& b) {
  const SunSensorReading& s = b.sun;
  if (b.family == CameraFamily::sequoia) return sequoia_sunshine(b);
  if (b.family == CameraFamily::dji_p4m || b.family == CameraFamily::dji_m3m) {
    if (!(b.dji_irradiance > 0)) {
      throw StageError(
          b.path +
          ": no sunlight-sensor reading (drone-dji:Irradiance); calibrate with a panel (--panel)");
    }
    const double adjustment = b.sensor_gain_adjustment > 0 ? b.sensor_gain_adjustment : 1.0;
    return kPi * b.dji_irradiance / adjustment;
  }
  if (b.family != CameraFamily::micasense || !s.present) {
    throw StageError(
        b.path + ": no usable sun-sensor reading for " + camera_family_name(b.family) +
        "; calibrate with a reflectance panel (--panel CAPTURE_DIR or --panel-albedo)");
  }
  if (s.horizontal_valid && s.horizontal_irradiance > 0) return s.horizontal_irradiance;
  if (s.direct_irradiance > 0 && s.scattered_irradiance > 0) {
    // DLS2 with a firmware that got HorizontalIrradiance wrong: recompute it from the direct
    // and scattered parts with the sun's elevation (MicaSense compute_horizontal_irradiance_dls2).
    if (!b.utc_us || !(b.latitude_deg == b.latitude_deg)) {
      throw StageError(b.path +
                       ": DLS2 irradiance needs the capture time and GPS position to correct it");
    }
    const SolarPosition sun = solar_position(b.latitude_deg, b.longitude_deg, *b.utc_us);
    return s.direct_irradiance * std::sin(sun.elevation_rad) + s.scattered_irradiance;
  }
  if (!(s.spectral_irradiance > 0)) {
    throw StageError(
        b.path + ": the sun sensor's SpectralIrradiance is missing or 0; calibrate with a panel");
  }
  if (!b.utc_us || !(b.latitude_deg == b.latitude_deg)) {
    throw StageError(
        b.path +
        ": the DLS angle correction needs the capture time and GPS position, which are missing");
  }
  return dls1_horizontal_irradiance(s.spectral_irradiance, s.yaw_rad, s.pitch_rad, s.roll_rad,
                                    b.latitude_deg, b.longitude_deg, *b.utc_us)
      .horizontal;
}

PanelMeasurement measure_panel(const BandMetadata& b, const cv::Mat& raw,
                               const std::optional<std::vector<cv::Point>>& corners,
                               std::optional<double> albedo) {
  if (b.is_thermal()) throw StageError(b.path + ": a thermal band has no reflectance panel");
  PanelMeasurement m;
  const UndistortMaps maps = band_undistort_maps(b);
  const cv::Mat radiance = undistort(band_radiance(b, raw), maps);
  cv::Mat upright = raw;  // in band_radiance's frame, which the maps start from
  if (b.family == CameraFamily::sequoia && b.rotated_180) cv::flip(raw, upright, -1);
  const cv::Mat raw_undistorted = undistort(upright, maps);
  if (corners) {
    m.corners = *corners;
    m.source = "given";
  } else if (b.auto_calibration_image()) {
    for (const auto& p : b.panel_region) m.corners.emplace_back(p[0], p[1]);
    m.source = "metadata";
  } else {
    PanelDetection detection = detect_micasense_panel(radiance, upright);
    if (!detection.found) {
      throw StageError(
          b.path +
          ": no reflectance panel found (no readable MicaSense panel QR code); give the "
          "panel corners or use a capture where the whole panel and its QR code are in view");
    }
    m.corners = detection.panel_corners;
    m.source = "detected";
    if (!albedo && !b.panel_albedo) {
      albedo = panel_albedo_from_serial(detection.serial, b.wavelength_nm);
      if (albedo) m.albedo_source = "serial";
    }
  }
  if (albedo) {
    m.albedo = *albedo;
    if (m.albedo_source.empty()) m.albedo_source = "given";
  } else if (b.panel_albedo) {
    m.albedo = *b.panel_albedo;
    m.albedo_source = "metadata";
  }
  m.raw = region_stats(raw_undistorted, m.corners, 65000);
  m.radiance = region_stats(radiance, m.corners);
  if (m.raw.count < 100) {
    throw StageError(b.path + ": the panel area holds only " + std::to_string(m.raw.count) +
                     " pixels; give corners around the panel's active area");
  }
  if (m.raw.saturated > m.raw.count / 100) {
    throw StageError(b.path + ": " + std::to_string(m.raw.saturated) + " of " +
                     std::to_string(m.raw.count) +
                     " panel pixels are saturated; the panel irradiance would be too low. Use a "
                     "panel capture with a "
                     "shorter exposure");
  }
  if (m.albedo > 0) m.irradiance = irradiance_from_panel(m.radiance.mean, m.albedo);
  return m;
}

}  // namespace fieldrx
