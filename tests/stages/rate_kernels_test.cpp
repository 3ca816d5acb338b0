// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/rate_kernels.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

namespace {

using namespace fieldrx;

// The sprayer of the worked examples: 9 m swath at 7 m/s, pump up to 10 L/min.
SprayerEnvelope agras_like(double min_flow_l_per_min = 0.0) {
  return {9.0, 7.0, min_flow_l_per_min, 10.0};
}

}  // namespace

TEST_CASE("flow needed for a rate follows Q = R W v 0.006", "[rates][kernel]") {
  // Guards the flow formula and its inverses with the worked number of the practice notes.
  CHECK(flow_l_per_min(15.0, 9.0, 7.0) == Approx(5.67).epsilon(1e-12));
  CHECK(flow_l_per_min(32.0, 9.0, 7.0) == Approx(12.096).epsilon(1e-12));
  // Max rate at 7 m/s with 9 m for a 10 L/min pump: 10 / 0.378.
  CHECK(rate_l_per_ha_for_flow(10.0, 9.0, 7.0) == Approx(26.455026455).epsilon(1e-9));
  CHECK(speed_m_per_s_for_flow(32.0, 9.0, 10.0) == Approx(5.787037037).epsilon(1e-9));
  CHECK(swath_m_for_flow(32.0, 7.0, 10.0) == Approx(7.440476190).epsilon(1e-9));
}

TEST_CASE("rates per zone as absolute values or percent of a base rate", "[rates][kernel]") {
  // Guards the two per-zone rate plans and their validation.
  const std::vector<double> absolute = {12.0, 15.0, 18.0};
  CHECK(zone_rates_absolute(absolute, 3) == absolute);
  const std::vector<double> ladder = {80.0, 100.0, 120.0};
  const auto from_percent = zone_rates_percent_of_base(15.0, ladder, 3);
  REQUIRE(from_percent.size() == 3);
  CHECK(from_percent[0] == Approx(12.0));
  CHECK(from_percent[1] == Approx(15.0));
  CHECK(from_percent[2] == Approx(18.0));
  // Compensatory direction is the reversed list.
  const std::vector<double> reversed = {120.0, 100.0, 80.0};
  CHECK(zone_rates_percent_of_base(15.0, reversed, 3)[0] == Approx(18.0));
  // Five zones, 70..130 %.
  const std::vector<double> five = {70.0, 85.0, 100.0, 115.0, 130.0};
  CHECK(zone_rates_percent_of_base(20.0, five, 5)[4] == Approx(26.0));

  const std::vector<double> negative = {12.0, -1.0, 18.0};
  CHECK_THROWS_WITH(zone_rates_absolute(negative, 3),
                    Catch::Contains("the rate of zone 2 is -1") && Catch::Contains(">= 0"));
  CHECK_THROWS_WITH(zone_rates_absolute(absolute, 4),
                    Catch::Contains("3 rates for 4 zones") && Catch::Contains("one per zone"));
  CHECK_THROWS_WITH(zone_rates_percent_of_base(-15.0, ladder, 3), Catch::Contains("base_rate"));
}

TEST_CASE("piecewise-linear rate rises or falls with the index and is flat beyond the ends",
          "[rates][kernel]") {
  // Guards interpolation in both directions, flat extrapolation, NaN and point validation.
  const PiecewiseLinearRate rising({{0.3, 10.0}, {0.8, 20.0}});
  CHECK(rising.rate_at(0.55) == Approx(15.0));
  CHECK(rising.rate_at(0.3) == Approx(10.0));
  CHECK(rising.rate_at(0.1) == Approx(10.0));
  CHECK(rising.rate_at(0.95) == Approx(20.0));
  CHECK(std::isnan(rising.rate_at(std::numeric_limits<double>::quiet_NaN())));

  const PiecewiseLinearRate falling({{0.8, 10.0}, {0.3, 20.0}});  // given out of order
  CHECK(falling.rate_at(0.4) == Approx(18.0));
  CHECK(falling.rate_at(0.0) == Approx(20.0));
  CHECK(falling.rate_at(1.0) == Approx(10.0));

  const PiecewiseLinearRate three({{0.2, 30.0}, {0.5, 20.0}, {0.8, 25.0}});
  CHECK(three.rate_at(0.35) == Approx(25.0));
  CHECK(three.rate_at(0.65) == Approx(22.5));
  CHECK(three.rate_at(0.5) == Approx(20.0));

  const std::vector<double> means = {0.3, 0.55, 0.8};
  const auto by_zone = zone_rates_from_function(means, rising);
  CHECK(by_zone == std::vector<double>{10.0, 15.0, 20.0});
  const std::vector<double> no_mean = {0.3, std::numeric_limits<double>::quiet_NaN()};
  CHECK_THROWS_WITH(zone_rates_from_function(no_mean, rising), Catch::Contains("zone 2"));

  float index_values[4] = {0.3f, 0.55f, std::numeric_limits<float>::quiet_NaN(), 0.9f};
  const cv::Mat map = rate_map(cv::Mat(2, 2, CV_32FC1, index_values), rising);
  CHECK(map.at<float>(0, 1) == Approx(15.0f));
  CHECK(std::isnan(map.at<float>(1, 0)));
  CHECK(map.at<float>(1, 1) == Approx(20.0f));

  CHECK_THROWS_WITH(PiecewiseLinearRate(std::vector<RatePoint>{{0.3, 10.0}}),
                    Catch::Contains("at least two"));
  CHECK_THROWS_WITH(PiecewiseLinearRate(std::vector<RatePoint>{{0.3, 10.0}, {0.3, 12.0}}),
                    Catch::Contains("two points have index value 0.3"));
  CHECK_THROWS_WITH(PiecewiseLinearRate(std::vector<RatePoint>{{0.3, -10.0}, {0.5, 12.0}}),
                    Catch::Contains("rate of point 0"));
}

TEST_CASE("a rate over the pump's flow is lowered with advice that really fits the pump",
          "[rates][kernel]") {
  // Guards the machine clamp and its warning: the worked example of the brief (32 L/ha at 7 m/s,
  // 9 m swath, 10 L/min pump), with advice rounded to the safe side.
  const std::vector<double> rates = {12.0, 15.0, 32.0};
  const ClampedRates clamped =
      clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{8.0, 40.0}, agras_like());
  REQUIRE(clamped.rates.size() == 3);
  CHECK(clamped.rates[0] == 12.0);
  CHECK(clamped.rates[1] == 15.0);
  CHECK(clamped.rates[2] == Approx(26.455026455).epsilon(1e-9));
  REQUIRE(clamped.warnings.size() == 1);
  const RateWarning& warning = clamped.warnings[0];
  CHECK(warning.zone == 3);
  CHECK(warning.adjustment == RateAdjustment::lowered_to_pump_max_flow);
  CHECK(warning.rate_before == 32.0);
  CHECK(warning.rate_after == Approx(26.455026455));
  CHECK(warning.message ==
        "zone 3: 32 L/ha needs 12.1 L/min at 7 m/s with a 9 m swath, over the pump's maximum "
        "10 L/min; fly at ≤ 5.7 m/s or narrow the swath to ≤ 7.4 m; rate lowered to 26.46 L/ha");
  // Following either piece of advice keeps 32 L/ha within 10 L/min (5.8 m/s would not).
  CHECK(flow_l_per_min(32.0, 9.0, 5.7) <= 10.0);
  CHECK(flow_l_per_min(32.0, 7.4, 7.0) <= 10.0);
  CHECK(flow_l_per_min(32.0, 9.0, 5.8) > 10.0);
}

TEST_CASE("label limits clamp rates with a warning per change", "[rates][kernel]") {
  // Guards label clamping, that a zone can carry a label and a pump warning, and that 0 stays 0.
  const std::vector<double> rates = {5.0, 45.0, 0.0, 20.0};
  const ClampedRates label_only =
      clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{8.0, 40.0});
  CHECK(label_only.rates == std::vector<double>{8.0, 40.0, 0.0, 20.0});
  REQUIRE(label_only.warnings.size() == 2);
  CHECK(label_only.warnings[0].adjustment == RateAdjustment::raised_to_label_min);
  CHECK(label_only.warnings[0].message ==
        "zone 1: 5 L/ha is below the label's minimum 8 L/ha; rate raised to 8 L/ha");
  CHECK(label_only.warnings[1].zone == 2);
  CHECK(label_only.warnings[1].message ==
        "zone 2: 45 L/ha is above the label's maximum 40 L/ha; rate lowered to 40 L/ha");

  const std::vector<double> high = {45.0};
  const ClampedRates both =
      clamp_zone_rates(high, RateUnit::l_per_ha, LabelRateLimits{8.0, 30.0}, agras_like());
  REQUIRE(both.warnings.size() == 2);
  CHECK(both.warnings[0].adjustment == RateAdjustment::lowered_to_label_max);
  CHECK(both.warnings[1].adjustment == RateAdjustment::lowered_to_pump_max_flow);
  CHECK(both.warnings[1].rate_before == 30.0);
  CHECK(both.warnings[1].message ==
        "zone 1: 30 L/ha needs 11.3 L/min at 7 m/s with a 9 m swath, over the pump's maximum "
        "10 L/min; fly at ≤ 6.1 m/s or narrow the swath to ≤ 7.9 m; rate lowered to 26.46 L/ha");
  CHECK(both.rates[0] == Approx(26.455026455));
}

TEST_CASE("a rate under the pump's minimum flow is raised, off zones stay off", "[rates][kernel]") {
  // Guards the pump minimum: 6 L/ha needs 2.27 L/min < 3 L/min; the advice rounds up.
  const std::vector<double> rates = {6.0, 0.0};
  const ClampedRates clamped =
      clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{}, agras_like(3.0));
  CHECK(clamped.rates[0] == Approx(7.936507937).epsilon(1e-9));  // 3 / 0.378
  CHECK(clamped.rates[1] == 0.0);
  REQUIRE(clamped.warnings.size() == 1);
  CHECK(clamped.warnings[0].adjustment == RateAdjustment::raised_to_pump_min_flow);
  CHECK(clamped.warnings[0].message ==
        "zone 1: 6 L/ha needs 2.27 L/min at 7 m/s with a 9 m swath, under the pump's minimum "
        "3 L/min; fly at ≥ 9.3 m/s or widen the swath to ≥ 12 m; rate raised to 7.94 L/ha");
  CHECK(flow_l_per_min(6.0, 9.0, 9.3) >= 3.0);
  CHECK(flow_l_per_min(6.0, 12.0, 7.0) >= 3.0);
}

TEST_CASE("per-mu rates are clamped in their own unit", "[rates][kernel]") {
  // Guards mu handling in the clamp: 2.4 L/mu = 36 L/ha needs 13.6 L/min.
  const std::vector<double> rates = {2.4};
  const ClampedRates clamped =
      clamp_zone_rates(rates, RateUnit::l_per_mu, LabelRateLimits{}, agras_like());
  CHECK(clamped.rates[0] == Approx(26.455026455 / 15.0).epsilon(1e-9));
  REQUIRE(clamped.warnings.size() == 1);
  CHECK(clamped.warnings[0].message ==
        "zone 1: 2.4 L/mu needs 13.6 L/min at 7 m/s with a 9 m swath, over the pump's maximum "
        "10 L/min; fly at ≤ 5.1 m/s or narrow the swath to ≤ 6.6 m; rate lowered to 1.76 L/mu");
}

TEST_CASE("clamping rejects invalid inputs and impossible plans", "[rates][kernel]") {
  // Guards the validation messages: parameter named, what would be right.
  const std::vector<double> rates = {12.0, 15.0};
  const std::vector<double> negative = {12.0, -3.0};
  CHECK_THROWS_WITH(clamp_zone_rates(negative, RateUnit::l_per_ha, LabelRateLimits{}),
                    Catch::Contains("the rate of zone 2 is -3"));
  CHECK_THROWS_WITH(clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{20.0, 10.0}),
                    Catch::Contains("max_rate 10 L/ha is below its min_rate 20 L/ha") &&
                        Catch::Contains("min_rate <= max_rate"));
  SprayerEnvelope no_swath = agras_like();
  no_swath.swath_m = 0.0;
  CHECK_THROWS_WITH(clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{}, no_swath),
                    Catch::Contains("swath_m is 0") && Catch::Contains("> 0"));
  SprayerEnvelope inverted = agras_like(12.0);
  CHECK_THROWS_WITH(clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{}, inverted),
                    Catch::Contains("min_flow_l_per_min 12 is above max_flow_l_per_min 10"));
  CHECK_THROWS_WITH(clamp_zone_rates(rates, RateUnit::kg_per_ha, LabelRateLimits{}, agras_like()),
                    Catch::Contains("liquid rates"));
  // The label wants 30-40 L/ha but the pump gives at most 26.46 L/ha at 7 m/s with 9 m.
  CHECK_THROWS_WITH(
      clamp_zone_rates(rates, RateUnit::l_per_ha, LabelRateLimits{30.0, 40.0}, agras_like()),
      Catch::Contains("delivers 0-26.46 L/ha, all below the label's 30-40 L/ha") &&
          Catch::Contains("fly at ≤ 6.1 m/s"));
  // ...unless nothing is sprayed.
  const std::vector<double> off = {0.0, 0.0};
  CHECK(clamp_zone_rates(off, RateUnit::l_per_ha, LabelRateLimits{30.0, 40.0}, agras_like())
            .warnings.empty());
}

TEST_CASE("total product on exact zone areas and tank loads", "[rates][kernel]") {
  // Guards V = sum R A and the tank-load formula. Areas: the reference 5.59 ha field of
  // ../shared/data/prescriptions (polygon (3,3)-(297,3)-(297,150)-(247,197)-(3,197) m, zones in
  // 100 m bands): 97 x 194 = 18818 m2, 100 x 194 = 19400 m2, 18818 - 50 x 47 / 2 = 17643 m2,
  // which gives its README's 83.4 L.
  const std::vector<ZoneApplication> zones = {ZoneApplication::from_m2(1, 12.0, 18818.0),
                                              ZoneApplication::from_m2(2, 15.0, 19400.0),
                                              ZoneApplication::from_m2(3, 18.0, 17643.0)};
  const ApplicationTotals totals = application_totals(zones);
  CHECK(totals.area_ha == Approx(5.5861).epsilon(1e-12));
  CHECK(totals.product_amount == Approx(83.439).epsilon(1e-12));
  CHECK(totals.mean_rate_per_ha == Approx(83.439 / 5.5861).epsilon(1e-12));

  // 83.439 L x 1.1 / (40 - 0.5) = 2.32 -> 3 loads.
  CHECK(tank_loads(totals.product_amount, 40.0, 0.5, 0.1) == 3);
  // 120 L in a 40 L tank: exactly 3; with 2 L dead volume 120 / 38 = 3.16 -> 4.
  CHECK(tank_loads(120.0, 40.0, 0.0, 0.0) == 3);
  CHECK(tank_loads(120.0, 40.0, 2.0, 0.0) == 4);
  // 100 x 1.1 / 10 is 11.000000000000002 in doubles: still 11 loads, not 12.
  CHECK(tank_loads(100.0, 10.5, 0.5, 0.1) == 11);
  CHECK(tank_loads(100.0, 10.5, 0.5, 0.11) == 12);
  CHECK(tank_loads(0.0, 40.0, 0.5, 0.1) == 0);

  CHECK_THROWS_WITH(tank_loads(100.0, 10.0, 10.0, 0.1),
                    Catch::Contains("tank_dead_volume 10 is not below tank_capacity 10"));
  CHECK_THROWS_WITH(tank_loads(100.0, 40.0, 0.5, -0.1),
                    Catch::Contains("reserve_fraction is -0.1") && Catch::Contains(">= 0"));
  CHECK_THROWS_WITH(tank_loads(100.0, 0.0, 0.0, 0.1), Catch::Contains("tank_capacity is 0"));
  const std::vector<ZoneApplication> bad = {{1, 12.0, -1.0}};
  CHECK_THROWS_WITH(application_totals(bad), Catch::Contains("the area of zone 1"));
}

TEST_CASE("mu conversions: 1 ha = 15 mu", "[rates][kernel]") {
  // Guards the Chinese area unit both ways and across kinds.
  CHECK(per_mu_to_per_ha(1.0) == 15.0);
  CHECK(per_ha_to_per_mu(30.0) == 2.0);
  CHECK(convert_rate(2.0, RateUnit::kg_per_mu, RateUnit::kg_per_ha) == 30.0);
  CHECK(convert_rate(15.0, RateUnit::l_per_ha, RateUnit::l_per_mu) == 1.0);
  CHECK(convert_rate(12.0, RateUnit::l_per_ha, RateUnit::l_per_ha) == 12.0);
  CHECK(convert_rate(convert_rate(17.3, RateUnit::l_per_ha, RateUnit::l_per_mu), RateUnit::l_per_mu,
                     RateUnit::l_per_ha) == Approx(17.3).epsilon(1e-15));
  CHECK_THROWS_WITH(convert_rate(1.0, RateUnit::l_per_ha, RateUnit::kg_per_ha),
                    Catch::Contains("density"));
  CHECK(hectares_from_m2(25000.0) == 2.5);
  CHECK(rate_unit_from_name("l/mu") == RateUnit::l_per_mu);
  CHECK(rate_unit_from_name("kg/ha") == RateUnit::kg_per_ha);
  CHECK_FALSE(rate_unit_from_name("gal/ac").has_value());
  CHECK(rate_unit_name(RateUnit::l_per_ha) == "L/ha");
}

TEST_CASE("ISO 11783 DDI raw values for volume and mass per area", "[rates][kernel]") {
  // Guards DDI 0001 (0.01 mm3/m2: raw = L/ha x 10000) and DDI 0006 (mg/m2: raw = kg/ha x 100),
  // rounding to nearest, and range checks.
  CHECK(ddi_0001_raw_from_l_per_ha(12.0) == 120000);
  CHECK(ddi_0001_raw_from_l_per_ha(15.0) == 150000);
  CHECK(ddi_0001_raw_from_l_per_ha(18.0) == 180000);
  CHECK(ddi_0001_raw_from_l_per_ha(1.23456) == 12346);  // 12345.6 -> nearest
  CHECK(ddi_0001_raw_from_l_per_ha(0.0) == 0);
  CHECK(l_per_ha_from_ddi_0001_raw(120000) == 12.0);
  CHECK(ddi_0006_raw_from_kg_per_ha(25.0) == 2500);
  CHECK(ddi_0006_raw_from_kg_per_ha(0.125) == 13);  // 12.5 exactly: half away from zero
  CHECK(ddi_0006_raw_from_kg_per_ha(0.124) == 12);
  CHECK(kg_per_ha_from_ddi_0006_raw(2500) == 25.0);

  const DdiSetpoint per_mu = isoxml_setpoint(1.0, RateUnit::l_per_mu);  // = 15 L/ha
  CHECK(per_mu.ddi == kDdiSetpointVolumePerArea);
  CHECK(per_mu.raw == 150000);
  const DdiSetpoint mass = isoxml_setpoint(2.0, RateUnit::kg_per_mu);  // = 30 kg/ha
  CHECK(mass.ddi == kDdiSetpointMassPerArea);
  CHECK(mass.raw == 3000);

  CHECK_THROWS_WITH(ddi_0001_raw_from_l_per_ha(-1.0), Catch::Contains(">= 0"));
  CHECK_THROWS_WITH(ddi_0001_raw_from_l_per_ha(300000.0), Catch::Contains("int32"));
}
