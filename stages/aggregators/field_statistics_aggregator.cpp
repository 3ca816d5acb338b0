// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/field_statistics_aggregator.hpp"

#include <cmath>
#include <limits>

#include "pipeline/errors.hpp"

namespace fieldrx {

struct FieldPassAggregator::Partial : AggregatePartial {
  std::vector<FieldStatistics> index_stats, band_stats;
  BandMeanAccumulator band_means;
  CellAccumulator cells;
  int cell_row0 = 0, cell_col0 = 0;
  CellAccumulator preview;
  int preview_row0 = 0, preview_col0 = 0;
};

FieldPassAggregator::FieldPassAggregator(Setup setup)
    : Aggregator({"aggregators.field_pass", "one field's statistics and grid means (made per field)",
                  "stages/aggregators/field_statistics.hpp"}),
      setup_(std::move(setup)) {}

FieldPassAggregator::~FieldPassAggregator() = default;

void FieldPassAggregator::do_prepare(const RasterLayout& layout) {
  auto require = [&](const std::string& name) {
    const int id = layout.find_layer(name);
    if (id < 0) throw StageError("layer '" + name + "' is not computed; add it to the indices");
    return id;
  };
  for (const auto& name : setup_.index_layers) index_layer_ids_.push_back(require(name));
  for (const auto& name : setup_.zoning_layers) zoning_layer_ids_.push_back(require(name));
  for (BandRole role : kAllBandRoles) {
    const int id = layout.find_layer(std::string(band_role_name(role)));
    if (id >= 0) band_layer_ids_.emplace_back(role, id);
  }
  const PixelWindow& w = setup_.field_window;
  preview_factor_ = std::max(1, static_cast<int>(std::ceil(std::max(w.width, w.height) / double(setup_.preview_max_px))));
  total_ = std::make_unique<Partial>();
  for (std::size_t i = 0; i < index_layer_ids_.size(); ++i) total_->index_stats.emplace_back(setup_.index_options);
  for (std::size_t i = 0; i < band_layer_ids_.size(); ++i) total_->band_stats.emplace_back(setup_.band_options);
  total_->cells = CellAccumulator(setup_.grid.rows, setup_.grid.columns, static_cast<int>(zoning_layer_ids_.size()));
  total_->preview = CellAccumulator((w.height + preview_factor_ - 1) / preview_factor_,
                                    (w.width + preview_factor_ - 1) / preview_factor_, 1);
}

std::unique_ptr<AggregatePartial> FieldPassAggregator::do_accumulate(const Tile& tile) const {
  const PixelWindow& w = tile.window();
  const std::size_t n = static_cast<std::size_t>(w.pixel_count());
  const cv::Mat mask = field_mask(*setup_.field, tile.georef(), w.width, w.height);
  auto partial = std::make_unique<Partial>();
  for (std::size_t i = 0; i < index_layer_ids_.size(); ++i) {
    partial->index_stats.emplace_back(setup_.index_options);
    partial->index_stats.back().add(tile.layer(index_layer_ids_[i]), mask);
  }
  BandRows rows;
  for (std::size_t i = 0; i < band_layer_ids_.size(); ++i) {
    partial->band_stats.emplace_back(setup_.band_options);
    const cv::Mat& band = tile.layer(band_layer_ids_[i].second);
    partial->band_stats.back().add(band, mask);
    const float* data = band.ptr<float>();
    switch (band_layer_ids_[i].first) {
      case BandRole::blue: rows.blue = data; break;
      case BandRole::green: rows.green = data; break;
      case BandRole::red: rows.red = data; break;
      case BandRole::red_edge: rows.red_edge = data; break;
      case BandRole::nir: rows.nir = data; break;
    }
  }
  if (!band_layer_ids_.empty()) partial->band_means.add(rows, n, mask.ptr<std::uint8_t>());

  // Grid cell of every pixel centre inside the field.
  const CellGridGeometry& grid = setup_.grid;
  const auto a = setup_.lonlat->pixel_centre_affine(tile.georef(), w.width, w.height);
  std::vector<int> cell_rows(n, -1), cell_cols(n, -1), preview_rows(n, -1), preview_cols(n, -1);
  int r_min = grid.rows, r_max = -1, c_min = grid.columns, c_max = -1;
  int pr_min = std::numeric_limits<int>::max(), pr_max = -1, pc_min = std::numeric_limits<int>::max(), pc_max = -1;
  for (int r = 0; r < w.height; ++r) {
    const auto* inside = mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < w.width; ++c) {
      if (!inside[c]) continue;
      const std::size_t i = static_cast<std::size_t>(r) * w.width + c;
      const double lon = a[0] + a[1] * (c + 0.5) + a[2] * (r + 0.5);
      const double lat = a[3] + a[4] * (c + 0.5) + a[5] * (r + 0.5);
      const auto cell = grid.cell_coordinates(lon, lat);
      const int cc = static_cast<int>(std::floor(cell[0])), cr = static_cast<int>(std::floor(cell[1]));
      if (cr >= 0 && cr < grid.rows && cc >= 0 && cc < grid.columns) {
        cell_rows[i] = cr, cell_cols[i] = cc;
        r_min = std::min(r_min, cr), r_max = std::max(r_max, cr);
        c_min = std::min(c_min, cc), c_max = std::max(c_max, cc);
      }
      const int pr = (w.row + r - setup_.field_window.row) / preview_factor_;
      const int pc = (w.col + c - setup_.field_window.col) / preview_factor_;
      preview_rows[i] = pr, preview_cols[i] = pc;
      pr_min = std::min(pr_min, pr), pr_max = std::max(pr_max, pr);
      pc_min = std::min(pc_min, pc), pc_max = std::max(pc_max, pc);
    }
  }
  if (r_max >= 0) {
    for (std::size_t i = 0; i < n; ++i) {
      if (cell_rows[i] >= 0) cell_rows[i] -= r_min, cell_cols[i] -= c_min;
    }
    std::vector<const float*> values;
    for (int id : zoning_layer_ids_) values.push_back(tile.layer(id).ptr<float>());
    partial->cells = CellAccumulator(r_max - r_min + 1, c_max - c_min + 1, static_cast<int>(values.size()));
    partial->cells.add(cell_rows.data(), cell_cols.data(), values, n);
    partial->cell_row0 = r_min, partial->cell_col0 = c_min;
  }
  if (pr_max >= 0 && !index_layer_ids_.empty()) {
    for (std::size_t i = 0; i < n; ++i) {
      if (preview_rows[i] >= 0) preview_rows[i] -= pr_min, preview_cols[i] -= pc_min;
    }
    partial->preview = CellAccumulator(pr_max - pr_min + 1, pc_max - pc_min + 1, 1);
    partial->preview.add(preview_rows.data(), preview_cols.data(), {tile.layer(index_layer_ids_[0]).ptr<float>()}, n);
    partial->preview_row0 = pr_min, partial->preview_col0 = pc_min;
  }
  return partial;
}

void FieldPassAggregator::do_merge(std::unique_ptr<AggregatePartial> partial_base) {
  auto& partial = static_cast<Partial&>(*partial_base);
  for (std::size_t i = 0; i < partial.index_stats.size(); ++i) total_->index_stats[i].merge(partial.index_stats[i]);
  for (std::size_t i = 0; i < partial.band_stats.size(); ++i) total_->band_stats[i].merge(partial.band_stats[i]);
  total_->band_means.merge(partial.band_means);
  if (partial.cells.rows() > 0) total_->cells.merge_at(partial.cells, partial.cell_row0, partial.cell_col0);
  if (partial.preview.rows() > 0) total_->preview.merge_at(partial.preview, partial.preview_row0, partial.preview_col0);
}

void FieldPassAggregator::fill(FieldPrescription& rx) const {
  for (std::size_t i = 0; i < index_layer_ids_.size(); ++i) {
    rx.index_statistics.push_back({setup_.index_layers[i], total_->index_stats[i].summary()});
  }
  for (std::size_t i = 0; i < band_layer_ids_.size(); ++i) {
    rx.band_statistics.push_back({std::string(band_role_name(band_layer_ids_[i].first)), total_->band_stats[i].summary()});
  }
  for (const auto& index : index_catalog()) {
    const float value = total_->band_means.index_of_means(index);
    if (std::isfinite(value)) rx.index_of_mean_reflectance[std::string(index.name)] = value;
  }
  rx.valid_pixels = index_layer_ids_.empty() ? 0 : static_cast<long long>(total_->index_stats[0].count());
  rx.zoning_layers = setup_.zoning_layers;
  rx.cell_means.clear();
  for (std::size_t i = 0; i < zoning_layer_ids_.size(); ++i) rx.cell_means.push_back(total_->cells.means(static_cast<int>(i)));
  rx.index_preview = total_->preview.means(0);
}

FieldStatisticsAggregator::FieldStatisticsAggregator()
    : Aggregator({"aggregators.field_statistics",
                  "per-field statistics of every index and band, band means, grid-cell means for zoning",
                  "https://numpy.org/doc/stable/reference/generated/numpy.percentile.html"}) {}

void FieldStatisticsAggregator::declare_options(OptionSet& options) {
  options.add("percentiles", percentiles_, "percentiles to report", NumberList{2, 10, 50, 90, 98}).unit("%");
  options.add("histogram_bins", histogram_bins_, "histogram bins over each layer's observed range", 20).range(2, 1000);
}

std::unique_ptr<FieldPassAggregator> FieldStatisticsAggregator::for_field(FieldPassAggregator::Setup setup) const {
  for (double p : percentiles_) {
    if (!(p >= 0 && p <= 100)) throw ConfigError("option 'percentiles': " + std::to_string(p) + " is outside [0, 100]");
  }
  setup.index_options = StatisticsOptions::observed_range(histogram_bins_);
  setup.index_options.percentiles = percentiles_;
  setup.band_options = setup.index_options;
  return std::make_unique<FieldPassAggregator>(std::move(setup));
}

}  // namespace fieldrx
