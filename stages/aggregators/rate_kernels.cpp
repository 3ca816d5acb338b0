// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/rate_kernels.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace fieldrx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// m2/s -> ha/min: 60 s/min / 10000 m2/ha.
constexpr double kHaPerMinPerM2PerS = 0.006;
// Relative slack for "equal" in floating point: 80 x 1.1 is 88.00000000000001.
constexpr double kRelativeSlack = 1e-9;

// Up to `decimals` decimals, trailing zeros dropped: 12.096 -> "12.1", 7.0 -> "7".
std::string number(double value, int decimals) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string text = buffer;
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

// Safe-side rounding of advice to 0.1: a maximum is rounded down, a minimum up.
double round_down_to_tenth(double value) {
  return std::floor(value * 10.0 + 1e-9) / 10.0;
}
double round_up_to_tenth(double value) {
  return std::ceil(value * 10.0 - 1e-9) / 10.0;
}

void require_finite_non_negative(double value, const std::string& where, const std::string& what,
                                 const std::string& hint) {
  if (!(std::isfinite(value) && value >= 0.0)) {
    throw std::invalid_argument(where + ": " + what + " is " + number(value, 6) +
                                "; it must be a finite number >= 0" + hint);
  }
}

void require_finite_positive(double value, const std::string& where, const std::string& what,
                             const std::string& hint) {
  if (!(std::isfinite(value) && value > 0.0)) {
    throw std::invalid_argument(where + ": " + what + " is " + number(value, 6) +
                                "; it must be a finite number > 0" + hint);
  }
}

void require_zone_list(std::size_t given, int zone_count, const std::string& where,
                       const std::string& what) {
  if (zone_count < 1 || static_cast<std::size_t>(zone_count) != given) {
    throw std::invalid_argument(where + ": " + std::to_string(given) + " " + what + " for " +
                                std::to_string(zone_count) +
                                " zones; give exactly one per zone, zone 1 (lowest index) first");
  }
}

std::string zone_label(std::size_t index) {
  return "zone " + std::to_string(index + 1);
}

int ceil_with_slack(double quotient) {
  return static_cast<int>(std::ceil(quotient - kRelativeSlack * quotient));
}

std::int32_t checked_raw(double rate, double counts_per_unit, const std::string& where,
                         const std::string& unit) {
  if (!(std::isfinite(rate) && rate >= 0.0)) {
    throw std::invalid_argument(where + ": rate " + number(rate, 6) + " " + unit +
                                " must be a finite number >= 0");
  }
  const double raw = rate * counts_per_unit;
  if (raw > 2147483647.0) {
    throw std::invalid_argument(where + ": rate " + number(rate, 6) + " " + unit +
                                " does not fit an ISOXML int32 raw value (at most " +
                                number(2147483647.0 / counts_per_unit, 4) + " " + unit + ")");
  }
  return static_cast<std::int32_t>(std::llround(raw));
}

}  // namespace

std::string_view rate_unit_name(RateUnit unit) {
  switch (unit) {
    case RateUnit::l_per_ha:
      return "L/ha";
    case RateUnit::kg_per_ha:
      return "kg/ha";
    case RateUnit::l_per_mu:
      return "L/mu";
    case RateUnit::kg_per_mu:
      return "kg/mu";
  }
  return "?";
}

std::optional<RateUnit> rate_unit_from_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (RateUnit unit :
       {RateUnit::l_per_ha, RateUnit::kg_per_ha, RateUnit::l_per_mu, RateUnit::kg_per_mu}) {
    std::string known(rate_unit_name(unit));
    std::transform(known.begin(), known.end(), known.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (known == lower) return unit;
  }
  return std::nullopt;
}

bool is_volume_rate(RateUnit unit) {
  return unit == RateUnit::l_per_ha || unit == RateUnit::l_per_mu;
}

bool is_per_mu(RateUnit unit) {
  return unit == RateUnit::l_per_mu || unit == RateUnit::kg_per_mu;
}

double per_mu_to_per_ha(double rate_per_mu) {
  return rate_per_mu * kMuPerHectare;
}
double per_ha_to_per_mu(double rate_per_ha) {
  return rate_per_ha / kMuPerHectare;
}

double convert_rate(double rate, RateUnit from, RateUnit to) {
  if (is_volume_rate(from) != is_volume_rate(to)) {
    throw std::invalid_argument("convert_rate: cannot convert " +
                                std::string(rate_unit_name(from)) + " to " +
                                std::string(rate_unit_name(to)) +
                                ": volume and mass rates need the product's density; convert "
                                "between L/ha and L/mu, or kg/ha and kg/mu");
  }
  const double per_ha = is_per_mu(from) ? per_mu_to_per_ha(rate) : rate;
  return is_per_mu(to) ? per_ha_to_per_mu(per_ha) : per_ha;
}

double hectares_from_m2(double area_m2) {
  return area_m2 / kSquareMetresPerHectare;
}

std::int32_t ddi_0001_raw_from_l_per_ha(double rate_l_per_ha) {
  return checked_raw(rate_l_per_ha, 10000.0, "ddi_0001_raw_from_l_per_ha", "L/ha");
}

std::int32_t ddi_0006_raw_from_kg_per_ha(double rate_kg_per_ha) {
  return checked_raw(rate_kg_per_ha, 100.0, "ddi_0006_raw_from_kg_per_ha", "kg/ha");
}

double l_per_ha_from_ddi_0001_raw(std::int32_t raw) {
  return raw / 10000.0;
}
double kg_per_ha_from_ddi_0006_raw(std::int32_t raw) {
  return raw / 100.0;
}

DdiSetpoint isoxml_setpoint(double rate, RateUnit unit) {
  const double per_ha = is_per_mu(unit) ? per_mu_to_per_ha(rate) : rate;
  if (is_volume_rate(unit)) return {kDdiSetpointVolumePerArea, ddi_0001_raw_from_l_per_ha(per_ha)};
  return {kDdiSetpointMassPerArea, ddi_0006_raw_from_kg_per_ha(per_ha)};
}

std::vector<double> zone_rates_absolute(std::span<const double> rate_per_zone, int zone_count) {
  const std::string where = "zone_rates_absolute";
  require_zone_list(rate_per_zone.size(), zone_count, where, "rates");
  for (std::size_t i = 0; i < rate_per_zone.size(); ++i) {
    require_finite_non_negative(rate_per_zone[i], where, "the rate of " + zone_label(i),
                                " (0 = do not spray the zone)");
  }
  return {rate_per_zone.begin(), rate_per_zone.end()};
}

std::vector<double> zone_rates_percent_of_base(double base_rate,
                                               std::span<const double> percent_per_zone,
                                               int zone_count) {
  const std::string where = "zone_rates_percent_of_base";
  require_finite_non_negative(base_rate, where, "base_rate", " (the 100 % rate, e.g. 15 L/ha)");
  require_zone_list(percent_per_zone.size(), zone_count, where, "percentages");
  std::vector<double> rates;
  for (std::size_t i = 0; i < percent_per_zone.size(); ++i) {
    require_finite_non_negative(percent_per_zone[i], where, "the percentage of " + zone_label(i),
                                " (e.g. 80, 100, 120)");
    rates.push_back(base_rate * percent_per_zone[i] / 100.0);
  }
  return rates;
}

PiecewiseLinearRate::PiecewiseLinearRate(std::vector<RatePoint> points)
    : points_(std::move(points)) {
  const std::string where = "PiecewiseLinearRate";
  if (points_.size() < 2) {
    throw std::invalid_argument(where + ": " + std::to_string(points_.size()) +
                                " (index, rate) points given; give at least two, e.g. "
                                "(0.3, 20) and (0.8, 10)");
  }
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (!std::isfinite(points_[i].index_value)) {
      throw std::invalid_argument(where + ": point " + std::to_string(i) + " has index value " +
                                  number(points_[i].index_value, 6) + "; it must be finite");
    }
    require_finite_non_negative(points_[i].rate, where, "the rate of point " + std::to_string(i),
                                "");
  }
  std::sort(points_.begin(), points_.end(),
            [](const RatePoint& a, const RatePoint& b) { return a.index_value < b.index_value; });
  for (std::size_t i = 1; i < points_.size(); ++i) {
    if (points_[i].index_value == points_[i - 1].index_value) {
      throw std::invalid_argument(where + ": two points have index value " +
                                  number(points_[i].index_value, 6) +
                                  "; each index value needs exactly one rate (no vertical steps)");
    }
  }
}

double PiecewiseLinearRate::rate_at(double index_value) const {
  if (std::isnan(index_value)) return kNaN;
  if (index_value <= points_.front().index_value) return points_.front().rate;
  if (index_value >= points_.back().index_value) return points_.back().rate;
  const auto upper =
      std::upper_bound(points_.begin(), points_.end(), index_value,
                       [](double x, const RatePoint& point) { return x < point.index_value; });
  const RatePoint& right = *upper;
  const RatePoint& left = *(upper - 1);
  const double t = (index_value - left.index_value) / (right.index_value - left.index_value);
  return left.rate + t * (right.rate - left.rate);
}

cv::Mat rate_map(const cv::Mat& index_values, const PiecewiseLinearRate& function) {
  if (index_values.empty() || index_values.dims != 2 || index_values.type() != CV_32FC1) {
    throw std::invalid_argument(
        "rate_map: expected a non-empty single-channel CV_32F index raster (NaN = no data)");
  }
  cv::Mat rates(index_values.size(), CV_32FC1);
  for (int r = 0; r < index_values.rows; ++r) {
    const float* in = index_values.ptr<float>(r);
    float* out = rates.ptr<float>(r);
    for (int c = 0; c < index_values.cols; ++c) {
      out[c] = static_cast<float>(function.rate_at(in[c]));
    }
  }
  return rates;
}

std::vector<double> zone_rates_from_function(std::span<const double> zone_mean_index,
                                             const PiecewiseLinearRate& function) {
  std::vector<double> rates;
  for (std::size_t i = 0; i < zone_mean_index.size(); ++i) {
    if (std::isnan(zone_mean_index[i])) {
      throw std::invalid_argument("zone_rates_from_function: " + zone_label(i) +
                                  " has no mean index value (NaN: no valid cell); drop the zone "
                                  "or give it an absolute rate");
    }
    rates.push_back(function.rate_at(zone_mean_index[i]));
  }
  return rates;
}

double flow_l_per_min(double rate_l_per_ha, double swath_m, double speed_m_per_s) {
  return rate_l_per_ha * swath_m * speed_m_per_s * kHaPerMinPerM2PerS;
}

double rate_l_per_ha_for_flow(double flow, double swath_m, double speed_m_per_s) {
  return flow / (swath_m * speed_m_per_s * kHaPerMinPerM2PerS);
}

double speed_m_per_s_for_flow(double rate_l_per_ha, double swath_m, double flow) {
  return flow / (rate_l_per_ha * swath_m * kHaPerMinPerM2PerS);
}

double swath_m_for_flow(double rate_l_per_ha, double speed_m_per_s, double flow) {
  return flow / (rate_l_per_ha * speed_m_per_s * kHaPerMinPerM2PerS);
}

ClampedRates clamp_zone_rates(std::span<const double> rate_per_zone, RateUnit unit,
                              const LabelRateLimits& label,
                              const std::optional<SprayerEnvelope>& sprayer) {
  const std::string where = "clamp_zone_rates";
  const std::string unit_name(rate_unit_name(unit));
  for (std::size_t i = 0; i < rate_per_zone.size(); ++i) {
    require_finite_non_negative(rate_per_zone[i], where, "the rate of " + zone_label(i),
                                " (0 = do not spray the zone)");
  }
  require_finite_non_negative(label.min_rate, where, "the label's min_rate", "");
  if (!(label.max_rate >= label.min_rate)) {
    throw std::invalid_argument(where + ": the label's max_rate " + number(label.max_rate, 4) +
                                " " + unit_name + " is below its min_rate " +
                                number(label.min_rate, 4) + " " + unit_name +
                                "; min_rate <= max_rate (check the label's units)");
  }

  // The pump's deliverable range at this swath and speed, in the rates' unit.
  double pump_min_rate = 0.0;
  double pump_max_rate = std::numeric_limits<double>::infinity();
  std::string flight;  // "at 7 m/s with a 9 m swath"
  if (sprayer) {
    if (!is_volume_rate(unit)) {
      throw std::invalid_argument(where +
                                  ": a sprayer's flow envelope (L/min) applies to liquid "
                                  "rates, but the rates are in " +
                                  unit_name + "; give L/ha or L/mu rates, or no sprayer");
    }
    require_finite_positive(sprayer->swath_m, where, "swath_m",
                            " (effective swath in metres, 5-11 m for DJI Agras)");
    require_finite_positive(sprayer->speed_m_per_s, where, "speed_m_per_s",
                            " (planned ground speed, e.g. 7 m/s)");
    require_finite_non_negative(sprayer->min_flow_l_per_min, where, "min_flow_l_per_min", "");
    require_finite_positive(sprayer->max_flow_l_per_min, where, "max_flow_l_per_min",
                            " (the pump's maximum flow)");
    if (sprayer->min_flow_l_per_min > sprayer->max_flow_l_per_min) {
      throw std::invalid_argument(
          where + ": min_flow_l_per_min " + number(sprayer->min_flow_l_per_min, 3) +
          " is above max_flow_l_per_min " + number(sprayer->max_flow_l_per_min, 3) +
          "; the pump's range needs min <= max");
    }
    pump_min_rate = convert_rate(rate_l_per_ha_for_flow(sprayer->min_flow_l_per_min,
                                                        sprayer->swath_m, sprayer->speed_m_per_s),
                                 RateUnit::l_per_ha, unit);
    pump_max_rate = convert_rate(rate_l_per_ha_for_flow(sprayer->max_flow_l_per_min,
                                                        sprayer->swath_m, sprayer->speed_m_per_s),
                                 RateUnit::l_per_ha, unit);
    flight = "at " + number(sprayer->speed_m_per_s, 2) + " m/s with a " +
             number(sprayer->swath_m, 2) + " m swath";
  }
  const auto l_per_ha = [&](double rate) { return convert_rate(rate, unit, RateUnit::l_per_ha); };

  const bool any_sprayed =
      std::any_of(rate_per_zone.begin(), rate_per_zone.end(), [](double r) { return r > 0.0; });
  if (sprayer && any_sprayed) {
    const double swath = sprayer->swath_m;
    const double speed = sprayer->speed_m_per_s;
    const std::string pump_range = "the pump's " + number(sprayer->min_flow_l_per_min, 2) + "-" +
                                   number(sprayer->max_flow_l_per_min, 2) + " L/min delivers " +
                                   number(pump_min_rate, 2) + "-" + number(pump_max_rate, 2) + " " +
                                   unit_name;
    const std::string label_range = "the label's " + number(label.min_rate, 2) + "-" +
                                    number(label.max_rate, 2) + " " + unit_name;
    if (pump_max_rate < label.min_rate * (1.0 - kRelativeSlack)) {
      const double rate = l_per_ha(label.min_rate);
      throw std::invalid_argument(
          where + ": " + flight + " " + pump_range + ", all below " + label_range + "; fly at ≤ " +
          number(
              round_down_to_tenth(speed_m_per_s_for_flow(rate, swath, sprayer->max_flow_l_per_min)),
              1) +
          " m/s or narrow the swath to ≤ " +
          number(round_down_to_tenth(swath_m_for_flow(rate, speed, sprayer->max_flow_l_per_min)),
                 1) +
          " m");
    }
    if (pump_min_rate > label.max_rate * (1.0 + kRelativeSlack)) {
      const double rate = l_per_ha(label.max_rate);
      throw std::invalid_argument(
          where + ": " + flight + " " + pump_range + ", all above " + label_range + "; fly at ≥ " +
          number(
              round_up_to_tenth(speed_m_per_s_for_flow(rate, swath, sprayer->min_flow_l_per_min)),
              1) +
          " m/s or widen the swath to ≥ " +
          number(round_up_to_tenth(swath_m_for_flow(rate, speed, sprayer->min_flow_l_per_min)), 1) +
          " m");
    }
  }

  ClampedRates result;
  for (std::size_t i = 0; i < rate_per_zone.size(); ++i) {
    const int zone = static_cast<int>(i) + 1;
    double rate = rate_per_zone[i];
    if (rate == 0.0) {  // not sprayed: no minimum applies
      result.rates.push_back(rate);
      continue;
    }
    auto warn = [&](RateAdjustment adjustment, double after, const std::string& why) {
      result.warnings.push_back({zone, adjustment, rate, after,
                                 zone_label(i) + ": " + number(rate, 2) + " " + unit_name + " " +
                                     why + "; rate " + (after > rate ? "raised" : "lowered") +
                                     " to " + number(after, 2) + " " + unit_name});
      rate = after;
    };
    if (rate < label.min_rate) {
      warn(RateAdjustment::raised_to_label_min, label.min_rate,
           "is below the label's minimum " + number(label.min_rate, 2) + " " + unit_name);
    }
    if (rate > label.max_rate) {
      warn(RateAdjustment::lowered_to_label_max, label.max_rate,
           "is above the label's maximum " + number(label.max_rate, 2) + " " + unit_name);
    }
    if (sprayer) {
      const double swath = sprayer->swath_m;
      const double speed = sprayer->speed_m_per_s;
      const double flow = flow_l_per_min(l_per_ha(rate), swath, speed);
      if (rate > pump_max_rate * (1.0 + kRelativeSlack)) {
        const double q = sprayer->max_flow_l_per_min;
        warn(RateAdjustment::lowered_to_pump_max_flow, pump_max_rate,
             "needs " + number(flow, 1) + " L/min " + flight + ", over the pump's maximum " +
                 number(q, 2) + " L/min; fly at ≤ " +
                 number(round_down_to_tenth(speed_m_per_s_for_flow(l_per_ha(rate), swath, q)), 1) +
                 " m/s or narrow the swath to ≤ " +
                 number(round_down_to_tenth(swath_m_for_flow(l_per_ha(rate), speed, q)), 1) + " m");
      } else if (rate < pump_min_rate * (1.0 - kRelativeSlack)) {
        const double q = sprayer->min_flow_l_per_min;
        warn(RateAdjustment::raised_to_pump_min_flow, pump_min_rate,
             "needs " + number(flow, 2) + " L/min " + flight + ", under the pump's minimum " +
                 number(q, 2) + " L/min; fly at ≥ " +
                 number(round_up_to_tenth(speed_m_per_s_for_flow(l_per_ha(rate), swath, q)), 1) +
                 " m/s or widen the swath to ≥ " +
                 number(round_up_to_tenth(swath_m_for_flow(l_per_ha(rate), speed, q)), 1) + " m");
      }
    }
    result.rates.push_back(rate);
  }
  return result;
}

ApplicationTotals application_totals(std::span<const ZoneApplication> zones) {
  const std::string where = "application_totals";
  ApplicationTotals totals;
  for (const ZoneApplication& zone : zones) {
    const std::string name = "zone " + std::to_string(zone.zone);
    require_finite_non_negative(zone.rate_per_ha, where, "the rate of " + name, "");
    require_finite_non_negative(zone.area_ha, where, "the area of " + name,
                                " (hectares; convert m2 with hectares_from_m2)");
    totals.area_ha += zone.area_ha;
    totals.product_amount += zone.rate_per_ha * zone.area_ha;
  }
  totals.mean_rate_per_ha = totals.area_ha > 0.0 ? totals.product_amount / totals.area_ha : kNaN;
  return totals;
}

int tank_loads(double product_amount, double tank_capacity, double tank_dead_volume,
               double reserve_fraction) {
  const std::string where = "tank_loads";
  require_finite_non_negative(product_amount, where, "product_amount", "");
  require_finite_positive(tank_capacity, where, "tank_capacity", " (e.g. 40 L for an Agras T40)");
  require_finite_non_negative(tank_dead_volume, where, "tank_dead_volume",
                              " (what stays in tank and pipes)");
  require_finite_non_negative(reserve_fraction, where, "reserve_fraction",
                              " (0.1 = 10 % extra for overlaps and turns)");
  if (!(tank_capacity > tank_dead_volume)) {
    throw std::invalid_argument(where + ": tank_dead_volume " + number(tank_dead_volume, 3) +
                                " is not below tank_capacity " + number(tank_capacity, 3) +
                                "; a load must hold more than its dead volume");
  }
  const double loads =
      product_amount * (1.0 + reserve_fraction) / (tank_capacity - tank_dead_volume);
  if (loads > 2147483647.0) {
    throw std::invalid_argument(where + ": " + number(loads, 0) +
                                " loads do not fit an int; check the units of product_amount "
                                "and tank_capacity");
  }
  return ceil_with_slack(loads);
}

}  // namespace fieldrx
