// SPDX-License-Identifier: Apache-2.0
#pragma once
// aggregators.prescription — a rate per zone, clamped to the label and the machine, and totals.
//   Input: zones with their mean index and exact clipped areas.
//   Output: the rate of every zone and grid cell, total product, tank loads, warnings.
//   Options: rates (per zone, low index first), rate_mode (absolute | percent_of_base),
//   base_rate, rate_function (index,rate pairs: the rate of a zone follows its mean index),
//   unit (L/ha, kg/ha, L/mu, kg/mu), label_min_rate / label_max_rate, machine, machines_dir,
//   product, position_lost (average | zero).
//   Flow envelope Q[L/min] = rate[L/ha] x swath[m] x speed[m/s] x 0.006; tank loads
//   ceil(V (1 + reserve) / (tank - dead volume)) (docs/prescription-practice.md).
#include "pipeline/field_prescription.hpp"
#include "pipeline/stage.hpp"
#include "stages/aggregators/rate_kernels.hpp"

namespace fieldrx {

class PrescriptionAggregator : public Stage {
 public:
  PrescriptionAggregator();
  // Loads the machine profile and checks the options against each other; call once.
  void validate(int zone_count);
  const MachineProfile& machine() const { return machine_; }
  RateUnit unit() const { return unit_; }
  // Fills zone rates, rx.rates (per cell, 0 where not treated), totals, tank loads, warnings.
  // rx.zone_rows must hold each zone's exact area; `treated_cells` marks cells that get a rate.
  void prescribe(FieldPrescription& rx, const cv::Mat& treated_cells) const;

 private:
  void declare_options(OptionSet& options) override;
  NumberList rates_;
  std::string rate_mode_;
  double base_rate_ = 0;
  NumberList rate_function_;
  std::string unit_name_;
  double label_min_ = 0, label_max_ = 0;
  std::string machine_name_, machines_dir_, product_, position_lost_;
  MachineProfile machine_;
  RateUnit unit_ = RateUnit::l_per_ha;
};

}  // namespace fieldrx
