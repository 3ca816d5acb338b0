// SPDX-License-Identifier: Apache-2.0
#pragma once
// Parrot Sequoia sunshine sensor kernels: pure functions on the decoded XMP values (no metadata
// parsing, no errors thrown: what cannot be computed is NaN / nullopt, and the caller says why).
//   IrradianceList (XMP Camera:IrradianceList) is base64 of 28-byte little-endian records
//     u64 timestamp (us), u16 CH0 (count), u16 CH1 (count), u16 gain index,
//     u16 integration time (ms), f32 yaw, f32 pitch, f32 roll
//   (Parrot developer forum, "Details of Irradiance List tag for Sunshine sensor in exif data
//   of Sequoia", thread 5261: the record layout and Parrot's answers; S. McLeod's decoder there;
//   firmware before 1.1.0 wrote 20-byte records without gain and integration time). The list
//   holds the readings (about 5 Hz) since the previous image up to this capture.
//   Parrot (same thread): "the Sunshine sensor behaves like a linear irradiance sensor with no
//   black level: count ~ gain(gain_index, reference_gain) * exposure * irradiance"; the list
//   holds a gain *index*; the gain itself varies from unit to unit and is estimated from
//   IrradianceCalibrationMeasurement, rows of (gain index, integration time ms, CH0, CH1)
//   measured under one light: choose a reference gain (gain index 1) and take count ratios.
//   OpenDroneMap opendm/photo.py get_sun_sensor_sequoia() does the same (counts normalised to
//   600 ms and to gain index 1).
//   So, relative irradiance  S = CH0 / (g(gain index) * t_ms),
//     g(i) = (CH0_cal(i) / t_cal(i)) / (CH0_cal(1) / t_cal(1)),
//   in "CH0 counts per ms at gain index 1": proportional to irradiance with an arbitrary,
//   per-band, per-unit scale (Parrot: "units are homogeneous to SI units, but have an arbitrary
//   scaling factor"). It is meaningful only as a ratio between two readings of the same band.
//   Which reading belongs to a capture: the one nearest the capture time. The published
//   decoders (Yu-Hsuan Tu's Parrot_Sequoia_Image_Handler, R. Fenger-Nielsen's sequoia utilities)
//   compare the record timestamps with the capture's time of day in microseconds; when no
//   record lies within kSunshineClockToleranceUs of it the timestamps are on another clock, and
//   the latest reading (the one taken closest before the exposure) is used. ODM averages the
//   last three readings instead; fieldrx keeps one reading so the panel and the flight capture
//   are compared at their own instants.
#include <cstdint>
#include <optional>
#include <vector>

namespace fieldrx {

struct SunshineRecord {
  std::uint64_t timestamp_us = 0;
  std::uint16_t ch0 = 0, ch1 = 0;
  std::uint16_t gain_index = 0;
  std::uint16_t integration_ms = 0;
  float yaw = 0, pitch = 0, roll = 0;  // as recorded (the sensor's pose)
};

inline constexpr std::size_t kSunshineRecordBytes = 28;
inline constexpr std::uint16_t kSunshineSaturated = 65535;
inline constexpr std::int64_t kSunshineClockToleranceUs = 10'000'000;

// Records of a decoded IrradianceList; nullopt when the bytes are not a whole, non-zero number
// of 28-byte records.
std::optional<std::vector<SunshineRecord>> sunshine_records(const std::vector<std::uint8_t>& bytes);
// The inverse (28 little-endian bytes per record), for writing test captures.
std::vector<std::uint8_t> sunshine_bytes(const std::vector<SunshineRecord>& records);

// Effective gain per gain index (vector index = gain index) relative to the reference gain,
// from IrradianceCalibrationMeasurement (flat rows of gain index, integration ms, CH0, CH1).
// The reference is gain index 1 (Parrot's example), else the lowest usable index. A gain index
// whose row is missing, saturated (CH0 65535), zero or malformed gets NaN; all NaN (or empty)
// when no row is usable.
std::vector<double> sunshine_gains(const std::vector<double>& calibration_rows);

// S = CH0 / (g * t_ms) of one reading; NaN when its gain is unknown, its integration time is 0
// or CH0 is saturated.
double sunshine_irradiance(const SunshineRecord& record, const std::vector<double>& gains);

// Index of the reading that belongs to a capture taken at `capture_utc_us` (see the header);
// nullopt for an empty list. Without a capture time: the latest reading.
std::optional<std::size_t> sunshine_record_for_capture(const std::vector<SunshineRecord>& records,
                                                       std::optional<std::int64_t> capture_utc_us);

}  // namespace fieldrx
