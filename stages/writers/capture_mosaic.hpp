// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers (captures): a quick mosaic by direct georeferencing. Each aligned reflectance
// capture is projected onto a flat ground plane from its GPS position, height above ground
// and attitude (camera -> local UTM zone through PROJ/OGR), and the mosaic keeps, per cell,
// the capture whose camera was closest to straight above it (nadir-most first).
//   Height above ground: DJI RelativeAltitude; else GPS altitude minus `ground_elevation_m`
//   (default: the lowest capture altitude of the flight, i.e. the take-off/landing frames).
//   Attitude: DJI gimbal yaw/pitch/roll; MicaSense Camera:Yaw/Pitch/Roll; else the DLS pose
//   (platform yaw/pitch/roll, camera assumed fixed looking down).
//   Accuracy limits (docs/captures.md): metres, not centimetres — GPS (2-5 m without RTK),
//   attitude (1 deg at 100 m = 1.7 m), flat-ground assumption, no seamline blending, no
//   terrain or BRDF correction. Good to look at a flight the same day; a sprayer map should
//   come from a photogrammetric orthomosaic.
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stages/filters/radiometric_capture.hpp"
#include "stages/readers/capture_metadata.hpp"

namespace fieldrx {

struct MosaicFrame {
  std::string path;  // the capture's reflectance GeoTIFF
  std::string capture_id;
  std::vector<std::string> band_names;      // reflectance bands
  bool has_lwir = false;                    // the file's last band is lwir_celsius
  cv::Matx33d camera = cv::Matx33d::eye();  // undistorted camera matrix of the frame
  cv::Size size;
  double latitude_deg = 0, longitude_deg = 0, altitude_m = 0;
  double height_above_ground_m =
      std::numeric_limits<double>::quiet_NaN();  // when the camera knows it
  // Camera optical axis attitude: yaw clockwise from north (deg), tilt from nadir forward (deg),
  // roll about the forward axis (deg, positive = towards the right).
  double yaw_deg = 0, tilt_deg = 0, roll_deg = 0;
  bool attitude_known = false;
};

MosaicFrame mosaic_frame(const Capture& capture, const CalibratedCapture& calibrated,
                         const std::string& path);

// Ground corners (E, N in the UTM zone `epsg`) of a frame at `height_m` above flat ground,
// given the camera centre (E, N). Pure geometry, exposed for tests.
std::vector<cv::Point2d> frame_ground_corners(const MosaicFrame& frame, double east, double north,
                                              double height_m);

// Builds OUTDIR/mosaic.tif (COG, Float32, NaN nodata, band descriptions). `gsd_m` 0: the
// median ground sample distance of the frames. A cell takes the nadir-most frame whose
// reflectance bands all hold a value there; frames with a thermal band add `lwir_celsius` (degC)
// as the last band, NaN where that frame's thermal camera does not see.
void build_quick_mosaic(const std::vector<MosaicFrame>& frames, const std::string& path,
                        double gsd_m, std::optional<double> ground_elevation_m = std::nullopt);

}  // namespace fieldrx
