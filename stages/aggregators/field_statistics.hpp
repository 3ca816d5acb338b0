// SPDX-License-Identifier: Apache-2.0
#pragma once
// Per-field statistics of one layer (an index or a band): a pure, mergeable accumulator.
//
// What it computes: count, mean, standard deviation (population, ddof = 0, as numpy.std's
// default), min, max, percentiles (default 2/10/50/90/98) and a histogram.
//   Percentile definition: linear interpolation between order statistics, numpy's default
//   (method 'linear', Hyndman & Fan 1996 type 7): h = (n - 1) p / 100,
//   q = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
//   Histogram: `histogram_bins` equal bins over a fixed range (e.g. [-1, 1] for normalized
//   indices; values outside are counted as below/above) or over the observed [min, max];
//   as numpy.histogram, every bin is half-open except the last, which holds its upper edge.
//
// Nodata: NaN is skipped, and so are ±inf (kernels never produce them; a statistic that is
// infinite would be useless for a rate) — both are counted as `skipped`.
//
// Why it merges exactly: a tile's partial statistics are merged in tile order by the pipeline,
// and the result must be identical at any tile size and thread count. Every float is an integer
// mantissa times a power of two, so sums and sums of squares are kept as exact integers per
// float exponent; merging adds integers, and rounding happens once, when the summary is made.
// Mean and variance are therefore correctly rounded up to 1–3 final roundings (no drift with
// millions of values), and identical however the values were split into partials.
//
// Percentiles are exact while a field has at most `exact_value_limit` values (they are kept,
// 4 bytes each). Beyond that the accumulator switches to a two-level histogram over the bits of
// the float (sign, exponent and the top 15 mantissa bits): range-free, mergeable, and with
// bounded memory (a 32 KB block per occupied 1/8 octave; a few MB for index values). Each order
// statistic is then located in its bin of relative width 2^-15 and interpolated linearly by
// rank inside it, so a percentile is off by at most one bin width: |error| <= 2^-15 |q|
// (3.1e-5 relative; 1.5e-5 at NDVI 0.5), and never outside [min, max]. The mode depends only
// on the total count, so it, too, is the same for any split. In that mode an observed-range
// histogram is rebinned from the fine bins (a value within 2^-15 |x| of an output bin edge may
// be counted in the neighbouring bin); fixed-range histograms are always counted exactly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

#include "stages/filters/index_kernels.hpp"

namespace fieldrx {

struct StatisticsOptions {
  std::vector<double> percentiles{2, 10, 50, 90, 98};  // in percent, each in [0, 100]
  int histogram_bins = 20;
  bool histogram_fixed_range = true;  // false: bins over the observed [min, max]
  double histogram_min = -1.0, histogram_max = 1.0;
  // Values kept for exact percentiles (4 bytes each); beyond it, the fine histogram.
  std::size_t exact_value_limit = 4'000'000;

  // A normalized index in [-1, 1] (NDVI, NDRE, GNDVI...).
  static StatisticsOptions normalized_index(int bins = 20);
  // Any layer: bins over what the field holds (reflectance, CI, EVI...).
  static StatisticsOptions observed_range(int bins = 20);

  // Throws std::invalid_argument naming the bad member (a programming error by now: the
  // stage that binds user options reports them with their option names first).
  void validate() const;
  bool operator==(const StatisticsOptions&) const = default;
};

struct Histogram {
  double lower = 0, upper = 0;         // edges of the first and last bin
  std::vector<std::uint64_t> counts;   // bins of width (upper - lower) / counts.size()
  std::uint64_t below = 0, above = 0;  // outside a fixed range; 0 for the observed range
  bool exact = true;                   // false: rebinned from the fine histogram (see above)
  double edge(std::size_t i) const;    // i in [0, counts.size()]
};

struct StatisticsSummary {
  std::uint64_t count = 0;     // finite values used
  std::uint64_t skipped = 0;   // NaN / ±inf values offered (inside the field, but nodata)
  double mean, std, min, max;  // NaN when count == 0; std is the population std (ddof = 0)
  std::vector<double> percentile_ranks;  // in percent, as asked
  std::vector<double> percentiles;       // same order; NaN when count == 0
  bool percentiles_exact = true;
  Histogram histogram;

  // The value for a rank that was asked for; throws std::out_of_range otherwise.
  double percentile(double rank_percent) const;
};

// Exact sums of floats and of their squares (see above). Also used for band means.
class ExactMoments {
 public:
  void add(float value);  // value must be finite
  void merge(const ExactMoments& other);
  std::uint64_t count() const { return count_; }
  // NaN when count() == 0. Variance is the population variance, >= 0.
  double mean() const;
  double variance() const;
  bool operator==(const ExactMoments&) const;

 private:
  // Bucket b in [1, 254] holds floats with biased exponent max(E, 1): |x| = m * 2^(b - 150).
  __extension__ typedef __int128 Int128;
  __extension__ typedef unsigned __int128 UInt128;
  std::array<Int128, 256> sum_{};      // Σ ±m
  std::array<UInt128, 256> sum_sq_{};  // Σ m²
  std::uint64_t count_ = 0;
  int lowest_ = 256, highest_ = -1;  // occupied buckets, to keep the loops short
};

class FieldStatistics {
 public:
  explicit FieldStatistics(StatisticsOptions options = {});
  FieldStatistics(FieldStatistics&&) noexcept;
  FieldStatistics& operator=(FieldStatistics&&) noexcept;
  FieldStatistics(const FieldStatistics& other);
  FieldStatistics& operator=(const FieldStatistics& other);
  ~FieldStatistics();

  // Adds the values (NaN / ±inf skipped); with a mask, only where mask != 0.
  void add(std::span<const float> values);
  void add(std::span<const float> values, std::span<const std::uint8_t> mask);
  // A CV_32F layer and an optional CV_8U mask of the same size (empty Mat: no mask).
  void add(const cv::Mat& values, const cv::Mat& mask = cv::Mat());

  // Appends another partial (same options, else std::invalid_argument). Merging partials in
  // any grouping gives exactly the statistics of adding all values at once.
  void merge(const FieldStatistics& other);

  std::uint64_t count() const { return moments_.count(); }
  const StatisticsOptions& options() const { return options_; }
  bool exact_percentiles() const { return !fine_; }

  StatisticsSummary summary() const;

 private:
  class FineHistogram;
  struct FixedBins;
  void add_value(float value);
  void switch_to_fine();
  void after_growth();

  StatisticsOptions options_;
  ExactMoments moments_;
  std::uint64_t skipped_ = 0;
  float min_, max_;
  std::vector<std::uint64_t> fixed_counts_;      // fixed-range mode only
  std::shared_ptr<const FixedBins> fixed_bins_;  // immutable, shared by copies
  std::uint64_t below_ = 0, above_ = 0;
  std::vector<float> values_;            // exact mode
  std::unique_ptr<FineHistogram> fine_;  // beyond exact_value_limit
};

// Mean reflectance per band role over the pixels where every band the raster has is valid, and
// "the index of the field's mean reflectance" (index_of_values on those means) as
// plant-phenotyping tools report plot indices (e.g. AgPipeline's transformer-rgb-indices:
// "calculate average of digital numbers across ROI and then apply" the formula). It is not
// the mean of the per-pixel index: for ratios the two differ. Pure and mergeable like above.
class BandMeanAccumulator {
 public:
  // `bands` gives n values per role (nullptr where the raster lacks the role); a pixel counts
  // only if mask is null or mask[i] != 0, and every present band is finite there. The set of
  // present roles must not change between calls (std::invalid_argument).
  void add(const BandRows& bands, std::size_t n, const std::uint8_t* mask = nullptr);
  void merge(const BandMeanAccumulator& other);

  std::uint64_t count() const;  // pixels used
  bool has(BandRole role) const;
  double mean(BandRole role) const;  // NaN when the role is absent or count() == 0
  // The index of the mean band values; NaN when a needed role is absent or nothing was added.
  float index_of_means(const IndexDefinition& index) const;

 private:
  static constexpr std::size_t kRoles = std::size(kAllBandRoles);
  int present_ = -1;  // bit per role; -1 until the first add
  std::array<ExactMoments, kRoles> sums_;
  std::uint64_t pixels_ = 0;
};

}  // namespace fieldrx
