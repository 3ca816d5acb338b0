// SPDX-License-Identifier: Apache-2.0
#pragma once
// aggregators.field_statistics — one pass over a field's pixel window that gathers, for the
// pixels whose centres lie inside the field's treatable area:
//   - statistics of each index and band (count, mean, std, min, max, percentiles, histogram),
//   - the mean band reflectance and the index of those means (as plant-phenotyping tools report),
//   - the mean of each zoning index per prescription-grid cell (WGS84 cells of a few metres),
//   - a block-averaged preview of the main index for the report's map.
// Per-tile partials merge in tile order: identical results at any thread count.
//   Options: percentiles (%), histogram_bins.
//   Sources: statistics definitions in field_statistics.hpp (numpy conventions).
#include <memory>

#include "pipeline/field_prescription.hpp"
#include "pipeline/io/prescription_geometry.hpp"
#include "pipeline/stage.hpp"
#include "stages/aggregators/cell_grid.hpp"

namespace fieldrx {

// The per-field aggregator a prescription pass runs (made by FieldStatisticsAggregator).
class FieldPassAggregator : public Aggregator {
 public:
  struct Setup {
    const Field* field = nullptr;
    CellGridGeometry grid;
    const LonLatTransform* lonlat = nullptr;
    std::vector<std::string> index_layers;    // statistics + grid means for these
    std::vector<std::string> zoning_layers;   // subset of index_layers, gridded
    PixelWindow field_window;                 // the field's pixel window in the raster
    StatisticsOptions index_options, band_options;
    int preview_max_px = 800;
  };
  explicit FieldPassAggregator(Setup setup);
  ~FieldPassAggregator() override;

  // Results after the pass.
  void fill(FieldPrescription& rx) const;

 private:
  void declare_options(OptionSet&) override {}
  void do_prepare(const RasterLayout& layout) override;
  std::unique_ptr<AggregatePartial> do_accumulate(const Tile& tile) const override;
  void do_merge(std::unique_ptr<AggregatePartial> partial) override;

  struct Partial;
  Setup setup_;
  std::vector<int> index_layer_ids_, zoning_layer_ids_;
  std::vector<std::pair<BandRole, int>> band_layer_ids_;
  int preview_factor_ = 1;
  std::unique_ptr<Partial> total_;
};

class FieldStatisticsAggregator : public Aggregator {
 public:
  FieldStatisticsAggregator();
  // A pass aggregator for one field with this stage's options.
  std::unique_ptr<FieldPassAggregator> for_field(FieldPassAggregator::Setup setup) const;

 private:
  void declare_options(OptionSet& options) override;
  void do_prepare(const RasterLayout&) override {}
  std::unique_ptr<AggregatePartial> do_accumulate(const Tile&) const override { return nullptr; }
  void do_merge(std::unique_ptr<AggregatePartial>) override {}

  NumberList percentiles_;
  int histogram_bins_ = 20;
};

}  // namespace fieldrx
