// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/field_statistics.hpp"

#include <gdal_priv.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "pipeline/io/gdal_io.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Bitwise equality of two doubles, NaN equal to NaN: merged partials must be *identical*.
bool same(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

void require_identical(const StatisticsSummary& a, const StatisticsSummary& b) {
  REQUIRE(a.count == b.count);
  REQUIRE(a.skipped == b.skipped);
  REQUIRE(same(a.mean, b.mean));
  REQUIRE(same(a.std, b.std));
  REQUIRE(same(a.min, b.min));
  REQUIRE(same(a.max, b.max));
  REQUIRE(a.percentiles.size() == b.percentiles.size());
  for (std::size_t i = 0; i < a.percentiles.size(); ++i) {
    INFO("percentile " << a.percentile_ranks[i]);
    REQUIRE(same(a.percentiles[i], b.percentiles[i]));
  }
  REQUIRE(a.percentiles_exact == b.percentiles_exact);
  REQUIRE(same(a.histogram.lower, b.histogram.lower));
  REQUIRE(same(a.histogram.upper, b.histogram.upper));
  REQUIRE(a.histogram.counts == b.histogram.counts);
  REQUIRE(a.histogram.below == b.histogram.below);
  REQUIRE(a.histogram.above == b.histogram.above);
}

// A band of a GeoTIFF as CV_32F with its nodata value turned into NaN.
cv::Mat read_band(const std::string& path, int band_number) {
  configure_gdal(64 << 20);
  DatasetPtr dataset = open_raster(path);
  GDALRasterBand* band = dataset->GetRasterBand(band_number);
  cv::Mat out(dataset->GetRasterYSize(), dataset->GetRasterXSize(), CV_32F);
  REQUIRE(band->RasterIO(GF_Read, 0, 0, out.cols, out.rows, out.data, out.cols, out.rows,
                         GDT_Float32, 0, 0) == CE_None);
  int has_nodata = 0;
  const double nodata = band->GetNoDataValue(&has_nodata);
  if (has_nodata) out.setTo(kNaNf, out == static_cast<float>(nodata));
  return out;
}

cv::Mat index_layer(const char* name, const cv::Mat& a, const cv::Mat& b, BandRole role_a,
                    BandRole role_b) {
  const IndexDefinition* index = find_index(name);
  REQUIRE(index != nullptr);
  BandRows rows;
  auto set = [&](BandRole role, const float* p) {
    switch (role) {
      case BandRole::blue:
        rows.blue = p;
        break;
      case BandRole::green:
        rows.green = p;
        break;
      case BandRole::red:
        rows.red = p;
        break;
      case BandRole::red_edge:
        rows.red_edge = p;
        break;
      case BandRole::nir:
        rows.nir = p;
        break;
    }
  };
  set(role_a, a.ptr<float>());
  set(role_b, b.ptr<float>());
  cv::Mat out(a.size(), CV_32F);
  index->compute(rows, out.ptr<float>(), a.total());
  return out;
}

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> canopy(0.62f, 0.08f);
  std::normal_distribution<float> soil(0.18f, 0.04f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> values(n);
  for (auto& v : values) {
    const float u = unit(rng);
    // A bimodal field (soil and canopy), some nodata, a few tiny and negative values.
    v = u < 0.05f ? kNaNf : u < 0.35f ? soil(rng) : u < 0.36f ? -unit(rng) * 1e-6f : canopy(rng);
  }
  return values;
}

std::uint64_t ndvi_stats_count(const cv::Mat& index) {
  FieldStatistics stats;
  stats.add(index);
  return stats.count();
}

}  // namespace

TEST_CASE("field statistics: hand-worked values with NaN", "[fields][kernel]") {
  // Guards the definitions: population std, numpy 'linear' percentiles, NaN skipped.
  FieldStatistics stats(StatisticsOptions::observed_range(3));
  const std::vector<float> values{1.0f, 2.0f, kNaNf, 4.0f};
  stats.add(values);
  const StatisticsSummary s = stats.summary();
  REQUIRE(s.count == 3);
  REQUIRE(s.skipped == 1);
  REQUIRE(s.mean == Approx(7.0 / 3.0).epsilon(1e-15));
  REQUIRE(s.std == Approx(std::sqrt(14.0 / 9.0)).epsilon(1e-15));  // ddof = 0
  REQUIRE(s.min == 1.0);
  REQUIRE(s.max == 4.0);
  // n = 3: h = 2 p / 100.
  REQUIRE(s.percentile(2) == Approx(1.04).epsilon(1e-15));
  REQUIRE(s.percentile(10) == Approx(1.2).epsilon(1e-15));
  REQUIRE(s.percentile(50) == 2.0);
  REQUIRE(s.percentile(90) == Approx(3.6).epsilon(1e-15));
  REQUIRE(s.percentile(98) == Approx(3.92).epsilon(1e-15));
  REQUIRE(s.percentiles_exact);
  REQUIRE_THROWS_AS(s.percentile(25), std::out_of_range);
  // Observed range [1, 4] in 3 bins; 4 is the upper edge, counted in the last bin.
  REQUIRE(s.histogram.lower == 1.0);
  REQUIRE(s.histogram.upper == 4.0);
  REQUIRE(s.histogram.counts == std::vector<std::uint64_t>{1, 1, 1});
}

TEST_CASE("field statistics: percentiles as numpy's default", "[fields][kernel]") {
  // Guards the percentile definition against numpy.percentile([3,1,4,1,5,9,2,6], q).
  FieldStatistics stats;
  const std::vector<float> values{3, 1, 4, 1, 5, 9, 2, 6};
  stats.add(values);
  const StatisticsSummary s = stats.summary();
  // sorted 1 1 2 3 4 5 6 9, h = 7 p / 100
  REQUIRE(s.percentile(2) == 1.0);
  REQUIRE(s.percentile(10) == 1.0);
  REQUIRE(s.percentile(50) == 3.5);
  REQUIRE(s.percentile(90) == Approx(6.9).epsilon(1e-15));
  REQUIRE(s.percentile(98) == Approx(8.58).epsilon(1e-15));
  REQUIRE(s.mean == 3.875);
}

TEST_CASE("field statistics: fixed-range histogram edges as numpy", "[fields][kernel]") {
  // Guards bin edges: half-open bins, the last closed, outside values counted apart.
  StatisticsOptions options = StatisticsOptions::normalized_index(4);
  FieldStatistics stats(options);
  const std::vector<float> values{-1.0f, -0.5f, 0.0f, 0.49f, 0.5f, 1.0f, 1.5f, -2.0f, kInf};
  stats.add(values);
  const StatisticsSummary s = stats.summary();
  REQUIRE(s.count == 8);
  REQUIRE(s.skipped == 1);  // +inf is nodata, not a value
  REQUIRE(s.histogram.counts == std::vector<std::uint64_t>{1, 1, 2, 2});
  REQUIRE(s.histogram.below == 1);
  REQUIRE(s.histogram.above == 1);
  REQUIRE(s.histogram.edge(0) == -1.0);
  REQUIRE(s.histogram.edge(2) == 0.0);
  REQUIRE(s.histogram.edge(4) == 1.0);
}

TEST_CASE("field statistics: single value, all NaN, empty, mask", "[fields][kernel]") {
  // Guards the degenerate fields a batch meets: one pixel, only nodata, nothing at all.
  SECTION("single value") {
    FieldStatistics stats(StatisticsOptions::observed_range(5));
    const std::vector<float> values{0.3f};
    stats.add(values);
    const StatisticsSummary s = stats.summary();
    REQUIRE(s.count == 1);
    REQUIRE(s.mean == static_cast<double>(0.3f));
    REQUIRE(s.std == 0.0);
    for (double p : s.percentiles) REQUIRE(p == static_cast<double>(0.3f));
    REQUIRE(s.histogram.counts == std::vector<std::uint64_t>{0, 0, 1, 0, 0});
  }
  SECTION("all NaN") {
    FieldStatistics stats;
    const std::vector<float> values(17, kNaNf);
    stats.add(values);
    const StatisticsSummary s = stats.summary();
    REQUIRE(s.count == 0);
    REQUIRE(s.skipped == 17);
    REQUIRE(std::isnan(s.mean));
    REQUIRE(std::isnan(s.std));
    REQUIRE(std::isnan(s.min));
    REQUIRE(std::isnan(s.max));
    for (double p : s.percentiles) REQUIRE(std::isnan(p));
    REQUIRE(s.histogram.counts == std::vector<std::uint64_t>(20, 0));
  }
  SECTION("empty, observed range") {
    const StatisticsSummary s = FieldStatistics(StatisticsOptions::observed_range(4)).summary();
    REQUIRE(s.count == 0);
    REQUIRE(std::isnan(s.histogram.lower));
    REQUIRE(s.histogram.counts == std::vector<std::uint64_t>(4, 0));
  }
  SECTION("mask selects pixels, as a span and as a cv::Mat") {
    const std::vector<float> values{5, 1, 2, 100, kNaNf, 3};
    const std::vector<std::uint8_t> mask{0, 1, 1, 0, 1, 1};
    FieldStatistics from_span, from_mat;
    from_span.add(values, mask);
    from_mat.add(cv::Mat(2, 3, CV_32F, const_cast<float*>(values.data())),
                 cv::Mat(2, 3, CV_8U, const_cast<std::uint8_t*>(mask.data())));
    const StatisticsSummary s = from_span.summary();
    REQUIRE(s.count == 3);
    REQUIRE(s.skipped == 1);
    REQUIRE(s.mean == 2.0);
    REQUIRE(s.max == 3.0);
    require_identical(s, from_mat.summary());
  }
  SECTION("bad options and mismatched merges are refused") {
    StatisticsOptions bad;
    bad.percentiles = {50, 101};
    REQUIRE_THROWS_AS(FieldStatistics(bad), std::invalid_argument);
    bad = StatisticsOptions{};
    bad.histogram_min = 1;
    bad.histogram_max = 1;
    REQUIRE_THROWS_AS(FieldStatistics(bad), std::invalid_argument);
    FieldStatistics a(StatisticsOptions::normalized_index(10));
    FieldStatistics b(StatisticsOptions::normalized_index(20));
    REQUIRE_THROWS_AS(a.merge(b), std::invalid_argument);
  }
}

TEST_CASE("field statistics: exact sums where doubles cancel", "[fields][kernel]") {
  // Guards the exact moments: naive double sums would give mean 0 and a wrong variance here.
  FieldStatistics stats(StatisticsOptions::observed_range());
  stats.add(std::vector<float>{1e30f, 1.0f, -1e30f});
  REQUIRE(stats.summary().mean == Approx(1.0 / 3.0).epsilon(1e-15));

  // 1e6 + k/16, k = 0..15: variance (16² - 1) / 12 / 256, tiny against the mean².
  FieldStatistics offset(StatisticsOptions::observed_range());
  std::vector<float> values;
  for (int repeat = 0; repeat < 1000; ++repeat) {
    for (int k = 0; k < 16; ++k) values.push_back(1e6f + k / 16.0f);
  }
  offset.add(values);
  const StatisticsSummary s = offset.summary();
  REQUIRE(s.mean == 1e6 + 7.5 / 16.0);
  REQUIRE(s.std * s.std == Approx(255.0 / 12.0 / 256.0).epsilon(1e-14));

  // Constant values: variance exactly 0, not a rounding residue.
  FieldStatistics constant(StatisticsOptions::observed_range());
  constant.add(std::vector<float>(100001, 0.1f));
  REQUIRE(constant.summary().std == 0.0);
  REQUIRE(constant.summary().mean == static_cast<double>(0.1f));
}

TEST_CASE("field statistics: partials merged in order equal the whole", "[fields][kernel]") {
  // Guards tiling and thread-count invariance: any split, merged in order, is bit-identical.
  const std::vector<float> values = random_values(60000, 7);
  for (std::size_t limit : {std::size_t{1} << 30, std::size_t{20000}, std::size_t{500}}) {
    DYNAMIC_SECTION("exact_value_limit " << limit) {
      for (bool fixed : {true, false}) {
        StatisticsOptions options =
            fixed ? StatisticsOptions::normalized_index(50) : StatisticsOptions::observed_range(37);
        options.exact_value_limit = limit;
        options.percentiles = {0, 2, 10, 25, 50, 75, 90, 98, 100};
        FieldStatistics whole(options);
        whole.add(values);
        const StatisticsSummary expected = whole.summary();
        REQUIRE(expected.percentiles_exact == (limit >= values.size()));

        std::mt19937 rng(static_cast<unsigned>(limit) + fixed);
        for (int trial = 0; trial < 4; ++trial) {
          // Random chunk sizes, like odd tiles at the raster's edge, some empty.
          std::vector<FieldStatistics> partials;
          std::size_t at = 0;
          while (at < values.size()) {
            const std::size_t size =
                std::min(values.size() - at, std::size_t(rng() % (trial == 0 ? 7 : 9000)));
            partials.emplace_back(options);
            partials.back().add(std::span<const float>(values.data() + at, size));
            at += size;
          }
          // In order, left to right (as the pipeline merges tiles)...
          FieldStatistics merged(options);
          for (const auto& partial : partials) merged.merge(partial);
          require_identical(merged.summary(), expected);
          // ...and as a tree (another grouping of the same order).
          while (partials.size() > 1) {
            std::vector<FieldStatistics> next;
            for (std::size_t i = 0; i < partials.size(); i += 2) {
              next.push_back(std::move(partials[i]));
              if (i + 1 < partials.size()) next.back().merge(partials[i + 1]);
            }
            partials = std::move(next);
          }
          require_identical(partials.front().summary(), expected);
        }
      }
    }
  }
}

TEST_CASE("field statistics: fine-histogram percentiles within the stated bound",
          "[fields][kernel]") {
  // Guards the bounded-memory mode: each percentile within 2^-15 |q| of the exact one.
  const std::vector<float> values = random_values(200000, 11);
  StatisticsOptions exact_options = StatisticsOptions::observed_range(40);
  exact_options.percentiles = {0, 1, 2, 10, 33.3, 50, 90, 98, 99.9, 100};
  StatisticsOptions fine_options = exact_options;
  fine_options.exact_value_limit = 1000;
  FieldStatistics exact(exact_options), fine(fine_options);
  exact.add(values);
  fine.add(values);
  REQUIRE(exact.exact_percentiles());
  REQUIRE_FALSE(fine.exact_percentiles());
  const StatisticsSummary e = exact.summary(), f = fine.summary();
  REQUIRE(e.mean == f.mean);
  REQUIRE(e.std == f.std);
  REQUIRE(e.min == f.min);
  REQUIRE(e.max == f.max);
  for (std::size_t i = 0; i < e.percentiles.size(); ++i) {
    INFO("percentile " << e.percentile_ranks[i] << ": exact " << e.percentiles[i] << ", fine "
                       << f.percentiles[i]);
    REQUIRE(std::abs(f.percentiles[i] - e.percentiles[i]) <=
            std::ldexp(std::abs(e.percentiles[i]), -15) + 1e-12);
  }
  // Rebinned counts: same total, and each bin off by at most the values near its edges.
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < f.histogram.counts.size(); ++i) {
    total += f.histogram.counts[i];
    const double diff = std::abs(static_cast<double>(f.histogram.counts[i]) -
                                 static_cast<double>(e.histogram.counts[i]));
    REQUIRE(diff <= 0.002 * static_cast<double>(e.histogram.counts[i]) + 5);
  }
  REQUIRE(total == f.count);
  REQUIRE_FALSE(f.histogram.exact);
}

TEST_CASE("field statistics: NDVI of 615.tif matches the reference", "[fields][kernel]") {
  // Guards the statistics against GDAL-Python/numpy reference values on a real orthomosaic.
  const std::string path = test::shared_path("data/plantcv-geospatial/615.tif");
  const cv::Mat blue = read_band(path, 1), green = read_band(path, 2), red = read_band(path, 3);
  const cv::Mat red_edge = read_band(path, 4), nir = read_band(path, 5);
  const cv::Mat ndvi = index_layer("ndvi", nir, red, BandRole::nir, BandRole::red);
  const cv::Mat ndre = index_layer("ndre", nir, red_edge, BandRole::nir, BandRole::red_edge);
  const cv::Mat gndvi = index_layer("gndvi", nir, green, BandRole::nir, BandRole::green);

  for (std::size_t limit : {std::size_t{4'000'000}, std::size_t{1000}}) {
    StatisticsOptions options = StatisticsOptions::normalized_index();
    options.exact_value_limit = limit;
    FieldStatistics stats(options);
    stats.add(ndvi);
    const StatisticsSummary s = stats.summary();
    INFO("exact_value_limit " << limit);
    REQUIRE(s.count + s.skipped == ndvi.total());
    REQUIRE(s.mean == Approx(0.364155).margin(1e-6));
    REQUIRE(s.percentile(50) == Approx(0.28101).margin(5e-6));
    REQUIRE(s.min == Approx(0.18297).margin(5e-6));
    REQUIRE(s.max == Approx(0.82745).margin(5e-6));
    REQUIRE(s.percentiles_exact == (limit > s.count));
  }
  FieldStatistics ndre_stats, gndvi_stats;
  ndre_stats.add(ndre);
  gndvi_stats.add(gndvi);
  REQUIRE(ndre_stats.summary().mean == Approx(0.417015).margin(1e-6));
  REQUIRE(gndvi_stats.summary().mean == Approx(0.187401).margin(1e-6));

  // The index of the mean reflectance, from the same pixels (valid in every band).
  BandMeanAccumulator means;
  BandRows rows{blue.ptr<float>(), green.ptr<float>(), red.ptr<float>(), red_edge.ptr<float>(),
                nir.ptr<float>()};
  means.add(rows, blue.total());
  const double ndvi_of_means = (means.mean(BandRole::nir) - means.mean(BandRole::red)) /
                               (means.mean(BandRole::nir) + means.mean(BandRole::red));
  REQUIRE(means.index_of_means(*find_index("ndvi")) == Approx(ndvi_of_means).epsilon(1e-6));
  REQUIRE(means.count() == ndvi_stats_count(ndvi));
}

TEST_CASE("band means: hand-worked values and the index of the means", "[fields][kernel]") {
  // Guards the plot-index convention: band means over pixels valid in every band, then the index.
  const std::vector<float> red{0.1f, 0.3f, kNaNf, 0.2f};
  const std::vector<float> nir{0.5f, 0.7f, 0.9f, 0.8f};
  const std::vector<std::uint8_t> mask{1, 1, 1, 0};
  BandRows rows;
  rows.red = red.data();
  rows.nir = nir.data();
  BandMeanAccumulator means;
  means.add(rows, red.size(), mask.data());
  REQUIRE(means.count() == 2);  // pixel 2 has no red, pixel 3 is outside the mask
  REQUIRE(means.mean(BandRole::red) == Approx(0.2).epsilon(1e-7));
  REQUIRE(means.mean(BandRole::nir) == Approx(0.6).epsilon(1e-7));
  REQUIRE(std::isnan(means.mean(BandRole::green)));
  // (0.6 - 0.2) / (0.6 + 0.2) = 0.5; the mean of the per-pixel NDVI would be 0.5333.
  REQUIRE(means.index_of_means(*find_index("ndvi")) == Approx(0.5f).epsilon(1e-6));
  REQUIRE(std::isnan(means.index_of_means(*find_index("ndre"))));  // no red edge

  // Same result from two halves merged in order; bands must not change between calls.
  BandMeanAccumulator first, second;
  first.add(rows, 2, mask.data());
  BandRows tail{nullptr, nullptr, red.data() + 2, nullptr, nir.data() + 2};
  second.add(tail, 2, mask.data() + 2);
  first.merge(second);
  REQUIRE(first.mean(BandRole::red) == means.mean(BandRole::red));
  REQUIRE(first.mean(BandRole::nir) == means.mean(BandRole::nir));
  BandRows other = rows;
  other.green = nir.data();
  REQUIRE_THROWS_AS(first.add(other, 1), std::invalid_argument);
  REQUIRE(std::isnan(BandMeanAccumulator().index_of_means(*find_index("ndvi"))));
}

TEST_CASE("band means: AgPipeline's published plot indices of rgb_1_2_E.tif", "[fields][kernel]") {
  // Guards "index of the mean band values" against an independent tool's published values.
  const std::string path = test::shared_path("data/agpipeline-maricopa-rgb/rgb_1_2_E.tif");
  const cv::Mat r = read_band(path, 1), g = read_band(path, 2), b = read_band(path, 3);
  const cv::Mat alpha = read_band(path, 4);
  cv::Mat mask;
  cv::compare(alpha, 0, mask, cv::CMP_GT);
  mask /= 255;
  BandMeanAccumulator means;
  BandRows rows{b.ptr<float>(), g.ptr<float>(), r.ptr<float>(), nullptr, nullptr};
  means.add(rows, r.total(), mask.ptr<std::uint8_t>());
  // rgb_plot.csv: excess greenness 14, green leaf index 0.02, NGRDI -0.02 (rounded as
  // published: to integers and two decimals).
  INFO("means r " << means.mean(BandRole::red) << " g " << means.mean(BandRole::green) << " b "
                  << means.mean(BandRole::blue));
  REQUIRE(means.index_of_means(*find_index("exg")) == Approx(14).margin(0.5));
  REQUIRE(means.index_of_means(*find_index("gli")) == Approx(0.02).margin(0.005));
  REQUIRE(means.index_of_means(*find_index("ngrdi")) == Approx(-0.02).margin(0.005));
}
