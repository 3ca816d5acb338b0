// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_sunshine.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace fieldrx {
namespace {

static_assert(std::numeric_limits<float>::is_iec559, "IrradianceList floats are IEEE 754");

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kDayUs = 86'400'000'000;

// Little-endian unsigned integer of `bytes` bytes at p (the file's byte order, whatever ours is).
std::uint64_t read_le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void write_le(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

float read_float(const std::uint8_t* p) {
  const auto bits = static_cast<std::uint32_t>(read_le(p, 4));
  float f = 0;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint32_t float_bits(float f) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// CH0 counts per ms of a calibration row, NaN when the row cannot define a gain.
double counts_per_ms(double ch0, double integration_ms) {
  if (!(integration_ms > 0) || !(ch0 > 0) || ch0 >= kSunshineSaturated) return kNaN;
  return ch0 / integration_ms;
}

}  // namespace

std::optional<std::vector<SunshineRecord>> sunshine_records(
    const std::vector<std::uint8_t>& bytes) {
  if (bytes.empty() || bytes.size() % kSunshineRecordBytes != 0) return std::nullopt;
  std::vector<SunshineRecord> records;
  for (std::size_t at = 0; at < bytes.size(); at += kSunshineRecordBytes) {
    const std::uint8_t* p = bytes.data() + at;
    SunshineRecord r;
    r.timestamp_us = read_le(p, 8);
    r.ch0 = static_cast<std::uint16_t>(read_le(p + 8, 2));
    r.ch1 = static_cast<std::uint16_t>(read_le(p + 10, 2));
    r.gain_index = static_cast<std::uint16_t>(read_le(p + 12, 2));
    r.integration_ms = static_cast<std::uint16_t>(read_le(p + 14, 2));
    r.yaw = read_float(p + 16);
    r.pitch = read_float(p + 20);
    r.roll = read_float(p + 24);
    records.push_back(r);
  }
  return records;
}

std::vector<std::uint8_t> sunshine_bytes(const std::vector<SunshineRecord>& records) {
  std::vector<std::uint8_t> out;
  out.reserve(records.size() * kSunshineRecordBytes);
  for (const auto& r : records) {
    write_le(out, r.timestamp_us, 8);
    write_le(out, r.ch0, 2);
    write_le(out, r.ch1, 2);
    write_le(out, r.gain_index, 2);
    write_le(out, r.integration_ms, 2);
    for (float f : {r.yaw, r.pitch, r.roll}) write_le(out, float_bits(f), 4);
  }
  return out;
}

std::vector<double> sunshine_gains(const std::vector<double>& rows) {
  // Counts per ms at each gain index, from the rows (gain index, integration ms, CH0, CH1).
  std::vector<double> rate;
  for (std::size_t i = 0; i + 3 < rows.size(); i += 4) {
    const double index = rows[i];
    if (!(index >= 0 && index < 64) || index != std::floor(index)) continue;
    const auto k = static_cast<std::size_t>(index);
    if (rate.size() <= k) rate.resize(k + 1, kNaN);
    rate[k] = counts_per_ms(rows[i + 2], rows[i + 1]);
  }
  std::size_t reference = rate.size();
  if (rate.size() > 1 && std::isfinite(rate[1])) {
    reference = 1;
  } else {
    for (std::size_t k = 0; k < rate.size() && reference == rate.size(); ++k)
      if (std::isfinite(rate[k])) reference = k;
  }
  std::vector<double> gains(rate.size(), kNaN);
  if (reference == rate.size()) return gains;
  for (std::size_t k = 0; k < rate.size(); ++k) gains[k] = rate[k] / rate[reference];
  return gains;
}

double sunshine_irradiance(const SunshineRecord& r, const std::vector<double>& gains) {
  if (r.gain_index >= gains.size() || r.integration_ms == 0 || r.ch0 >= kSunshineSaturated)
    return kNaN;
  const double g = gains[r.gain_index];
  if (!(g > 0)) return kNaN;
  return static_cast<double>(r.ch0) / (g * static_cast<double>(r.integration_ms));
}

std::optional<std::size_t> sunshine_record_for_capture(const std::vector<SunshineRecord>& records,
                                                       std::optional<std::int64_t> capture_utc_us) {
  if (records.empty()) return std::nullopt;
  std::size_t latest = 0;
  for (std::size_t i = 1; i < records.size(); ++i)
    if (records[i].timestamp_us >= records[latest].timestamp_us) latest = i;
  if (!capture_utc_us) return latest;
  const std::int64_t time_of_day = ((*capture_utc_us % kDayUs) + kDayUs) % kDayUs;
  std::size_t nearest = 0;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const double d =
        std::fabs(static_cast<double>(records[i].timestamp_us) - static_cast<double>(time_of_day));
    if (d < best) {
      best = d;
      nearest = i;
    }
  }
  return best <= static_cast<double>(kSunshineClockToleranceUs) ? nearest : latest;
}

}  // namespace fieldrx
