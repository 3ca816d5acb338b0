// SPDX-License-Identifier: Apache-2.0
#pragma once
// Prescription-rate kernels: pure arithmetic on rates, areas, machines and ISOXML raw values
// (no GDAL, no TBB, no I/O). Domain spec: ../shared/docs/prescription-practice.md; ISOXML facts:
// ../shared/data/prescriptions/README.md.
//
// Conventions:
// - Units are in the names. "per_ha" rates are L/ha for liquids and kg/ha for solids; functions
//   that take a RateUnit accept the Chinese per-mu units too (1 ha = 15 mu, 1 L/mu = 15 L/ha).
// - Zone lists are indexed zone-1: element 0 is zone 1 (the lowest index values, see
//   zone_kernels.hpp). The direction of a rate ladder is the caller's choice, stated by the list
//   itself: {80, 100, 120} % rises with vigour (fungicides, growth regulators), {120, 100, 80} %
//   falls with it (compensatory nitrogen).
// - A rate of 0 means "do not spray this zone": it is valid, and no minimum (label or pump)
//   raises it, because a switched-off nozzle needs no flow.
// - Nothing changes a rate silently: every clamp adds a RateWarning.
// - Invalid inputs throw std::invalid_argument whose message names the parameter, what is wrong
//   and what would be right.
#include <cstdint>
#include <limits>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fieldrx {

// ---------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------

constexpr double kMuPerHectare = 15.0;  // 1 ha = 15 mu (市亩), exact by definition
constexpr double kSquareMetresPerHectare = 10000.0;

enum class RateUnit { l_per_ha, kg_per_ha, l_per_mu, kg_per_mu };
// "L/ha", "kg/ha", "L/mu", "kg/mu"; rate_unit_from_name also accepts lower-case "l/ha", "l/mu".
std::string_view rate_unit_name(RateUnit unit);
std::optional<RateUnit> rate_unit_from_name(std::string_view name);
bool is_volume_rate(RateUnit unit);  // L/ha, L/mu
bool is_per_mu(RateUnit unit);

// A per-mu rate is 15 times smaller than the same dose per hectare: 1 L/mu = 15 L/ha.
double per_mu_to_per_ha(double rate_per_mu);
double per_ha_to_per_mu(double rate_per_ha);
// Converts between units of the same kind; volume <-> mass throws (it needs a density).
double convert_rate(double rate, RateUnit from, RateUnit to);
double hectares_from_m2(double area_m2);

// ---------------------------------------------------------------------------------------------
// ISO 11783-10/-11 raw values (ISOXML grid type 2 cells, PDV@B)
// ---------------------------------------------------------------------------------------------

constexpr int kDdiSetpointVolumePerArea = 0x0001;  // mm3/m2, resolution 0.01
constexpr int kDdiSetpointMassPerArea = 0x0006;    // mg/m2, resolution 1

// DDI 0001: 1 L/ha = 1e6 mm3 / 1e4 m2 = 100 mm3/m2 = 10000 counts of 0.01 mm3/m2, so
// raw = L/ha x 10000 (12 L/ha -> 120000). DDI 0006: 1 kg/ha = 1e6 mg / 1e4 m2 = 100 mg/m2, so
// raw = kg/ha x 100. Rounded to the nearest integer, halves away from zero (std::llround);
// the rate must be >= 0 and the raw value fit an int32 (grid type 2 cells are int32).
std::int32_t ddi_0001_raw_from_l_per_ha(double rate_l_per_ha);
std::int32_t ddi_0006_raw_from_kg_per_ha(double rate_kg_per_ha);
double l_per_ha_from_ddi_0001_raw(std::int32_t raw);
double kg_per_ha_from_ddi_0006_raw(std::int32_t raw);

struct DdiSetpoint {
  int ddi = 0;           // kDdiSetpointVolumePerArea or kDdiSetpointMassPerArea
  std::int32_t raw = 0;  // the value to write
};
// The setpoint DDI and raw value for a rate in any RateUnit (per-mu rates are converted first).
DdiSetpoint isoxml_setpoint(double rate, RateUnit unit);

// ---------------------------------------------------------------------------------------------
// Rates per zone
// ---------------------------------------------------------------------------------------------

// Absolute rates, one per zone (e.g. {12, 15, 18} L/ha): checks there are zone_count of them,
// each finite and >= 0, and returns them.
std::vector<double> zone_rates_absolute(std::span<const double> rate_per_zone, int zone_count);

// Rates as percent of a base rate: rate_z = base_rate x percent_z / 100 (3 zones 80/100/120 %,
// 5 zones 70/85/100/115/130 % in practice). base_rate >= 0, percents >= 0, zone_count of them.
std::vector<double> zone_rates_percent_of_base(double base_rate,
                                               std::span<const double> percent_per_zone,
                                               int zone_count);

struct RatePoint {
  double index_value = 0.0;
  double rate = 0.0;
};

// Rate as a piecewise-linear function of an index value through (index, rate) points, e.g.
// {(0.3, 20), (0.8, 10)} (falls with vigour) or {(0.3, 10), (0.8, 20)} (rises with it). Linear
// between neighbouring points, flat (the end point's rate) beyond the first and last point.
class PiecewiseLinearRate {
 public:
  // At least two points; finite; rates >= 0; index values distinct (any order: they are sorted).
  explicit PiecewiseLinearRate(std::vector<RatePoint> points);
  // NaN in, NaN out (no data has no rate); +-inf index values are treated as beyond the ends.
  double rate_at(double index_value) const;
  const std::vector<RatePoint>& points() const { return points_; }

 private:
  std::vector<RatePoint> points_;  // ascending index_value
};

// Rate raster (CV_32F) from an index raster (CV_32F): rate_at per cell, NaN stays NaN.
cv::Mat rate_map(const cv::Mat& index_values, const PiecewiseLinearRate& function);
// Rate per zone from each zone's mean index value (zone_kernels' summarize_zones); a NaN mean
// (a zone without values) is an error: such a zone has no rate to give.
std::vector<double> zone_rates_from_function(std::span<const double> zone_mean_index,
                                             const PiecewiseLinearRate& function);

// ---------------------------------------------------------------------------------------------
// Machine envelope and clamping
// ---------------------------------------------------------------------------------------------

// Pump flow a rate needs: Q[L/min] = R[L/ha] x W[m] x v[m/s] x 0.006
// (W x v m2/s = 60 W v m2/min = 0.006 W v ha/min). 15 L/ha x 9 m x 7 m/s = 5.67 L/min.
double flow_l_per_min(double rate_l_per_ha, double swath_m, double speed_m_per_s);
// The rate a flow gives at a swath and speed: R = Q / (W x v x 0.006).
double rate_l_per_ha_for_flow(double flow_l_per_min, double swath_m, double speed_m_per_s);
// The ground speed at which `rate` needs exactly `flow`: v = Q / (R x W x 0.006).
double speed_m_per_s_for_flow(double rate_l_per_ha, double swath_m, double flow_l_per_min);
// The swath at which `rate` needs exactly `flow`: W = Q / (R x v x 0.006).
double swath_m_for_flow(double rate_l_per_ha, double speed_m_per_s, double flow_l_per_min);

// The product label's allowed rates, in the unit of the rates being clamped.
struct LabelRateLimits {
  double min_rate = 0.0;
  double max_rate = std::numeric_limits<double>::infinity();  // no maximum until set
};

// The sprayer as flown: effective swath, planned ground speed and the pump's flow range.
struct SprayerEnvelope {
  double swath_m = 0.0;
  double speed_m_per_s = 0.0;
  double min_flow_l_per_min = 0.0;
  double max_flow_l_per_min = 0.0;
};

enum class RateAdjustment {
  raised_to_label_min,
  lowered_to_label_max,
  raised_to_pump_min_flow,
  lowered_to_pump_max_flow,
};

struct RateWarning {
  int zone = 0;  // 1-based
  RateAdjustment adjustment = RateAdjustment::lowered_to_label_max;
  double rate_before = 0.0;  // in the rates' unit, before this adjustment
  double rate_after = 0.0;   // after it
  // e.g. "zone 3: 32 L/ha needs 12.1 L/min at 7 m/s with a 9 m swath, over the pump's maximum
  // 10 L/min; fly at <= 5.7 m/s or narrow the swath to <= 7.4 m; rate lowered to 26.46 L/ha"
  std::string message;
};

struct ClampedRates {
  std::vector<double> rates;  // per zone, in the input unit
  std::vector<RateWarning> warnings;
};

// Clamps each zone's rate (unit: `unit`; label limits in the same unit) first to the label's
// [min, max], then, when a sprayer is given (liquid rates only), to the rates its pump can
// deliver at that swath and speed: [Q_min, Q_max] / (W x v x 0.006). Each change adds one
// warning (so a rate can carry two: label, then pump). Advice in pump warnings is rounded to
// the safe side (speeds and swaths to 0.1, down for a maximum, up for a minimum), so following
// it really keeps the flow inside the pump's range. Rates of 0 (off) are never raised.
// Throws when the label range and the pump's range at this speed and swath do not overlap while
// some zone is to be sprayed: no rate would be both legal and deliverable.
ClampedRates clamp_zone_rates(std::span<const double> rate_per_zone, RateUnit unit,
                              const LabelRateLimits& label,
                              const std::optional<SprayerEnvelope>& sprayer = std::nullopt);

// ---------------------------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------------------------

struct ZoneApplication {
  int zone = 0;
  double rate_per_ha = 0.0;  // L/ha or kg/ha
  double area_ha = 0.0;      // exact area clipped to the field boundary (computed elsewhere)
  static ZoneApplication from_m2(int zone, double rate_per_ha, double area_m2) {
    return {zone, rate_per_ha, area_m2 / kSquareMetresPerHectare};
  }
};

struct ApplicationTotals {
  double area_ha = 0.0;
  double product_amount = 0.0;    // V = sum of rate x area: L for L/ha rates, kg for kg/ha
  double mean_rate_per_ha = 0.0;  // V / area; NaN when the area is 0
};
// Rates and areas must be finite and >= 0.
ApplicationTotals application_totals(std::span<const ZoneApplication> zones);

// Tank loads = ceil(V x (1 + reserve_fraction) / (tank_capacity - tank_dead_volume)): the dead
// volume stays in the tank and pipes on every load, the reserve covers overlaps and turns
// (0.1 = 10 % extra). Same unit for V, capacity and dead volume (L, or kg for granules). A
// quotient within 1e-9 (relative) of an integer counts as that integer, so floating-point noise
// (80 x 1.1 = 88.00000000000001) never adds a load. Requires tank_capacity > tank_dead_volume
// >= 0, reserve_fraction >= 0, V >= 0.
int tank_loads(double product_amount, double tank_capacity, double tank_dead_volume,
               double reserve_fraction);

}  // namespace fieldrx
