// SPDX-License-Identifier: Apache-2.0
#pragma once
// readers (flight folders): what each raw multispectral band file says about itself, and the
// files of a flight grouped into captures (one exposure of every band of the rig).
//   Cameras: MicaSense RedEdge / RedEdge-M / RedEdge-MX (Dual) / Altum (IMG_####_N.tif),
//   DJI P4M (DJI_XXXY.TIF) and M3M (DJI_<time>_<NNNN>_MS_<band>.TIF), Parrot Sequoia
//   (IMG_<date>_<time>_<n>_{GRE,RED,REG,NIR}.TIF).
//   Values are converted once here, in the units named by the fields; camera quirks are fixed
//   here too (MicaSense 1/6329 s firmware exposure, negative SubSecTime, focal length in px
//   when PerspectiveFocalLengthUnits is missing, XMP distortion order k1,k2,k3,p1,p2).
// Grouping never guesses: files whose capture lacks a band of its rig, holds a band twice,
// or mixes cameras/ids are reported in FlightScan::problems and left out of the captures.
// Facts: docs/multispectral-cameras.md; MicaSense imageprocessing metadata.py (behaviour
// reproduced and checked against its test values in tests/stages/captures_metadata_test.cpp).
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "stages/filters/radiometric_sunshine.hpp"
#include "stages/readers/xmp_metadata.hpp"

namespace fieldrx {

enum class CameraFamily { micasense, dji_p4m, dji_m3m, sequoia };
std::string camera_family_name(CameraFamily family);

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// Band description of a thermal band written beside reflectance (degrees Celsius): a name no
// reader maps to a reflectance role.
inline constexpr const char* kLwirCelsiusBand = "lwir_celsius";

// Pinhole + Brown-Conrady model in OpenCV's conventions (pixels; distortion k1,k2,p1,p2,k3).
struct CameraIntrinsics {
  double fx = kNoValue, fy = kNoValue, cx = kNoValue, cy = kNoValue;
  std::array<double, 5> distortion{0, 0, 0, 0, 0};
  bool valid() const { return fx > 0 && fy > 0 && cx == cx && cy == cy; }
};

// A sun sensor reading (MicaSense DLS 1/2, DJI sunlight sensor), irradiance in W/m²/nm.
struct SunSensorReading {
  bool present = false;
  double spectral_irradiance = kNoValue;    // as measured by the tilted sensor, scaled to SI
  double horizontal_irradiance = kNoValue;  // DLS2: on a level plane, computed by the sensor
  bool horizontal_valid = false;            // DLS2 firmware known to compute it right
  double direct_irradiance = kNoValue, scattered_irradiance = kNoValue;
  double solar_elevation_rad = kNoValue, solar_azimuth_rad = kNoValue;  // DLS2 only
  double scale_to_si = 1.0;                         // factor already applied above
  double yaw_rad = 0, pitch_rad = 0, roll_rad = 0;  // sensor pose (NED)
};

struct BandMetadata {
  std::string path;
  CameraFamily family = CameraFamily::micasense;
  std::string make, model, firmware, serial;
  std::string capture_key;  // groups the files of one capture (id, or file stem for DJI/Parrot)
  std::string capture_id;   // printable id for output names
  std::string flight_id;
  std::string band_name;  // as the camera names it ("Red edge", "RedEdge", "NIR", "LWIR")
  int band_index = -1;    // 0-based position in the rig
  double wavelength_nm = kNoValue, fwhm_nm = kNoValue;
  int width = 0, height = 0, bits = 16;

  // Time and place.
  std::optional<std::int64_t> utc_us;  // microseconds since 1970-01-01T00:00:00Z
  double latitude_deg = kNoValue, longitude_deg = kNoValue,
         altitude_m = kNoValue;           // GPS (WGS84, MSL)
  double relative_altitude_m = kNoValue;  // above take-off (DJI RelativeAltitude)
  // Camera attitude in degrees when the metadata gives it: yaw clockwise from north, pitch
  // with -90 looking straight down (DJI gimbal convention), roll.
  std::optional<std::array<double, 3>> camera_ypr_deg;
  // Pose of the platform when only the sun sensor's is known (MicaSense DLS), radians.
  std::optional<std::array<double, 3>> body_ypr_rad;

  // Radiometry shared by the cameras.
  double black_level = 0;  // DN at the bit depth of the file
  double exposure_s = kNoValue;
  double gain = 1;  // MicaSense ISO/100; DJI SensorGain
  // MicaSense.
  std::vector<double> radiometric_cal;  // a1, a2, a3
  std::vector<double> vignette_center;  // px
  std::vector<double> vignette_poly;    // k1..k6 (r^1..r^6)
  double dark_level = kNoValue;         // mean DarkRowValue
  std::vector<double> thermal_params;   // Altum ThermalCalibrationParameters
  // DJI.
  double sensor_gain_adjustment = kNoValue;
  double dji_irradiance = kNoValue;    // sunlight sensor, compensated (relative units)
  std::vector<double> dji_vignetting;  // k0..k5
  double optical_center_x = kNoValue, optical_center_y = kNoValue;  // CalibratedOpticalCenterX/Y
  std::vector<double> calibrated_hmatrix;                           // 3x3 row-major (M3M)
  double relative_optical_center_x = kNoValue, relative_optical_center_y = kNoValue;  // P4M
  // Parrot Sequoia.
  std::vector<double> sensor_model;  // A, B, C
  double f_number = kNoValue, iso = kNoValue;
  std::vector<int> vignetting_exponents;  // pairs (n_i, m_i)
  std::vector<double> vignetting_coefficients;
  // Sunshine sensor: the readings of XMP IrradianceList, the gain calibration rows of
  // IrradianceCalibrationMeasurement (gain index, integration ms, CH0, CH1, ...), and why they
  // cannot be used (empty when they can, or when the file has none). Not an error at reading
  // time: a panel calibrates without them.
  std::vector<SunshineRecord> sunshine;
  std::vector<double> sunshine_calibration;
  std::string sunshine_problem;
  std::vector<double> fisheye_polynomial, fisheye_affine;  // p0..p3(p4) ; C, D, E, F (px)
  bool rotated_180 = false;                                // EXIF Orientation 3

  SunSensorReading sun;

  // Camera geometry.
  CameraIntrinsics intrinsics;        // perspective lenses (not set for Sequoia's fisheye)
  bool has_fisheye() const;           // Sequoia: fisheye_* and principal point, focal length, px/mm
  double focal_length_mm = kNoValue;  // Sequoia: EXIF FocalLength
  double focal_plane_px_per_mm_x = kNoValue, focal_plane_px_per_mm_y = kNoValue;
  std::vector<double> distortion_xmp;  // as written: k1,k2,k3,p1,p2 (MicaSense)
  std::vector<double> principal_point_mm;

  // Rig: rotation of this band's camera relative to the reference camera, degrees (roll,
  // pitch, yaw as MicaSense writes RigRelatives), and that reference's band index.
  std::vector<double> rig_relatives_deg;
  int rig_reference_index = -1;

  // Calibration panel as detected by the camera (MicaSense auto-calibration images).
  int calibration_picture = 0;
  std::optional<double> panel_albedo;
  std::vector<std::array<int, 2>> panel_region;  // ReflectArea corners, px
  std::string panel_serial;

  bool is_thermal() const;
  // True for a MicaSense auto-calibration image: CalibrationPicture 2 with albedo, region
  // and serial (MicaSense metadata.auto_calibration_image).
  bool auto_calibration_image() const;
  // The band name normalised for output band descriptions that `fieldrx index` maps to
  // roles: Blue, Green, Red, RedEdge, NIR, LWIR; a second band of the same name in one rig
  // (RedEdge-MX Dual) gets its wavelength: "Blue-444".
  std::string canonical_band_name() const;
};

// Which camera a file name belongs to, from the name alone; nullopt for other files (the
// RGB JPEGs, thumbnails...). `band_hint` gets the band position the name encodes (-1 if none).
std::optional<CameraFamily> family_from_file_name(const std::string& file_name,
                                                  int* band_hint = nullptr,
                                                  std::string* capture_stem = nullptr);

// Typed metadata of one band file from its tags. Throws StageError naming the file and the
// missing tag when the file cannot be calibrated (no band name, no exposure...).
BandMetadata band_metadata_from_tags(const ImageTags& tags, CameraFamily family, int band_hint,
                                     const std::string& capture_stem);
BandMetadata read_band_metadata(const std::string& path);

// "2017-10-19T20:40:39.200174Z".
std::string format_utc(std::int64_t utc_us);
// EXIF "YYYY:MM:DD HH:MM:SS" plus a SubSecTime string (may be negative: subtracted; the digits
// are a decimal fraction) -> microseconds since the epoch. nullopt when unparsable.
std::optional<std::int64_t> parse_exif_time(const std::string& date_time,
                                            const std::string& sub_sec);

struct Capture {
  std::string id;  // printable, unique in the flight
  CameraFamily family = CameraFamily::micasense;
  std::string model;
  std::vector<BandMetadata> bands;             // sorted by band_index
  const BandMetadata& reference_band() const;  // the first band, for time and position
  bool is_panel_capture() const;               // any band is an auto-calibration image
};

struct FlightScan {
  std::vector<Capture> captures;      // complete and consistent captures, in time order
  std::vector<std::string> problems;  // incomplete / mixed captures and unreadable files
  std::size_t files_seen = 0;         // files whose name matched a camera pattern
};

// Groups bands into captures: by CaptureId (MicaSense) or file stem (DJI, Parrot). A capture
// must hold each band of its rig exactly once, from one camera model; the rig's bands are the
// union over the flight and, for known models, the model's band count.
FlightScan group_captures(std::vector<BandMetadata> bands);
// Reads every matching file under `directory` (recursively) and groups them.
FlightScan scan_flight_folder(const std::string& directory);
// The bands of exactly these files as one capture; throws StageError when they are not one
// complete capture (different capture ids, a band twice, mixed cameras).
Capture capture_from_files(const std::vector<std::string>& paths);

}  // namespace fieldrx
