// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/capture_mosaic.hpp"

#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"
#include "stages/writers/capture_mosaic_writer.hpp"

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180;
constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

// Camera -> (E, N, U) rotation: columns are the camera's x (image right), y (image down) and
// z (optical axis) in ENU.
cv::Matx33d camera_to_enu(const MosaicFrame& f) {
  const double yaw = f.yaw_deg * kDeg;
  const cv::Vec3d forward(std::sin(yaw), std::cos(yaw), 0), right(std::cos(yaw), -std::sin(yaw), 0),
      down(0, 0, -1);
  // Nadir camera with the image top towards the heading.
  cv::Matx33d r(right[0], -forward[0], down[0], right[1], -forward[1], down[1], right[2],
                -forward[2], down[2]);
  // Tilt forward about the right axis, then roll about the forward axis (Rodrigues).
  auto rotate = [](const cv::Vec3d& axis, double angle) {
    cv::Mat rm;
    cv::Rodrigues(cv::Mat(axis * angle), rm);
    return cv::Matx33d(rm);
  };
  // Right-handed ENU: turning "down" about `right` by +t moves it towards `forward`; about
  // `forward` by +r moves it towards -right. Tilt forward is +t, roll to the right is -r.
  r = rotate(right, f.tilt_deg * kDeg) * r;
  r = rotate(forward, -f.roll_deg * kDeg) * r;
  return r;
}

}  // namespace

MosaicFrame mosaic_frame(const Capture& capture, const CalibratedCapture& calibrated,
                         const std::string& path) {
  const BandMetadata& ref = capture.bands[calibrated.reference_band];
  MosaicFrame f;
  f.path = path;
  f.capture_id = capture.id;
  f.band_names = calibrated.band_names;
  f.has_lwir = !calibrated.lwir_celsius.empty();
  f.camera = calibrated.reference_camera;
  f.size = cv::Size(ref.width, ref.height);
  f.latitude_deg = ref.latitude_deg;
  f.longitude_deg = ref.longitude_deg;
  f.altitude_m = ref.altitude_m;
  f.height_above_ground_m = ref.relative_altitude_m;
  if (ref.camera_ypr_deg) {
    // DJI gimbal convention: pitch -90 looks straight down.
    f.yaw_deg = (*ref.camera_ypr_deg)[0];
    f.tilt_deg = (*ref.camera_ypr_deg)[1] + 90.0;
    f.roll_deg = (*ref.camera_ypr_deg)[2];
    f.attitude_known = true;
  } else if (ref.body_ypr_rad) {
    // Platform pose (NED): nose up tilts a fixed down-looking camera backwards; right wing
    // down turns it to the left.
    f.yaw_deg = (*ref.body_ypr_rad)[0] / kDeg;
    f.tilt_deg = -(*ref.body_ypr_rad)[1] / kDeg;
    f.roll_deg = -(*ref.body_ypr_rad)[2] / kDeg;
    f.attitude_known = true;
  }
  return f;
}

std::vector<cv::Point2d> frame_ground_corners(const MosaicFrame& f, double east, double north,
                                              double height_m) {
  const cv::Matx33d r = camera_to_enu(f);
  const cv::Matx33d k_inv = f.camera.inv();
  std::vector<cv::Point2d> out;
  for (const cv::Point2d& p :
       {cv::Point2d(0, 0), cv::Point2d(f.size.width, 0), cv::Point2d(f.size.width, f.size.height),
        cv::Point2d(0, f.size.height)}) {
    const cv::Vec3d d = r * (k_inv * cv::Vec3d(p.x, p.y, 1));
    if (!(d[2] < -1e-6)) {
      throw StageError("capture " + f.capture_id + ": the camera looks above the horizon (tilt " +
                       std::to_string(f.tilt_deg) +
                       " deg); leave such frames out of a quick mosaic");
    }
    const double t = height_m / -d[2];
    out.emplace_back(east + t * d[0], north + t * d[1]);
  }
  return out;
}

void build_quick_mosaic(const std::vector<MosaicFrame>& frames, const std::string& path,
                        double gsd_m, std::optional<double> ground_elevation_m) {
  if (frames.empty()) throw StageError(path + ": no calibrated capture to mosaic");
  configure_gdal(gdal_cache_for_budget(256LL << 20));
  // Local UTM zone of the flight (from the first frame).
  const MosaicFrame& first = frames.front();
  const int zone =
      std::clamp(static_cast<int>(std::floor((first.longitude_deg + 180.0) / 6.0)) + 1, 1, 60);
  const int epsg = (first.latitude_deg >= 0 ? 32600 : 32700) + zone;
  OGRSpatialReference wgs84, utm;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  utm.importFromEPSG(epsg);
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_utm(
      OGRCreateCoordinateTransformation(&wgs84, &utm));
  if (!to_utm)
    throw IoError(path + ": PROJ cannot transform WGS84 to EPSG:" + std::to_string(epsg));

  double ground = 0;
  if (ground_elevation_m) {
    ground = *ground_elevation_m;
  } else {
    ground = std::numeric_limits<double>::infinity();
    for (const auto& f : frames) ground = std::min(ground, f.altitude_m);
  }
  struct Placed {
    const MosaicFrame* frame;
    double e, n, height;
    std::vector<cv::Point2d> corners;
  };
  std::vector<Placed> placed;
  std::vector<double> gsds;
  bool warned_attitude = false;
  for (const auto& f : frames) {
    double e = f.longitude_deg, n = f.latitude_deg;
    if (!std::isfinite(e) || !std::isfinite(n) || !to_utm->Transform(1, &e, &n)) {
      log_warning("mosaic: capture " + f.capture_id + " has no GPS position; left out");
      continue;
    }
    const double height =
        std::isfinite(f.height_above_ground_m) ? f.height_above_ground_m : f.altitude_m - ground;
    if (!(height > 2.0)) {
      log_warning("mosaic: capture " + f.capture_id + " is " + std::to_string(height) +
                  " m above the assumed ground; left out (take-off, landing or panel frame)");
      continue;
    }
    if (!f.attitude_known && !warned_attitude) {
      log_warning("mosaic: no camera attitude in the metadata; frames are placed nadir, north up");
      warned_attitude = true;
    }
    placed.push_back({&f, e, n, height, frame_ground_corners(f, e, n, height)});
    gsds.push_back(height / f.camera(0, 0));
  }
  if (placed.empty()) {
    throw StageError(
        path +
        ": no capture can be placed (all are within 2 m of the assumed ground); the flight needs "
        "frames in the air and, for MicaSense, a frame on the ground to fix the ground height");
  }
  if (!(gsd_m > 0)) {
    std::nth_element(gsds.begin(), gsds.begin() + gsds.size() / 2, gsds.end());
    gsd_m = gsds[gsds.size() / 2];
  }
  double min_e = std::numeric_limits<double>::infinity(), max_e = -min_e, min_n = min_e,
         max_n = -min_e;
  for (const auto& p : placed) {
    for (const auto& c : p.corners) {
      min_e = std::min(min_e, c.x), max_e = std::max(max_e, c.x);
      min_n = std::min(min_n, c.y), max_n = std::max(max_n, c.y);
    }
  }
  const int width = static_cast<int>(std::ceil((max_e - min_e) / gsd_m));
  const int height = static_cast<int>(std::ceil((max_n - min_n) / gsd_m));
  if (width <= 0 || height <= 0 || double(width) * height > 400e6) {
    throw StageError(
        path + ": a " + std::to_string(width) + " x " + std::to_string(height) +
        " cell mosaic is too large for the quick mosaic; give a coarser --mosaic-gsd-m");
  }
  const std::vector<std::string>& names = placed.front().frame->band_names;
  const bool lwir = placed.front().frame->has_lwir;
  std::vector<cv::Mat> bands(names.size() + (lwir ? 1 : 0));
  for (auto& b : bands) b = cv::Mat(height, width, CV_32F, cv::Scalar(kNaNf));
  cv::Mat best(height, width, CV_32F, cv::Scalar(std::numeric_limits<float>::infinity()));

  for (const auto& p : placed) {
    const MosaicFrame& f = *p.frame;
    if (f.band_names != names || f.has_lwir != lwir) {
      log_warning("mosaic: capture " + f.capture_id + " has other bands than the first; left out");
      continue;
    }
    // Grid cell (col, row) of this frame's box -> image pixel.
    double fe0 = std::numeric_limits<double>::infinity(), fe1 = -fe0, fn0 = fe0, fn1 = -fe0;
    for (const auto& c : p.corners)
      fe0 = std::min(fe0, c.x), fe1 = std::max(fe1, c.x), fn0 = std::min(fn0, c.y),
      fn1 = std::max(fn1, c.y);
    const int c0 = std::max(0, static_cast<int>((fe0 - min_e) / gsd_m)),
              c1 = std::min(width, static_cast<int>(std::ceil((fe1 - min_e) / gsd_m)));
    const int r0 = std::max(0, static_cast<int>((max_n - fn1) / gsd_m)),
              r1 = std::min(height, static_cast<int>(std::ceil((max_n - fn0) / gsd_m)));
    if (c1 <= c0 || r1 <= r0) continue;
    const std::vector<cv::Point2f> img = {{0, 0},
                                          {float(f.size.width), 0},
                                          {float(f.size.width), float(f.size.height)},
                                          {0, float(f.size.height)}};
    std::vector<cv::Point2f> cells;
    for (const auto& c : p.corners)
      cells.emplace_back(float((c.x - min_e) / gsd_m - 0.5 - c0),
                         float((max_n - c.y) / gsd_m - 0.5 - r0));
    const cv::Mat cell_to_image = cv::getPerspectiveTransform(cells, img);
    DatasetPtr ds = open_raster(f.path);
    const cv::Size box(c1 - c0, r1 - r0);
    cv::Mat distance(box, CV_32F);
    for (int r = 0; r < box.height; ++r) {
      float* d = distance.ptr<float>(r);
      const double north = max_n - (r0 + r + 0.5) * gsd_m;
      for (int c = 0; c < box.width; ++c)
        d[c] = static_cast<float>(std::hypot(min_e + (c0 + c + 0.5) * gsd_m - p.e, north - p.n));
    }
    std::vector<cv::Mat> warped(bands.size());
    for (std::size_t b = 0; b < bands.size(); ++b) {
      cv::Mat frame(f.size, CV_32F);
      check_gdal(ds->GetRasterBand(static_cast<int>(b) + 1)
                     ->RasterIO(GF_Read, 0, 0, frame.cols, frame.rows, frame.data, frame.cols,
                                frame.rows, GDT_Float32, 0, 0),
                 f.path + ": reading for the mosaic");
      cv::warpPerspective(frame, warped[b], cell_to_image, box,
                          cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                          cv::Scalar(kNaNf));
    }
    for (int r = 0; r < box.height; ++r) {
      for (int c = 0; c < box.width; ++c) {
        const float d = distance.at<float>(r, c);
        float& b = best.at<float>(r0 + r, c0 + c);
        if (!(d < b)) continue;
        bool valid = true;
        for (std::size_t k = 0; k < names.size(); ++k)
          valid = valid && std::isfinite(warped[k].at<float>(r, c));
        if (!valid) continue;
        b = d;
        for (std::size_t k = 0; k < bands.size(); ++k)
          bands[k].at<float>(r0 + r, c0 + c) = warped[k].at<float>(r, c);
      }
    }
  }
  const double gt[6] = {min_e, gsd_m, 0, max_n, 0, -gsd_m};
  char* wkt = nullptr;
  utm.exportToWkt(&wkt);
  const std::string crs = wkt ? wkt : "";
  CPLFree(wkt);
  std::vector<std::string> descriptions = names, units(names.size(), "");
  if (lwir) {
    descriptions.emplace_back(kLwirCelsiusBand);
    units.emplace_back("degC");
  }
  write_float_stack(path, bands, descriptions,
                    {{"MOSAIC", "direct georeferencing, nadir-most capture per cell"},
                     {"GSD_M", std::to_string(gsd_m)}},
                    gt, crs, true, units);
  log_info("mosaic: " + std::to_string(placed.size()) + " captures, " + std::to_string(width) +
           " x " + std::to_string(height) + " cells of " + std::to_string(gsd_m) +
           " m, EPSG:" + std::to_string(epsg));
}

}  // namespace fieldrx
