// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/prescription_aggregator.hpp"
#include "stages/aggregators/cell_grid.hpp"

#include <cmath>
#include <limits>

#include "pipeline/errors.hpp"

namespace fieldrx {

PrescriptionAggregator::PrescriptionAggregator()
    : Stage({"aggregators.prescription",
             "rate per zone (absolute, % of base, or a function of the index), clamped to label and machine; totals, tank loads",
             "docs: shared/docs/prescription-practice.md; ISO 11783-10 DDI 0001/0006"}) {}

void PrescriptionAggregator::declare_options(OptionSet& options) {
  options.add("rates", rates_, "rate of each zone, zone 1 (lowest index) first; in 'unit', or % with percent_of_base",
              NumberList{});
  options.add("rate_mode", rate_mode_, "how 'rates' are meant", "absolute").choices({"absolute", "percent_of_base"});
  options.add("base_rate", base_rate_, "base rate for percent_of_base, in 'unit'", 0.0).range(0, 1e6);
  options.add("rate_function", rate_function_,
              "instead of 'rates': index,rate pairs of a piecewise-linear rate over the zone's mean index, e.g. 0.3,20,0.8,10",
              NumberList{});
  options.add("unit", unit_name_, "rate unit", "L/ha").choices({"L/ha", "kg/ha", "L/mu", "kg/mu", "l/ha", "l/mu"});
  options.add("label_min_rate", label_min_, "the product label's minimum rate, in 'unit' (0 = none)", 0.0).range(0, 1e6);
  options.add("label_max_rate", label_max_, "the product label's maximum rate, in 'unit' (0 = none)", 0.0).range(0, 1e6);
  options.add("machine", machine_name_, "machine profile name in machines_dir, or a YAML path (empty: no machine limits)", "");
  options.add("machines_dir", machines_dir_, "folder of machine profiles", "configs/machines");
  options.add("product", product_, "product name in ISOXML and reports", "spray mix");
  options.add("position_lost", position_lost_, "rate when the receiver loses position: field average or zero", "average")
      .choices({"average", "zero"});
}

void PrescriptionAggregator::validate(int zone_count) {
  unit_ = *rate_unit_from_name(unit_name_);
  machine_ = machine_name_.empty() ? generic_machine_profile() : load_machine_profile(machine_name_, machines_dir_);
  const std::string where = "stage 'aggregators.prescription': ";
  if (rate_function_.empty()) {
    if (static_cast<int>(rates_.size()) != zone_count) {
      throw ConfigError(where + "option 'rates' gives " + std::to_string(rates_.size()) + " rates for " +
                        std::to_string(zone_count) + " zones; give one rate per zone, zone 1 (lowest index) first, e.g. 12,15,18");
    }
    if (rate_mode_ == "percent_of_base" && !(base_rate_ > 0)) {
      throw ConfigError(where + "rate_mode percent_of_base needs option 'base_rate' > 0");
    }
  } else if (rate_function_.size() < 4 || rate_function_.size() % 2 != 0) {
    throw ConfigError(where + "option 'rate_function' needs index,rate pairs (at least two), e.g. 0.3,20,0.8,10");
  }
  if (label_max_ > 0 && label_min_ > label_max_) {
    throw ConfigError(where + "label_min_rate is above label_max_rate");
  }
}

void PrescriptionAggregator::prescribe(FieldPrescription& rx, const cv::Mat& treated_cells) const {
  // Rates per zone number 1..k in the chosen unit.
  const int k = rx.zones_requested;
  std::vector<double> zone_rates;
  if (!rate_function_.empty()) {
    std::vector<RatePoint> points;
    for (std::size_t i = 0; i + 1 < rate_function_.size(); i += 2) points.push_back({rate_function_[i], rate_function_[i + 1]});
    PiecewiseLinearRate function(points);
    zone_rates.assign(static_cast<std::size_t>(std::max(k, 1)), 0.0);
    for (const auto& row : rx.zone_rows) zone_rates[static_cast<std::size_t>(row.zone - 1)] = function.rate_at(row.mean_index);
  } else if (rate_mode_ == "percent_of_base") {
    zone_rates = zone_rates_percent_of_base(base_rate_, rates_, k);
  } else {
    zone_rates = zone_rates_absolute(rates_, k);
  }
  LabelRateLimits label;
  label.min_rate = label_min_;
  label.max_rate = label_max_ > 0 ? label_max_ : std::numeric_limits<double>::infinity();
  std::optional<SprayerEnvelope> sprayer;
  if (machine_.has_pump_envelope() && is_volume_rate(unit_)) {
    // The envelope works in L/ha: convert mu rates in and back out.
    sprayer = SprayerEnvelope{machine_.swath_m, machine_.speed_m_per_s, machine_.min_flow_l_per_min,
                              machine_.max_flow_l_per_min};
  }
  std::vector<double> per_ha(zone_rates.size());
  for (std::size_t i = 0; i < zone_rates.size(); ++i) per_ha[i] = convert_rate(zone_rates[i], unit_, is_volume_rate(unit_) ? RateUnit::l_per_ha : RateUnit::kg_per_ha);
  LabelRateLimits label_per_ha = label;
  label_per_ha.min_rate = convert_rate(label.min_rate, unit_, is_volume_rate(unit_) ? RateUnit::l_per_ha : RateUnit::kg_per_ha);
  if (std::isfinite(label.max_rate)) label_per_ha.max_rate = convert_rate(label.max_rate, unit_, is_volume_rate(unit_) ? RateUnit::l_per_ha : RateUnit::kg_per_ha);
  const RateUnit si_unit = is_volume_rate(unit_) ? RateUnit::l_per_ha : RateUnit::kg_per_ha;
  const ClampedRates clamped = clamp_zone_rates(per_ha, si_unit, label_per_ha, sprayer);
  for (const auto& warning : clamped.warnings) rx.warnings.push_back(warning.message);

  rx.rate_unit = std::string(rate_unit_name(si_unit));
  rx.product_name = product_;
  rx.machine = machine_;
  std::vector<ZoneApplication> applications;
  for (auto& row : rx.zone_rows) {
    row.rate = clamped.rates[static_cast<std::size_t>(row.zone - 1)];
    row.product = row.rate * row.area_m2 / kSquareMetresPerHectare;
    applications.push_back(ZoneApplication::from_m2(row.zone, row.rate, row.area_m2));
  }
  const ApplicationTotals totals = application_totals(applications);
  rx.total_product = totals.product_amount;
  rx.treated_area_m2 = totals.area_ha * kSquareMetresPerHectare;
  rx.position_lost_rate = position_lost_ == "average" && std::isfinite(totals.mean_rate_per_ha) ? totals.mean_rate_per_ha : 0.0;
  rx.tank_loads = tank_loads(rx.total_product, machine_.tank_l, machine_.tank_dead_volume_l, machine_.reserve_fraction);

  rx.rates = cell_rates(rx.zones, treated_cells, clamped.rates);
}

}  // namespace fieldrx
