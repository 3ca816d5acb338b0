// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/zone_kernels.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vector>

#include "pipeline/errors.hpp"

namespace {

using namespace fieldrx;

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

cv::Mat raster(int rows, int cols, const std::vector<float>& values) {
  REQUIRE(values.size() == static_cast<std::size_t>(rows * cols));
  return cv::Mat(rows, cols, CV_32FC1, const_cast<float*>(values.data())).clone();
}

cv::Mat row_raster(const std::vector<float>& values) {
  return raster(1, static_cast<int>(values.size()), values);
}

cv::Mat zone_map(int rows, int cols, const std::vector<int>& zones) {
  REQUIRE(zones.size() == static_cast<std::size_t>(rows * cols));
  cv::Mat map(rows, cols, CV_8UC1);
  for (int i = 0; i < rows * cols; ++i) map.at<std::uint8_t>(i / cols, i % cols) = zones[i];
  return map;
}

std::vector<int> zones_of(const cv::Mat& map) {
  std::vector<int> out;
  for (int r = 0; r < map.rows; ++r) {
    for (int c = 0; c < map.cols; ++c) out.push_back(map.at<std::uint8_t>(r, c));
  }
  return out;
}

std::vector<int> zone_counts(const cv::Mat& map, int zone_count) {
  std::vector<int> counts(zone_count, 0);
  for (int z : zones_of(map)) {
    if (z > 0) ++counts.at(z - 1);
  }
  return counts;
}

// California employment density, 58 counties: PySAL's `calempdensity.csv`, as copied in
// riatelab/statsbreaks test/test-data.js. Published results on it: Fisher-Jenks k=5 upper bounds
// 75.29, 192.05, 370.5, 722.85, 4111.45 with counts 49, 3, 4, 1, 1 (mapclassify
// test_mapclassify.py TestFisherJenks; statsbreaks jenks.test.js); equal interval k=5 bins
// 822.394, 1644.658, 2466.922, 3289.186 with counts 57, 0, 0, 0, 1 (mapclassify Equal_Interval
// docstring); quantile k=5 counts 12, 11, 12, 11, 12 (statsbreaks quantile.test.js).
const std::vector<float> kCalEmpDensity = {
    329.92f, 0.42f,  5.9f,    14.03f,  2.78f, 1.34f,  181.27f, 1.65f,    10.03f, 16.7f,
    1.32f,   3.99f,  3.16f,   0.22f,   8.7f,  6.56f,  3.27f,   0.33f,    370.5f, 4.51f,
    75.29f,  0.99f,  2.74f,   8.68f,   0.14f, 0.92f,  12.63f,  28.7f,    12.02f, 722.85f,
    36.68f,  0.74f,  29.82f,  192.05f, 3.38f, 11.15f, 110.74f, 4111.45f, 49.47f, 10.33f,
    317.11f, 20.47f, 264.93f, 66.26f,  5.39f, 0.13f,  0.61f,   50.65f,   40.48f, 36.67f,
    13.09f,  1.81f,  0.2f,    7.6f,    2.51f, 57.26f, 24.32f,  6.97f};

// Sum of squared deviations from class means of sorted `values` cut by upper-inclusive thresholds.
double within_class_ss(std::vector<double> values, const std::vector<double>& thresholds) {
  std::sort(values.begin(), values.end());
  double total = 0.0;
  std::size_t first = 0;
  for (std::size_t t = 0; t <= thresholds.size(); ++t) {
    std::size_t last = first;
    while (last < values.size() && (t == thresholds.size() || values[last] <= thresholds[t]))
      ++last;
    if (last > first) {
      double mean = 0.0;
      for (std::size_t i = first; i < last; ++i) mean += values[i];
      mean /= static_cast<double>(last - first);
      for (std::size_t i = first; i < last; ++i) total += (values[i] - mean) * (values[i] - mean);
    }
    first = last;
  }
  return total;
}

// Independent reference: Fisher's plain O(k n^2) dynamic programme over the sorted values, with
// classes allowed to split ties (so it can only be <= the tie-respecting optimum, and equal to it).
double fisher_minimum_ss(std::vector<double> values, int k) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  std::vector<double> s1(n + 1, 0.0), s2(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    s1[i + 1] = s1[i] + values[i];
    s2[i + 1] = s2[i] + values[i] * values[i];
  }
  auto cost = [&](std::size_t a, std::size_t b) {  // values a..b-1
    const double w = static_cast<double>(b - a);
    const double s = s1[b] - s1[a];
    return std::max(0.0, s2[b] - s2[a] - s * s / w);
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> prev(n + 1, inf), cur(n + 1, inf);
  for (std::size_t j = 1; j <= n; ++j) prev[j] = cost(0, j);
  for (int c = 2; c <= k; ++c) {
    std::fill(cur.begin(), cur.end(), inf);
    for (std::size_t j = static_cast<std::size_t>(c); j <= n; ++j) {
      for (std::size_t i = static_cast<std::size_t>(c) - 1; i < j; ++i) {
        cur[j] = std::min(cur[j], prev[i] + cost(i, j));
      }
    }
    std::swap(prev, cur);
  }
  return prev[n];
}

std::vector<double> as_doubles(const std::vector<float>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

TEST_CASE("quantile breaks split sorted values into equal counts, upper-inclusive",
          "[zones][kernel]") {
  // Guards the quantile rule (threshold = s[round(j n / k) - 1]) and upper-inclusive classes.
  const cv::Mat values = row_raster({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  const ZoneBreaks breaks = quantile_breaks(values, 3);
  // n = 10, k = 3: round(3.33) = 3 -> s[2] = 3; round(6.67) = 7 -> s[6] = 7.
  REQUIRE(breaks.thresholds == std::vector<double>{3.0, 7.0});
  const cv::Mat zones = classify_by_breaks(values, breaks);
  CHECK(zones_of(zones) == std::vector<int>{3, 3, 3, 2, 2, 2, 2, 1, 1, 1});

  // Published counts on the California data: 12, 11, 12, 11, 12 (statsbreaks).
  const cv::Mat cal = row_raster(kCalEmpDensity);
  const ZoneBreaks cal_breaks = quantile_breaks(cal, 5);
  CHECK(cal_breaks.thresholds == std::vector<double>{1.34f, 5.39f, 13.09f, 50.65f});
  CHECK(zone_counts(classify_by_breaks(cal, cal_breaks), 5) ==
        std::vector<int>{12, 11, 12, 11, 12});
}

TEST_CASE("quantile breaks drop thresholds that ties make equal", "[zones][kernel]") {
  // Guards against empty or duplicated quantile zones when most values are tied.
  // 9 values, 6 of them 1: k = 3 gives s[2] = 1 and s[5] = 1 -> one threshold, 2 zones.
  const cv::Mat values = row_raster({1, 1, 1, 1, 1, 1, 2, 3, 4});
  const ZoneBreaks breaks = quantile_breaks(values, 3);
  CHECK(breaks.thresholds == std::vector<double>{1.0});
  CHECK(breaks.zone_count() == 2);
  CHECK(zone_counts(classify_by_breaks(values, breaks), 2) == std::vector<int>{6, 3});
}

TEST_CASE("equal interval breaks clip outliers to the 2-98 % range by default", "[zones][kernel]") {
  // Guards the percentile clipping (type 7) and that clipped values still get the end zones.
  std::vector<float> v;
  for (int i = 0; i < 100; ++i) v.push_back(static_cast<float>(i));
  v.push_back(1000.0f);  // one outlier, e.g. a metal roof
  const cv::Mat values = row_raster(v);

  // n = 101: P2 = s[2] = 2, P98 = s[98] = 98; thresholds 2 + 96 j / 4 = 26, 50, 74.
  const ZoneBreaks clipped = equal_interval_breaks(values, 4);
  CHECK(clipped.thresholds == std::vector<double>{26.0, 50.0, 74.0});
  // 0..26 -> 27 cells, 27..50 -> 24, 51..74 -> 24, 75..99 and the outlier -> 26.
  CHECK(zone_counts(classify_by_breaks(values, clipped), 4) == std::vector<int>{27, 24, 24, 26});

  // Without clipping the outlier squeezes the whole field into zone 1.
  const ZoneBreaks plain = equal_interval_breaks(values, 4, 0.0, 100.0);
  CHECK(plain.thresholds == std::vector<double>{250.0, 500.0, 750.0});
  CHECK(zone_counts(classify_by_breaks(values, plain), 4) == std::vector<int>{100, 0, 0, 1});

  // Published (mapclassify Equal_Interval, k = 5) on the California data.
  const cv::Mat cal = row_raster(kCalEmpDensity);
  const ZoneBreaks cal_breaks = equal_interval_breaks(cal, 5, 0.0, 100.0);
  REQUIRE(cal_breaks.thresholds.size() == 4);
  CHECK(cal_breaks.thresholds[0] == Approx(822.394).epsilon(1e-6));
  CHECK(cal_breaks.thresholds[1] == Approx(1644.658).epsilon(1e-6));
  CHECK(cal_breaks.thresholds[2] == Approx(2466.922).epsilon(1e-6));
  CHECK(cal_breaks.thresholds[3] == Approx(3289.186).epsilon(1e-6));
  CHECK(zone_counts(classify_by_breaks(cal, cal_breaks), 5) == std::vector<int>{57, 0, 0, 0, 1});

  CHECK_THROWS_WITH(equal_interval_breaks(values, 4, 98.0, 2.0),
                    Catch::Contains("0 <= clip_low_percent < clip_high_percent <= 100"));
}

TEST_CASE("jenks breaks match the published Fisher-Jenks result on the California data",
          "[zones][kernel]") {
  // Guards exactness of the natural-breaks optimiser against mapclassify / statsbreaks.
  const cv::Mat cal = row_raster(kCalEmpDensity);
  const ZoneBreaks breaks = jenks_breaks(cal, 5);
  REQUIRE(breaks.thresholds.size() == 4);
  CHECK(breaks.thresholds[0] == Approx(75.29).epsilon(1e-6));
  CHECK(breaks.thresholds[1] == Approx(192.05).epsilon(1e-6));
  CHECK(breaks.thresholds[2] == Approx(370.5).epsilon(1e-6));
  CHECK(breaks.thresholds[3] == Approx(722.85).epsilon(1e-6));
  CHECK(zone_counts(classify_by_breaks(cal, breaks), 5) == std::vector<int>{49, 3, 4, 1, 1});
}

TEST_CASE("jenks breaks match published small examples", "[zones][kernel]") {
  // Guards the optimiser on inputs whose optimal classes are published (and brute-force checked).
  // schnerd/ckmeans test: clusters start at 1, 12, 43, 123, 234, 1244 for k = 6.
  const ZoneBreaks six = jenks_breaks(row_raster({1, 2, 4, 5, 12, 43, 52, 123, 234, 1244}), 6);
  CHECK(six.thresholds == std::vector<double>{5, 12, 52, 123, 234});
  // 42arch/Jenks README: natural breaks [0.5, 15, 45, 120] for k = 3 (unsorted input).
  const ZoneBreaks three =
      jenks_breaks(row_raster({1, 2, 5, 15, 45, 89.3f, 112, 31, 120, 0.5f}), 3);
  CHECK(three.thresholds == std::vector<double>{15, 45});
  // Two obvious groups.
  const ZoneBreaks two = jenks_breaks(row_raster({0.81f, 0.2f, 0.8f, 0.21f, 0.79f, 0.19f}), 2);
  CHECK(two.thresholds == std::vector<double>{0.21f});
}

TEST_CASE("jenks breaks reach the minimum within-class sum of squares found by Fisher's DP",
          "[zones][kernel]") {
  // Guards the divide-and-conquer DP over weighted distinct values against the plain O(k n^2) DP,
  // with many ties (values on a 0.01 grid) and with continuous values.
  std::mt19937 random(1234);
  for (int trial = 0; trial < 12; ++trial) {
    const bool ties = trial % 2 == 0;
    const int n = 60 + 40 * trial;
    std::normal_distribution<float> low(0.35f, 0.05f), high(0.75f, 0.08f);
    std::vector<float> v;
    for (int i = 0; i < n; ++i) {
      float x = (i % 3 == 0) ? low(random) : high(random);
      if (ties) x = std::round(x * 100.0f) / 100.0f;
      v.push_back(x);
    }
    for (int k = 2; k <= 7; ++k) {
      const ZoneBreaks breaks = jenks_breaks(row_raster(v), k);
      REQUIRE(breaks.zone_count() == k);
      const double got = within_class_ss(as_doubles(v), breaks.thresholds);
      const double best = fisher_minimum_ss(as_doubles(v), k);
      INFO("trial " << trial << " n " << n << " k " << k);
      CHECK(got == Approx(best).epsilon(1e-9).margin(1e-12));
    }
  }
}

TEST_CASE("all methods give one zone when all values are equal", "[zones][kernel]") {
  // Guards the degenerate field: no crash, one zone, no thresholds, GVF undefined (NaN).
  const cv::Mat values = raster(2, 3, {0.5f, 0.5f, kNaNf, 0.5f, 0.5f, 0.5f});
  for (ZoneMethod method :
       {ZoneMethod::quantile, ZoneMethod::equal_interval, ZoneMethod::jenks, ZoneMethod::kmeans}) {
    ZoningOptions options;
    options.method = method;
    options.zone_count = 4;
    const Zoning zoning = make_zones({values}, options);
    INFO(zone_method_name(method));
    CHECK(zoning.zone_count == 1);
    CHECK(zones_of(zoning.zone_map) == std::vector<int>{1, 1, 0, 1, 1, 1});
    CHECK(std::isnan(goodness_of_variance_fit(values, zoning.zone_map)));
  }
}

TEST_CASE("fewer distinct values than zones give one zone per distinct value", "[zones][kernel]") {
  // Guards the documented rule: d <= k distinct values -> d zones, each value its own zone.
  const cv::Mat values = raster(2, 4, {9, 1, 5, kNaNf, 1, 5, 1, 9});
  for (ZoneMethod method :
       {ZoneMethod::quantile, ZoneMethod::equal_interval, ZoneMethod::jenks, ZoneMethod::kmeans}) {
    ZoningOptions options;
    options.method = method;
    options.zone_count = 5;
    const Zoning zoning = make_zones({values}, options);
    INFO(zone_method_name(method));
    CHECK(zoning.zone_count == 3);
    CHECK(zones_of(zoning.zone_map) == std::vector<int>{3, 1, 2, 0, 1, 2, 1, 3});
    if (method != ZoneMethod::kmeans) CHECK(zoning.breaks.thresholds == std::vector<double>{1, 5});
  }
  // Exactly as many distinct values as zones: the same rule (every value its own zone).
  CHECK(jenks_breaks(values, 3).thresholds == std::vector<double>{1, 5});
  CHECK(quantile_breaks(values, 3).thresholds == std::vector<double>{1, 5});
}

TEST_CASE("NaN and infinite cells get no zone and do not shift the breaks", "[zones][kernel]") {
  // Guards nodata handling: non-finite cells are ignored by every method and classified as 0.
  const float inf = std::numeric_limits<float>::infinity();
  const cv::Mat values = raster(3, 3, {1, kNaNf, 2, 3, inf, 10, 11, -inf, 12});
  const ZoneBreaks breaks = jenks_breaks(values, 2);
  CHECK(breaks.thresholds == std::vector<double>{3});
  CHECK(zones_of(classify_by_breaks(values, breaks)) ==
        std::vector<int>{1, 0, 1, 1, 0, 2, 2, 0, 2});

  const cv::Mat all_nan = raster(1, 3, {kNaNf, kNaNf, kNaNf});
  CHECK_THROWS_AS(jenks_breaks(all_nan, 3), StageError);
  CHECK_THROWS_WITH(quantile_breaks(all_nan, 3), Catch::Contains("no finite value"));
  CHECK_THROWS_AS(fit_kmeans_zones({all_nan}, 3), StageError);
}

TEST_CASE("zone kernels reject bad arguments with messages that say what would be right",
          "[zones][kernel]") {
  // Guards argument validation: zone count range, Mat type, window size, method/layer mismatch.
  const cv::Mat values = row_raster({1, 2, 3, 4});
  CHECK_THROWS_WITH(jenks_breaks(values, 8), Catch::Contains("zone_count 8 is outside 2..7"));
  CHECK_THROWS_WITH(quantile_breaks(values, 1), Catch::Contains("outside 2..7"));
  cv::Mat doubles(1, 4, CV_64FC1, cv::Scalar(1.0));
  CHECK_THROWS_WITH(jenks_breaks(doubles, 3), Catch::Contains("CV_32F"));
  CHECK_THROWS_WITH(majority_filter(zone_map(1, 2, {1, 2}), 4),
                    Catch::Contains("use 3 (3x3) or 5 (5x5)"));
  ZoningOptions options;
  options.method = ZoneMethod::jenks;
  CHECK_THROWS_WITH(make_zones({values, values}, options), Catch::Contains("use 'kmeans'"));
  CHECK_THROWS_WITH(classify_by_breaks(values, ZoneBreaks{{2.0, 1.0}}),
                    Catch::Contains("strictly ascending"));
  CHECK(zone_method_from_name("equal_interval") == ZoneMethod::equal_interval);
  CHECK_FALSE(zone_method_from_name("natural").has_value());
}

TEST_CASE("k-means zones are ordered by the first layer and deterministic", "[zones][kernel]") {
  // Guards k-means++ with a fixed seed (same zones every run), z-scoring, and renumbering so
  // zone 1 has the lowest mean of layer 0 even when layer 1 orders the clusters differently.
  std::vector<float> ndvi, second;
  std::vector<int> expected;
  // Three groups of 30 cells: NDVI ~0.2 / 0.5 / 0.8, second layer ~300 / 100 / 200.
  const float ndvi_centre[3] = {0.8f, 0.2f, 0.5f};
  const float second_centre[3] = {200.0f, 300.0f, 100.0f};
  const int zone_of_group[3] = {3, 1, 2};
  for (int i = 0; i < 90; ++i) {
    const int group = i % 3;
    const float jitter = static_cast<float>((i * 7) % 11 - 5);
    ndvi.push_back(ndvi_centre[group] + 0.004f * jitter);
    second.push_back(second_centre[group] + 2.0f * jitter);
    expected.push_back(zone_of_group[group]);
  }
  second[4] = kNaNf;  // a cell missing in one layer gets no zone
  expected[4] = 0;
  const std::vector<cv::Mat> layers = {raster(9, 10, ndvi), raster(9, 10, second)};

  ZoningOptions options;
  options.method = ZoneMethod::kmeans;
  options.zone_count = 3;
  const Zoning first = make_zones(layers, options);
  REQUIRE(first.zone_count == 3);
  CHECK(zones_of(first.zone_map) == expected);
  const KMeansModel& model = *first.kmeans;
  CHECK(model.centroids[0][0] < model.centroids[1][0]);
  CHECK(model.centroids[1][0] < model.centroids[2][0]);
  CHECK(model.centroids[0][1] == Approx(300.0).margin(2.0));
  CHECK(model.centroids[1][1] == Approx(100.0).margin(2.0));

  // Same input and seed: bit-identical result.
  const Zoning again = make_zones(layers, options);
  CHECK(zones_of(again.zone_map) == zones_of(first.zone_map));
  CHECK(again.kmeans->centroids == model.centroids);
  CHECK(again.kmeans->within_ss_z == model.within_ss_z);
  // Another seed finds the same well-separated zones (numbering does not depend on the seed).
  options.kmeans.seed = 7;
  CHECK(zones_of(make_zones(layers, options).zone_map) == expected);
}

TEST_CASE("k-means z-scores each layer so a large-unit layer does not dominate",
          "[zones][kernel]") {
  // Guards the per-layer normalisation: layer 0 is bimodal (0/1), layer 1 is uniform on 0..995;
  // in z units splitting layer 0 leaves within-SS ~n, splitting layer 1 ~1.25 n.
  std::vector<float> bimodal, uniform_wide;
  std::vector<int> expected;
  for (int i = 0; i < 200; ++i) {
    bimodal.push_back(i < 100 ? 0.0f : 1.0f);
    uniform_wide.push_back(static_cast<float>((i * 37) % 200) * 5.0f);
    expected.push_back(i < 100 ? 1 : 2);
  }
  const std::vector<cv::Mat> layers = {raster(10, 20, bimodal), raster(10, 20, uniform_wide)};
  const KMeansModel model = fit_kmeans_zones(layers, 2);
  CHECK(zones_of(classify_by_centroids(layers, model)) == expected);
  CHECK(model.layer_means[0] == Approx(0.5));
  CHECK(model.layer_stddevs[0] == Approx(0.5));
  CHECK(model.centroids[0][0] == 0.0);
  CHECK(model.centroids[1][0] == 1.0);
}

TEST_CASE("goodness of variance fit by hand", "[zones][kernel]") {
  // Guards GVF = 1 - SDCM/SDAM, the cells it uses, and the multi-layer mean.
  // Values 1,2,3 | 10,11,12: mean 6.5, SDAM = 2 (5.5^2 + 4.5^2 + 3.5^2) = 125.5, SDCM = 2 + 2.
  const cv::Mat values = raster(2, 4, {1, 2, 3, kNaNf, 10, 11, 12, 50});
  const cv::Mat zones =
      zone_map(2, 4, {1, 1, 1, 2, 2, 2, 2, 0});  // NaN cell and no-zone 50 skipped
  CHECK(goodness_of_variance_fit(values, zones) == Approx(1.0 - 4.0 / 125.5).epsilon(1e-12));
  // Second layer 0,0,1 | 0,0,1: each zone's SDCM equals the total: GVF 0. Mean of the two.
  const cv::Mat second = raster(2, 4, {0, 0, 1, kNaNf, 0, 0, 1, 7});
  CHECK(goodness_of_variance_fit(second, zones) == Approx(0.0).margin(1e-12));
  CHECK(goodness_of_variance_fit_layers({values, second}, zones) ==
        Approx((1.0 - 4.0 / 125.5) / 2.0).epsilon(1e-12));
  // Jenks k = 5 on the California data: 1 - 26654.78397 / 17032797.34149 (SDCM of the published
  // optimum, SDAM of the 58 values; both computed independently in Python).
  const cv::Mat cal = row_raster(kCalEmpDensity);
  CHECK(goodness_of_variance_fit(cal, classify_by_breaks(cal, jenks_breaks(cal, 5))) ==
        Approx(0.9984350906).epsilon(1e-6));
}

TEST_CASE("GVF by zone count helps choose the number of zones", "[zones][kernel]") {
  // Guards fit_by_zone_count: one entry per 2..7, Jenks GVF never decreases with more zones,
  // and the reported zone count drops when values have few levels.
  const cv::Mat cal = row_raster(kCalEmpDensity);
  ZoningOptions options;
  options.method = ZoneMethod::jenks;
  const auto fits = fit_by_zone_count({cal}, options);
  REQUIRE(fits.size() == 6);
  for (std::size_t i = 0; i < fits.size(); ++i) {
    CHECK(fits[i].requested_zone_count == static_cast<int>(i) + 2);
    CHECK(fits[i].zone_count == static_cast<int>(i) + 2);
    if (i > 0) CHECK(fits[i].gvf >= fits[i - 1].gvf);
  }
  CHECK(fits[3].gvf == Approx(0.9984350906).epsilon(1e-6));

  const cv::Mat three_levels = row_raster({0.2f, 0.2f, 0.5f, 0.5f, 0.8f, 0.8f, 0.8f});
  options.method = ZoneMethod::quantile;
  const auto level_fits = fit_by_zone_count({three_levels}, options);
  CHECK(level_fits[0].zone_count == 2);
  CHECK(level_fits[1].zone_count == 3);
  CHECK(level_fits[1].gvf == Approx(1.0));
  CHECK(level_fits[5].zone_count == 3);
}

TEST_CASE("majority filter replaces lone cells and keeps the centre on ties", "[zones][kernel]") {
  // Guards the mode rule, the documented tie rule and that 0 cells neither vote nor change.
  // A lone zone-2 cell inside zone 1 becomes 1; the 0 cell stays 0 and does not spread.
  const cv::Mat lone = zone_map(3, 3, {1, 1, 1, 1, 2, 1, 1, 1, 0});
  CHECK(zones_of(majority_filter(lone, 3)) == std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1, 0});

  // Tie including the centre: 1 x4 (with centre), 2 x4, 3 x1 -> keeps 1.
  const cv::Mat tie_with_centre = zone_map(3, 3, {1, 1, 1, 2, 1, 2, 2, 2, 3});
  CHECK(majority_filter(tie_with_centre, 3).at<std::uint8_t>(1, 1) == 1);
  // Tie between two other zones: 2 x4, 3 x4, centre 1 -> keeps 1 (no arbitrary pick).
  const cv::Mat tie_without_centre = zone_map(3, 3, {2, 2, 2, 2, 1, 3, 3, 3, 3});
  CHECK(majority_filter(tie_without_centre, 3).at<std::uint8_t>(1, 1) == 1);
  // A strict winner: 2 x5, 1 x3, 3 x1 -> 2.
  const cv::Mat winner = zone_map(3, 3, {2, 2, 2, 2, 1, 2, 1, 1, 3});
  CHECK(majority_filter(winner, 3).at<std::uint8_t>(1, 1) == 2);

  // At the field edge only zone cells vote: 2 has 1 vote, 1 has 2 -> 1; never 0.
  const cv::Mat edge = zone_map(3, 3, {0, 0, 0, 0, 2, 1, 0, 0, 1});
  CHECK(zones_of(majority_filter(edge, 3)) == std::vector<int>{0, 0, 0, 0, 1, 1, 0, 0, 1});
  // A zone cell whose window holds only itself keeps its zone.
  const cv::Mat alone = zone_map(3, 3, {0, 0, 0, 0, 3, 0, 0, 0, 0});
  CHECK(zones_of(majority_filter(alone, 5)) == zones_of(alone));

  // 3x3 vs 5x5: a 2-cell-wide strip of zone 2 (columns 2 and 3 of a 5x6 field of zone 1)
  // survives the 3x3 filter but not the 5x5 one.
  std::vector<int> strip;
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 6; ++c) strip.push_back((c == 2 || c == 3) ? 2 : 1);
  }
  const cv::Mat strip_map = zone_map(5, 6, strip);
  // 3x3 centred on (2,2): zone 2 at columns 2,3 -> 6 votes vs 3: stays 2.
  CHECK(majority_filter(strip_map, 3).at<std::uint8_t>(2, 2) == 2);
  // 5x5 centred on (2,2): columns 0..4: zone 2 at 2,3 -> 10 votes vs 15: becomes 1.
  CHECK(majority_filter(strip_map, 5).at<std::uint8_t>(2, 2) == 1);
  // The input is not modified.
  CHECK(zones_of(strip_map) == strip);
}

TEST_CASE("minimum patch size in cells from an area", "[zones][kernel]") {
  // Guards the m2 -> cells conversion the stage uses (ceil, no float-noise extra cell).
  CHECK(min_patch_cells_for_area(1000.0, 10.0) == 10);  // 0.1 ha on 10 m cells
  CHECK(min_patch_cells_for_area(500.0, 7.0) == 11);    // 500 / 49 = 10.2
  CHECK(min_patch_cells_for_area(0.0, 10.0) == 1);
  CHECK(min_patch_cells_for_area(0.07 * 10000.0, 10.0) == 7);
  CHECK_THROWS_WITH(min_patch_cells_for_area(1000.0, 0.0), Catch::Contains("cell_size_m"));
  CHECK_THROWS_WITH(min_patch_cells_for_area(-1.0, 10.0), Catch::Contains("min_area_m2"));
}

TEST_CASE("small patches merge into the most similar neighbouring zone", "[zones][kernel]") {
  // Guards the merge target: nearest zone mean first, longest border on ties, isolated islands
  // kept and reported, vanished zones reported.
  // Zone 2 patch (2 cells) touches zone 1 along 4 edges and zone 3 along 2 edges.
  const cv::Mat map = zone_map(4, 6, {1, 1, 1, 3, 3, 3,  //
                                      1, 1, 2, 3, 3, 3,  //
                                      1, 1, 2, 3, 3, 3,  //
                                      1, 1, 1, 3, 3, 3});
  SECTION("equal distance: the longest border wins") {
    const auto result = merge_small_patches(map, std::vector<double>{1.0, 2.0, 3.0}, 3);
    CHECK(result.zone_map.at<std::uint8_t>(1, 2) == 1);
    CHECK(result.zone_map.at<std::uint8_t>(2, 2) == 1);
    REQUIRE(result.merges.size() == 1);
    CHECK(result.merges[0].from_zone == 2);
    CHECK(result.merges[0].to_zone == 1);
    CHECK(result.merges[0].cells == 2);
    CHECK(result.merges[0].row == 1);
    CHECK(result.merges[0].col == 2);
    CHECK(result.vanished_zones == std::vector<int>{2});
    CHECK(result.isolated.empty());
  }
  SECTION("a closer mean beats a longer border") {
    const auto result = merge_small_patches(map, std::vector<double>{1.0, 2.0, 2.5}, 3);
    CHECK(result.zone_map.at<std::uint8_t>(1, 2) == 3);
    CHECK(result.zone_map.at<std::uint8_t>(2, 2) == 3);
  }
  SECTION("means computed from the classifying values") {
    // Zone 2 values 0.55 are closer to zone 3 (0.6) than zone 1 (0.3).
    std::vector<float> v;
    for (int z : zones_of(map)) v.push_back(z == 1 ? 0.3f : z == 2 ? 0.55f : 0.6f);
    const auto result = merge_small_patches(map, raster(4, 6, v), 3);
    CHECK(result.zone_map.at<std::uint8_t>(1, 2) == 3);
  }
  SECTION("patches at the minimum stay") {
    const auto result = merge_small_patches(map, std::vector<double>{1.0, 2.0, 3.0}, 2);
    CHECK(zones_of(result.zone_map) == zones_of(map));
    CHECK(result.merges.empty());
  }
}

TEST_CASE("patch merging repeats until merged patches reach the minimum, and keeps islands",
          "[zones][kernel]") {
  // Guards iteration (a merged union still too small is merged again) and isolated islands.
  // Row 0: a zone-3 cell next to a 2-cell zone-2 patch next to a big zone-1 area; row 4: an
  // island of one zone-2 cell surrounded by no-zone cells.
  const cv::Mat map = zone_map(5, 6, {3, 2, 2, 1, 1, 1,  //
                                      0, 0, 0, 1, 1, 1,  //
                                      0, 0, 0, 1, 1, 1,  //
                                      0, 0, 0, 0, 0, 0,  //
                                      0, 2, 0, 0, 0, 0});
  // Means: zone 3 (0.9) is closest to zone 2 (0.7); zone 2 closest to 1 (0.5) as only option.
  const auto result = merge_small_patches(map, std::vector<double>{0.5, 0.7, 0.9}, 4);
  // 1st: the 1-cell zone-3 patch joins zone 2 -> a 3-cell zone-2 patch, still < 4;
  // 2nd (the island is skipped: no neighbour): that patch joins zone 1.
  CHECK(zones_of(result.zone_map) == std::vector<int>{1, 1, 1, 1, 1, 1,  //
                                                      0, 0, 0, 1, 1, 1,  //
                                                      0, 0, 0, 1, 1, 1,  //
                                                      0, 0, 0, 0, 0, 0,  //
                                                      0, 2, 0, 0, 0, 0});
  REQUIRE(result.merges.size() == 2);
  CHECK(result.merges[0].from_zone == 3);
  CHECK(result.merges[0].to_zone == 2);
  CHECK(result.merges[1].from_zone == 2);
  CHECK(result.merges[1].to_zone == 1);
  CHECK(result.merges[1].cells == 3);
  REQUIRE(result.isolated.size() == 1);
  CHECK(result.isolated[0].zone == 2);
  CHECK(result.isolated[0].cells == 1);
  CHECK(result.isolated[0].row == 4);
  CHECK(result.isolated[0].col == 1);
  CHECK(result.vanished_zones == std::vector<int>{3});
}

TEST_CASE("after merging no patch below the minimum survives unless isolated (random 200x200)",
          "[zones][kernel]") {
  // Guards the merge guarantee on a noisy map, checked with OpenCV's own 4-connected labelling.
  std::mt19937 random(20240611);
  std::uniform_int_distribution<int> zone_draw(1, 5), percent(0, 99);
  const int size = 200;
  cv::Mat map(size, size, CV_8UC1);
  std::vector<int> block_zone(50 * 50);
  for (int& z : block_zone) z = zone_draw(random);
  for (int r = 0; r < size; ++r) {
    for (int c = 0; c < size; ++c) {
      int z = block_zone[(r / 4) * 50 + c / 4];
      if (percent(random) < 30) z = zone_draw(random);  // salt-and-pepper
      if (percent(random) < 6) z = 0;                   // scattered no-data
      map.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>(z);
    }
  }
  // Islands of the field smaller than the minimum: 1- and 2-cell patches ringed by no-zone cells.
  for (int i = 0; i < 6; ++i) {
    const int r0 = 10 + 30 * i, c0 = 20 + 25 * i;
    map(cv::Rect(c0 - 1, r0 - 1, 4, 3)).setTo(0);
    map.at<std::uint8_t>(r0, c0) = static_cast<std::uint8_t>(1 + i % 5);
    if (i % 2 == 1) map.at<std::uint8_t>(r0, c0 + 1) = static_cast<std::uint8_t>(1 + i % 5);
  }
  const int min_cells = 12;
  std::vector<double> means = {0.2, 0.35, 0.5, 0.65, 0.8};
  const auto result = merge_small_patches(map, means, min_cells);
  const cv::Mat& out = result.zone_map;

  // No-zone cells unchanged, zone cells stay zone cells.
  CHECK(cv::countNonZero((map == 0) != (out == 0)) == 0);

  int small_patches = 0;
  bool small_patch_has_neighbour = false;
  int large_input_cells_changed = 0;
  for (int zone = 1; zone <= 5; ++zone) {
    // Cells of input patches that already met the minimum never change zone.
    cv::Mat labels_in, stats_in, centroids_in;
    const int n_in =
        cv::connectedComponentsWithStats(map == zone, labels_in, stats_in, centroids_in, 4, CV_32S);
    for (int r = 0; r < size; ++r) {
      for (int c = 0; c < size; ++c) {
        const int label = labels_in.at<int>(r, c);
        if (label > 0 && label < n_in && stats_in.at<int>(label, cv::CC_STAT_AREA) >= min_cells) {
          if (out.at<std::uint8_t>(r, c) != zone) ++large_input_cells_changed;
        }
      }
    }
    cv::Mat labels, stats, centroids;
    const int n =
        cv::connectedComponentsWithStats(out == zone, labels, stats, centroids, 4, CV_32S);
    for (int label = 1; label < n; ++label) {
      if (stats.at<int>(label, cv::CC_STAT_AREA) >= min_cells) continue;
      ++small_patches;
      // A small survivor must have no 4-neighbour of another zone.
      for (int r = 0; r < size; ++r) {
        for (int c = 0; c < size; ++c) {
          if (labels.at<int>(r, c) != label) continue;
          const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
          for (int d = 0; d < 4; ++d) {
            const int rr = r + dr[d], cc = c + dc[d];
            if (rr < 0 || rr >= size || cc < 0 || cc >= size) continue;
            const int other = out.at<std::uint8_t>(rr, cc);
            if (other != 0 && other != zone) small_patch_has_neighbour = true;
          }
        }
      }
    }
  }
  CHECK(large_input_cells_changed == 0);
  CHECK_FALSE(small_patch_has_neighbour);
  CHECK(small_patches == static_cast<int>(result.isolated.size()));
  CHECK(small_patches >= 6);  // the planted islands at least
  CHECK(result.merges.size() > 100);
}

TEST_CASE("zone summary counts cells and averages finite values", "[zones][kernel]") {
  // Guards the per-zone summary: empty zones listed, NaN values counted as cells only.
  const cv::Mat zones = zone_map(2, 3, {1, 1, 3, 0, 3, 3});
  const cv::Mat values = raster(2, 3, {0.2f, 0.4f, kNaNf, 0.9f, 0.6f, 0.8f});
  const auto summary = summarize_zones(zones, values, 3);
  REQUIRE(summary.size() == 3);
  CHECK(summary[0].zone == 1);
  CHECK(summary[0].cell_count == 2);
  CHECK(summary[0].mean_value == Approx(0.3));
  CHECK(summary[1].cell_count == 0);
  CHECK(std::isnan(summary[1].mean_value));
  CHECK(summary[2].cell_count == 3);
  CHECK(summary[2].value_count == 2);
  CHECK(summary[2].mean_value == Approx(0.7));
  CHECK_THROWS_WITH(summarize_zones(zones, values, 2), Catch::Contains("has zone 3"));
}
