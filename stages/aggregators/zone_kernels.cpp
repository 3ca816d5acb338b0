// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/zone_kernels.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <opencv2/core.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

#include "pipeline/errors.hpp"

namespace fieldrx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string describe_mat(const cv::Mat& m) {
  if (m.empty()) return "an empty Mat";
  static const char* const kDepthNames[] = {"8U", "8S", "16U", "16S", "32S", "32F", "64F", "16F"};
  return "a " + std::to_string(m.rows) + "x" + std::to_string(m.cols) + " CV_" +
         kDepthNames[m.depth()] + "C" + std::to_string(m.channels()) + " Mat";
}

void require_value_raster(const cv::Mat& m, const std::string& where) {
  if (m.empty() || m.dims != 2 || m.type() != CV_32FC1) {
    throw std::invalid_argument(where + ": expected a non-empty single-channel CV_32F raster " +
                                "(NaN = no data), got " + describe_mat(m));
  }
}

void require_zone_map(const cv::Mat& m, const std::string& where) {
  if (m.empty() || m.dims != 2 || m.type() != CV_8UC1) {
    throw std::invalid_argument(where + ": expected a non-empty single-channel CV_8U zone map " +
                                "(0 = no zone, 1..k = zones), got " + describe_mat(m));
  }
}

void require_same_size(const cv::Mat& a, const cv::Mat& b, const std::string& where,
                       const std::string& what) {
  if (a.size() != b.size()) {
    throw std::invalid_argument(where + ": " + what + " is " + std::to_string(b.rows) + "x" +
                                std::to_string(b.cols) + " but the zone map/first layer is " +
                                std::to_string(a.rows) + "x" + std::to_string(a.cols) +
                                "; both must be on the same grid");
  }
}

void require_zone_count(int zone_count, const std::string& where) {
  if (zone_count < kMinZoneCount || zone_count > kMaxZoneCount) {
    throw std::invalid_argument(where + ": zone_count " + std::to_string(zone_count) +
                                " is outside " + std::to_string(kMinZoneCount) + ".." +
                                std::to_string(kMaxZoneCount) +
                                "; practice uses 3-5 zones (default 3)");
  }
}

[[noreturn]] void throw_no_finite_values(const std::string& where) {
  throw StageError(where + ": no finite value in the raster (every cell is NaN: masked or " +
                   "outside the field); check the crop mask and the index layer");
}

std::vector<double> sorted_finite_values(const cv::Mat& values, const std::string& where) {
  require_value_raster(values, where);
  std::vector<double> out;
  out.reserve(values.total());
  for (int r = 0; r < values.rows; ++r) {
    const float* row = values.ptr<float>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (std::isfinite(row[c])) out.push_back(row[c]);
    }
  }
  if (out.empty()) throw_no_finite_values(where);
  std::sort(out.begin(), out.end());
  return out;
}

// The shared "fewer distinct values than zones" rule: with d <= zone_count distinct values each
// one is its own zone (thresholds = every distinct value but the largest).
std::optional<ZoneBreaks> breaks_for_few_distinct_values(const std::vector<double>& sorted,
                                                         int zone_count) {
  std::vector<double> distinct;
  for (double v : sorted) {
    if (distinct.empty() || v != distinct.back()) {
      distinct.push_back(v);
      if (static_cast<int>(distinct.size()) > zone_count) return std::nullopt;
    }
  }
  distinct.pop_back();
  return ZoneBreaks{std::move(distinct)};
}

// Hyndman & Fan (1996) type 7: linear interpolation between order statistics.
double percentile_linear(const std::vector<double>& sorted, double percent) {
  const double h = static_cast<double>(sorted.size() - 1) * percent / 100.0;
  const auto low = static_cast<std::size_t>(std::floor(h));
  if (low + 1 >= sorted.size()) return sorted.back();
  return sorted[low] + (h - static_cast<double>(low)) * (sorted[low + 1] - sorted[low]);
}

bool all_finite(const std::vector<const float*>& rows, int c) {
  for (const float* row : rows) {
    if (!std::isfinite(row[c])) return false;
  }
  return true;
}

void require_layers(const std::vector<cv::Mat>& layers, const std::string& where) {
  if (layers.empty()) {
    throw std::invalid_argument(where + ": no layer given; pass at least one CV_32F index layer");
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    require_value_raster(layers[l], where + ": layer " + std::to_string(l));
    require_same_size(layers[0], layers[l], where, "layer " + std::to_string(l));
  }
}

// Uniform doubles in [0, 1) from mt19937_64's standard-fixed sequence (53 random bits), so the
// k-means seeding is the same on every standard library.
class PortableRandom {
 public:
  explicit PortableRandom(std::uint64_t seed) : engine_(seed) {}
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  std::size_t index_below(std::size_t n) {
    return std::min(n - 1, static_cast<std::size_t>(uniform01() * static_cast<double>(n)));
  }

 private:
  std::mt19937_64 engine_;
};

double squared_distance(const double* a, const double* b, std::size_t dims) {
  double d2 = 0.0;
  for (std::size_t l = 0; l < dims; ++l) d2 += (a[l] - b[l]) * (a[l] - b[l]);
  return d2;
}

struct KMeansRun {
  std::vector<double> centers;  // k x dims
  std::vector<int> labels;
  double within_ss = kInf;
  int k = 0;
};

// Index of the nearest center; ties go to the lower index.
int nearest_center(const double* point, const std::vector<double>& centers, int k,
                   std::size_t dims) {
  int best = 0;
  double best_d2 = kInf;
  for (int c = 0; c < k; ++c) {
    const double d2 = squared_distance(point, &centers[c * dims], dims);
    if (d2 < best_d2) {
      best_d2 = d2;
      best = c;
    }
  }
  return best;
}

KMeansRun run_kmeans_once(const std::vector<double>& points, std::size_t n, std::size_t dims,
                          int k_wanted, int max_iterations, PortableRandom& random) {
  KMeansRun run;
  // k-means++ seeding: each next center drawn with probability proportional to D^2.
  std::vector<double>& centers = run.centers;
  const std::size_t first = random.index_below(n);
  centers.assign(points.begin() + first * dims, points.begin() + (first + 1) * dims);
  std::vector<double> d2(n);
  for (std::size_t i = 0; i < n; ++i)
    d2[i] = squared_distance(&points[i * dims], &centers[0], dims);
  int k = 1;
  while (k < k_wanted) {
    const double total = std::accumulate(d2.begin(), d2.end(), 0.0);
    if (!(total > 0.0)) break;  // every point sits on a center: no more distinct points
    const double target = random.uniform01() * total;
    std::size_t pick = n;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      if (d2[i] <= 0.0) continue;
      cumulative += d2[i];
      pick = i;
      if (cumulative > target) break;
    }
    centers.insert(centers.end(), points.begin() + pick * dims, points.begin() + (pick + 1) * dims);
    for (std::size_t i = 0; i < n; ++i) {
      d2[i] = std::min(d2[i], squared_distance(&points[i * dims], &centers[k * dims], dims));
    }
    ++k;
  }

  // Lloyd iterations.
  std::vector<int>& labels = run.labels;
  labels.assign(n, -1);
  auto assign = [&]() {
    bool changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      const int label = nearest_center(&points[i * dims], centers, k, dims);
      if (label != labels[i]) {
        labels[i] = label;
        changed = true;
      }
    }
    return changed;
  };
  assign();
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    std::vector<double> sums(static_cast<std::size_t>(k) * dims, 0.0);
    std::vector<std::size_t> counts(k, 0);
    for (std::size_t i = 0; i < n; ++i) {
      ++counts[labels[i]];
      for (std::size_t l = 0; l < dims; ++l) sums[labels[i] * dims + l] += points[i * dims + l];
    }
    std::vector<double> own_d2;  // filled lazily, only when a cluster ran empty
    for (int c = 0; c < k; ++c) {
      if (counts[c] > 0) {
        for (std::size_t l = 0; l < dims; ++l) {
          centers[c * dims + l] = sums[c * dims + l] / static_cast<double>(counts[c]);
        }
        continue;
      }
      // Empty cluster: re-seed it on the point farthest from its own center (lowest index on
      // ties), which then certainly moves to it.
      if (own_d2.empty()) {
        own_d2.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          own_d2[i] = squared_distance(&points[i * dims], &centers[labels[i] * dims], dims);
        }
      }
      const std::size_t far =
          static_cast<std::size_t>(std::max_element(own_d2.begin(), own_d2.end()) - own_d2.begin());
      std::copy(points.begin() + far * dims, points.begin() + (far + 1) * dims,
                centers.begin() + c * dims);
      own_d2[far] = 0.0;
    }
    if (!assign()) break;
  }

  // Drop clusters that ended empty (only possible when max_iterations cut Lloyd short).
  std::vector<std::size_t> counts(k, 0);
  for (int label : labels) ++counts[label];
  std::vector<int> renumber(k, -1);
  int kept = 0;
  std::vector<double> kept_centers;
  for (int c = 0; c < k; ++c) {
    if (counts[c] == 0) continue;
    renumber[c] = kept++;
    kept_centers.insert(kept_centers.end(), centers.begin() + c * dims,
                        centers.begin() + (c + 1) * dims);
  }
  for (int& label : labels) label = renumber[label];
  centers = std::move(kept_centers);
  run.k = kept;
  run.within_ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    run.within_ss += squared_distance(&points[i * dims], &centers[labels[i] * dims], dims);
  }
  return run;
}

// Sum of squared deviations from the mean and from the zone means, two passes for accuracy.
struct VarianceSplit {
  double sdam = 0.0;
  double sdcm = 0.0;
};
VarianceSplit variance_split(const cv::Mat& values, const cv::Mat& zone_map,
                             const cv::Mat& use_cell) {
  std::array<double, 256> zone_sum{};
  std::array<double, 256> zone_count{};
  double sum = 0.0;
  double count = 0.0;
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    const std::uint8_t* z = zone_map.ptr<std::uint8_t>(r);
    const std::uint8_t* use = use_cell.ptr<std::uint8_t>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (!use[c]) continue;
      zone_sum[z[c]] += v[c];
      zone_count[z[c]] += 1.0;
      sum += v[c];
      count += 1.0;
    }
  }
  VarianceSplit split;
  if (count == 0.0) return split;
  const double mean = sum / count;
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    const std::uint8_t* z = zone_map.ptr<std::uint8_t>(r);
    const std::uint8_t* use = use_cell.ptr<std::uint8_t>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (!use[c]) continue;
      const double zone_mean = zone_sum[z[c]] / zone_count[z[c]];
      split.sdam += (v[c] - mean) * (v[c] - mean);
      split.sdcm += (v[c] - zone_mean) * (v[c] - zone_mean);
    }
  }
  return split;
}

// Cells with a zone and a finite value in every layer.
cv::Mat cells_to_use(const std::vector<cv::Mat>& layers, const cv::Mat& zone_map) {
  cv::Mat use(zone_map.size(), CV_8UC1, cv::Scalar(0));
  std::vector<const float*> rows(layers.size());
  for (int r = 0; r < zone_map.rows; ++r) {
    for (std::size_t l = 0; l < layers.size(); ++l) rows[l] = layers[l].ptr<float>(r);
    const std::uint8_t* z = zone_map.ptr<std::uint8_t>(r);
    std::uint8_t* out = use.ptr<std::uint8_t>(r);
    for (int c = 0; c < zone_map.cols; ++c) out[c] = (z[c] > 0 && all_finite(rows, c)) ? 1 : 0;
  }
  return use;
}

// Patches (4-connected cells of one zone) of a zone map and the borders between them, with a
// union-find so merged patches act as one.
struct PatchGraph {
  std::vector<int> label;  // per cell (row-major): the patch it started in; -1 = no zone
  // Per patch; only the entries of a union's representative (find(p) == p) stay current.
  std::vector<int> zone, size, first_cell;  // first_cell: raster index of the first cell
  std::vector<std::map<int, int>> border;   // neighbour patch -> shared 4-adjacent cell edges
  std::vector<int> parent;

  int patch_count() const { return static_cast<int>(zone.size()); }

  int find(int p) {
    while (parent[p] != p) {
      parent[p] = parent[parent[p]];
      p = parent[p];
    }
    return p;
  }

  // Joins `members` (representatives, pairwise different) into one patch of `new_zone` and
  // returns its representative. The member with the most neighbours absorbs the others, and
  // only the others' neighbours are re-pointed: a large patch that swallows many small ones
  // one by one costs what the small ones bring, not its own long border every time.
  int join(const std::vector<int>& members, int new_zone) {
    int root = members.front();
    for (int member : members) {
      if (border[member].size() > border[root].size()) root = member;
    }
    const auto is_member = [&](int p) {
      return std::find(members.begin(), members.end(), p) != members.end();
    };
    for (int member : members) {
      if (member == root) continue;
      for (const auto& [neighbour, length] : border[member]) {
        if (is_member(neighbour)) continue;
        border[root][neighbour] += length;
        border[neighbour].erase(member);
        border[neighbour][root] += length;
      }
      border[member].clear();
      border[root].erase(member);
      size[root] += size[member];
      first_cell[root] = std::min(first_cell[root], first_cell[member]);
      parent[member] = root;
    }
    zone[root] = new_zone;
    return root;
  }
};

PatchGraph build_patch_graph(const cv::Mat& zone_map) {
  const int rows = zone_map.rows;
  const int cols = zone_map.cols;
  const auto at = [cols](int r, int c) { return static_cast<std::size_t>(r) * cols + c; };
  PatchGraph graph;
  graph.label.assign(static_cast<std::size_t>(rows) * cols, -1);
  // Breadth-first labelling in raster order, so patch ids and first cells follow raster order.
  std::deque<std::pair<int, int>> frontier;
  for (int r0 = 0; r0 < rows; ++r0) {
    for (int c0 = 0; c0 < cols; ++c0) {
      const std::uint8_t seed_zone = zone_map.at<std::uint8_t>(r0, c0);
      if (seed_zone == 0 || graph.label[at(r0, c0)] >= 0) continue;
      const int id = graph.patch_count();
      graph.zone.push_back(seed_zone);
      graph.size.push_back(0);
      graph.first_cell.push_back(static_cast<int>(at(r0, c0)));
      graph.label[at(r0, c0)] = id;
      frontier.emplace_back(r0, c0);
      while (!frontier.empty()) {
        const auto [r, c] = frontier.front();
        frontier.pop_front();
        ++graph.size[id];
        for (const auto& [nr, nc] :
             {std::pair{r - 1, c}, std::pair{r + 1, c}, std::pair{r, c - 1}, std::pair{r, c + 1}}) {
          if (nr < 0 || nr >= rows || nc < 0 || nc >= cols) continue;
          if (zone_map.at<std::uint8_t>(nr, nc) == seed_zone && graph.label[at(nr, nc)] < 0) {
            graph.label[at(nr, nc)] = id;
            frontier.emplace_back(nr, nc);
          }
        }
      }
    }
  }
  graph.border.resize(graph.zone.size());
  graph.parent.resize(graph.zone.size());
  std::iota(graph.parent.begin(), graph.parent.end(), 0);
  // Two different patches side by side are always of different zones (same zone = same patch).
  const auto add_border = [&](std::size_t a_cell, std::size_t b_cell) {
    const int a = graph.label[a_cell];
    const int b = graph.label[b_cell];
    if (a < 0 || b < 0 || a == b) return;
    ++graph.border[a][b];
    ++graph.border[b][a];
  };
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (c + 1 < cols) add_border(at(r, c), at(r, c + 1));
      if (r + 1 < rows) add_border(at(r, c), at(r + 1, c));
    }
  }
  return graph;
}

bool nearly_equal(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

}  // namespace

std::string_view zone_method_name(ZoneMethod method) {
  switch (method) {
    case ZoneMethod::quantile:
      return "quantile";
    case ZoneMethod::equal_interval:
      return "equal_interval";
    case ZoneMethod::jenks:
      return "jenks";
    case ZoneMethod::kmeans:
      return "kmeans";
  }
  return "?";
}

std::optional<ZoneMethod> zone_method_from_name(std::string_view name) {
  for (ZoneMethod method :
       {ZoneMethod::quantile, ZoneMethod::equal_interval, ZoneMethod::jenks, ZoneMethod::kmeans}) {
    if (zone_method_name(method) == name) return method;
  }
  return std::nullopt;
}

ZoneBreaks quantile_breaks(const cv::Mat& values, int zone_count) {
  const std::string where = "quantile_breaks";
  require_zone_count(zone_count, where);
  const std::vector<double> sorted = sorted_finite_values(values, where);
  if (auto few = breaks_for_few_distinct_values(sorted, zone_count)) return *few;
  const long long n = static_cast<long long>(sorted.size());
  ZoneBreaks breaks;
  for (long long j = 1; j < zone_count; ++j) {
    // round(j*n/k), half up, in integers: no floating-point doubt about exact halves.
    const long long position = std::clamp((2 * j * n + zone_count) / (2LL * zone_count), 1LL, n);
    const double threshold = sorted[position - 1];
    if (threshold < sorted.back() &&
        (breaks.thresholds.empty() || threshold > breaks.thresholds.back())) {
      breaks.thresholds.push_back(threshold);
    }
  }
  return breaks;
}

ZoneBreaks equal_interval_breaks(const cv::Mat& values, int zone_count, double clip_low_percent,
                                 double clip_high_percent) {
  const std::string where = "equal_interval_breaks";
  require_zone_count(zone_count, where);
  if (!(clip_low_percent >= 0.0 && clip_low_percent < clip_high_percent &&
        clip_high_percent <= 100.0)) {
    throw std::invalid_argument(
        where + ": clip percentiles " + std::to_string(clip_low_percent) + ".." +
        std::to_string(clip_high_percent) +
        " are not a range inside 0..100; give 0 <= clip_low_percent < clip_high_percent <= 100 " +
        "(default 2..98, 0..100 = no clipping)");
  }
  const std::vector<double> sorted = sorted_finite_values(values, where);
  if (auto few = breaks_for_few_distinct_values(sorted, zone_count)) return *few;
  const double low = percentile_linear(sorted, clip_low_percent);
  const double high = percentile_linear(sorted, clip_high_percent);
  ZoneBreaks breaks;
  for (int j = 1; j < zone_count; ++j) {
    const double threshold = low + (high - low) * j / zone_count;
    if (breaks.thresholds.empty() || threshold > breaks.thresholds.back()) {
      breaks.thresholds.push_back(threshold);
    }
  }
  return breaks;
}

ZoneBreaks jenks_breaks(const cv::Mat& values, int zone_count) {
  const std::string where = "jenks_breaks";
  require_zone_count(zone_count, where);
  const std::vector<double> sorted = sorted_finite_values(values, where);
  if (auto few = breaks_for_few_distinct_values(sorted, zone_count)) return *few;

  // Distinct values with their counts as weights.
  std::vector<double> x;
  std::vector<double> weight;
  for (double v : sorted) {
    if (x.empty() || v != x.back()) {
      x.push_back(v);
      weight.push_back(0.0);
    }
    weight.back() += 1.0;
  }
  const std::size_t m = x.size();

  // Prefix sums of w, w*x, w*x^2 about the mean (centering and long double keep the
  // S2 - S1^2/W difference accurate when the values sit far from 0, e.g. NDVI 0.80 +- 0.02).
  long double mean = 0.0L;
  for (double v : sorted) mean += v;
  mean /= static_cast<long double>(sorted.size());
  std::vector<long double> w_sum(m + 1, 0.0L), x_sum(m + 1, 0.0L), xx_sum(m + 1, 0.0L);
  for (std::size_t i = 0; i < m; ++i) {
    const long double centred = static_cast<long double>(x[i]) - mean;
    w_sum[i + 1] = w_sum[i] + weight[i];
    x_sum[i + 1] = x_sum[i] + weight[i] * centred;
    xx_sum[i + 1] = xx_sum[i] + weight[i] * centred * centred;
  }
  // Within-class sum of squares of distinct values first..last (inclusive).
  auto class_cost = [&](std::size_t first, std::size_t last) -> double {
    const long double w = w_sum[last + 1] - w_sum[first];
    const long double s = x_sum[last + 1] - x_sum[first];
    const long double ss = xx_sum[last + 1] - xx_sum[first] - s * s / w;
    return static_cast<double>(std::max(ss, 0.0L));
  };

  // previous[j]: least SDCM of values 0..j in c classes; first_of_last[c][j]: where the last
  // class starts in that optimum.
  const auto k = static_cast<std::size_t>(zone_count);
  std::vector<double> previous(m), current(m, kInf);
  std::vector<std::vector<std::size_t>> first_of_last(k, std::vector<std::size_t>(m, 0));
  for (std::size_t j = 0; j < m; ++j) previous[j] = class_cost(0, j);
  for (std::size_t c = 1; c < k; ++c) {
    // Divide and conquer: the optimal start of the last class is non-decreasing in j.
    std::function<void(std::size_t, std::size_t, std::size_t, std::size_t)> solve =
        [&](std::size_t lo, std::size_t hi, std::size_t start_lo, std::size_t start_hi) {
          if (lo > hi) return;
          const std::size_t mid = lo + (hi - lo) / 2;
          double best = kInf;
          std::size_t best_start = std::max(c, start_lo);
          for (std::size_t i = std::max(c, start_lo); i <= std::min(mid, start_hi); ++i) {
            const double cost = previous[i - 1] + class_cost(i, mid);
            if (cost < best) {
              best = cost;
              best_start = i;
            }
          }
          current[mid] = best;
          first_of_last[c][mid] = best_start;
          if (mid > lo) solve(lo, mid - 1, start_lo, best_start);
          solve(mid + 1, hi, best_start, start_hi);
        };
    solve(c, m - 1, c, m - 1);
    std::swap(previous, current);
  }

  ZoneBreaks breaks;
  std::size_t last = m - 1;
  for (std::size_t c = k - 1; c >= 1; --c) {
    const std::size_t start = first_of_last[c][last];
    breaks.thresholds.push_back(x[start - 1]);
    last = start - 1;
  }
  std::reverse(breaks.thresholds.begin(), breaks.thresholds.end());
  return breaks;
}

cv::Mat classify_by_breaks(const cv::Mat& values, const ZoneBreaks& breaks) {
  const std::string where = "classify_by_breaks";
  require_value_raster(values, where);
  const std::vector<double>& t = breaks.thresholds;
  if (t.size() > 254) {
    throw std::invalid_argument(where + ": " + std::to_string(t.size()) +
                                " thresholds make more zones than a CV_8U map holds (255)");
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i]) || (i > 0 && !(t[i] > t[i - 1]))) {
      throw std::invalid_argument(where + ": thresholds must be finite and strictly ascending; " +
                                  "threshold " + std::to_string(i) + " is " + std::to_string(t[i]));
    }
  }
  cv::Mat zones(values.size(), CV_8UC1, cv::Scalar(0));
  for (int r = 0; r < values.rows; ++r) {
    const float* v = values.ptr<float>(r);
    std::uint8_t* z = zones.ptr<std::uint8_t>(r);
    for (int c = 0; c < values.cols; ++c) {
      if (!std::isfinite(v[c])) continue;
      // Thresholds strictly below v; a value equal to a threshold stays in the lower zone.
      z[c] = static_cast<std::uint8_t>(
          1 + (std::lower_bound(t.begin(), t.end(), static_cast<double>(v[c])) - t.begin()));
    }
  }
  return zones;
}

KMeansModel fit_kmeans_zones(const std::vector<cv::Mat>& layers, int zone_count,
                             const KMeansOptions& options) {
  const std::string where = "fit_kmeans_zones";
  require_zone_count(zone_count, where);
  require_layers(layers, where);
  if (options.restarts < 1 || options.max_iterations < 1) {
    throw std::invalid_argument(where + ": restarts " + std::to_string(options.restarts) +
                                " and max_iterations " + std::to_string(options.max_iterations) +
                                " must both be >= 1 (defaults 4 and 100)");
  }
  const std::size_t dims = layers.size();

  // Raw values of the cells where every layer is finite.
  std::vector<double> raw;
  std::vector<const float*> rows(dims);
  for (int r = 0; r < layers[0].rows; ++r) {
    for (std::size_t l = 0; l < dims; ++l) rows[l] = layers[l].ptr<float>(r);
    for (int c = 0; c < layers[0].cols; ++c) {
      if (!all_finite(rows, c)) continue;
      for (std::size_t l = 0; l < dims; ++l) raw.push_back(rows[l][c]);
    }
  }
  const std::size_t n = raw.size() / dims;
  if (n == 0) throw_no_finite_values(where);

  KMeansModel model;
  model.layer_means.assign(dims, 0.0);
  model.layer_stddevs.assign(dims, 0.0);
  for (std::size_t l = 0; l < dims; ++l) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += raw[i * dims + l];
    const double mean = sum / static_cast<double>(n);
    double ss = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      ss += (raw[i * dims + l] - mean) * (raw[i * dims + l] - mean);
    model.layer_means[l] = mean;
    model.layer_stddevs[l] = std::sqrt(ss / static_cast<double>(n));
  }
  // z-scores; a constant layer is 0 everywhere and so drops out of every distance.
  std::vector<double> z(raw.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t l = 0; l < dims; ++l) {
      const double sd = model.layer_stddevs[l];
      z[i * dims + l] = sd > 0.0 ? (raw[i * dims + l] - model.layer_means[l]) / sd : 0.0;
    }
  }

  PortableRandom random(options.seed);
  KMeansRun best;
  for (int restart = 0; restart < options.restarts; ++restart) {
    KMeansRun run = run_kmeans_once(z, n, dims, zone_count, options.max_iterations, random);
    if (run.within_ss < best.within_ss) best = std::move(run);
  }

  // Centroids in z and in layer units, then zones ordered by the first layer's centroid.
  const auto k = static_cast<std::size_t>(best.k);
  std::vector<std::vector<double>> centroid_raw(k, std::vector<double>(dims, 0.0));
  std::vector<std::vector<double>> centroid_z(k, std::vector<double>(dims, 0.0));
  std::vector<double> counts(k, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::size_t>(best.labels[i]);
    counts[label] += 1.0;
    for (std::size_t l = 0; l < dims; ++l) {
      centroid_raw[label][l] += raw[i * dims + l];
      centroid_z[label][l] += z[i * dims + l];
    }
  }
  for (std::size_t c = 0; c < k; ++c) {
    for (std::size_t l = 0; l < dims; ++l) {
      centroid_raw[c][l] /= counts[c];
      centroid_z[c][l] /= counts[c];
    }
  }
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return centroid_raw[a] < centroid_raw[b];  // lexicographic: first layer, then the next
  });
  for (std::size_t c : order) {
    model.centroids.push_back(centroid_raw[c]);
    model.centroids_z.push_back(centroid_z[c]);
  }
  model.within_ss_z = best.within_ss;
  return model;
}

cv::Mat classify_by_centroids(const std::vector<cv::Mat>& layers, const KMeansModel& model) {
  const std::string where = "classify_by_centroids";
  require_layers(layers, where);
  const std::size_t dims = layers.size();
  if (model.layer_means.size() != dims || model.layer_stddevs.size() != dims ||
      model.centroids_z.empty() || model.centroids_z.size() > 255) {
    throw std::invalid_argument(
        where + ": the model was fitted on " + std::to_string(model.layer_means.size()) +
        " layers with " + std::to_string(model.centroids_z.size()) + " zones, but " +
        std::to_string(dims) + " layers were given; classify the same layers, in the same order");
  }
  std::vector<double> centers;
  for (const auto& centroid : model.centroids_z) {
    if (centroid.size() != dims) {
      throw std::invalid_argument(where + ": a centroid has " + std::to_string(centroid.size()) +
                                  " coordinates; expected one per layer (" + std::to_string(dims) +
                                  ")");
    }
    centers.insert(centers.end(), centroid.begin(), centroid.end());
  }
  const int k = static_cast<int>(model.centroids_z.size());
  cv::Mat zones(layers[0].size(), CV_8UC1, cv::Scalar(0));
  std::vector<const float*> rows(dims);
  std::vector<double> point(dims);
  for (int r = 0; r < zones.rows; ++r) {
    for (std::size_t l = 0; l < dims; ++l) rows[l] = layers[l].ptr<float>(r);
    std::uint8_t* out = zones.ptr<std::uint8_t>(r);
    for (int c = 0; c < zones.cols; ++c) {
      if (!all_finite(rows, c)) continue;
      for (std::size_t l = 0; l < dims; ++l) {
        const double sd = model.layer_stddevs[l];
        point[l] = sd > 0.0 ? (rows[l][c] - model.layer_means[l]) / sd : 0.0;
      }
      out[c] = static_cast<std::uint8_t>(1 + nearest_center(point.data(), centers, k, dims));
    }
  }
  return zones;
}

Zoning make_zones(const std::vector<cv::Mat>& layers, const ZoningOptions& options) {
  const std::string where = "make_zones";
  require_layers(layers, where);
  Zoning zoning;
  if (options.method == ZoneMethod::kmeans) {
    zoning.kmeans = fit_kmeans_zones(layers, options.zone_count, options.kmeans);
    zoning.zone_map = classify_by_centroids(layers, *zoning.kmeans);
    zoning.zone_count = zoning.kmeans->zone_count();
    return zoning;
  }
  if (layers.size() != 1) {
    throw std::invalid_argument(where + ": method '" +
                                std::string(zone_method_name(options.method)) +
                                "' classifies one layer, but " + std::to_string(layers.size()) +
                                " were given; use 'kmeans' to zone on several layers");
  }
  switch (options.method) {
    case ZoneMethod::quantile:
      zoning.breaks = quantile_breaks(layers[0], options.zone_count);
      break;
    case ZoneMethod::equal_interval:
      zoning.breaks = equal_interval_breaks(layers[0], options.zone_count, options.clip_low_percent,
                                            options.clip_high_percent);
      break;
    case ZoneMethod::jenks:
      zoning.breaks = jenks_breaks(layers[0], options.zone_count);
      break;
    case ZoneMethod::kmeans:
      break;  // handled above
  }
  zoning.zone_map = classify_by_breaks(layers[0], zoning.breaks);
  zoning.zone_count = zoning.breaks.zone_count();
  return zoning;
}

double goodness_of_variance_fit(const cv::Mat& values, const cv::Mat& zone_map) {
  return goodness_of_variance_fit_layers(std::vector<cv::Mat>{values}, zone_map);
}

double goodness_of_variance_fit(const std::vector<cv::Mat>& layers, const cv::Mat& zone_map) {
  return goodness_of_variance_fit_layers(layers, zone_map);
}

double goodness_of_variance_fit_layers(const std::vector<cv::Mat>& layers,
                                       const cv::Mat& zone_map) {
  const std::string where = "goodness_of_variance_fit";
  require_layers(layers, where);
  require_zone_map(zone_map, where);
  require_same_size(zone_map, layers[0], where, "the value layer");
  const cv::Mat use = cells_to_use(layers, zone_map);
  double gvf_sum = 0.0;
  int informative_layers = 0;
  for (const cv::Mat& layer : layers) {
    const VarianceSplit split = variance_split(layer, zone_map, use);
    if (!(split.sdam > 0.0)) continue;
    gvf_sum += 1.0 - split.sdcm / split.sdam;
    ++informative_layers;
  }
  return informative_layers > 0 ? gvf_sum / informative_layers : kNaN;
}

std::vector<ZoneCountFit> fit_by_zone_count(const std::vector<cv::Mat>& layers,
                                            const ZoningOptions& options) {
  std::vector<ZoneCountFit> fits;
  ZoningOptions per_count = options;
  for (int k = kMinZoneCount; k <= kMaxZoneCount; ++k) {
    per_count.zone_count = k;
    const Zoning zoning = make_zones(layers, per_count);
    fits.push_back(
        {k, zoning.zone_count, goodness_of_variance_fit_layers(layers, zoning.zone_map)});
  }
  return fits;
}

cv::Mat majority_filter(const cv::Mat& zone_map, int window_size) {
  const std::string where = "majority_filter";
  require_zone_map(zone_map, where);
  if (window_size != 3 && window_size != 5) {
    throw std::invalid_argument(where + ": window_size " + std::to_string(window_size) +
                                " is not supported; use 3 (3x3) or 5 (5x5)");
  }
  const int radius = window_size / 2;
  cv::Mat out = zone_map.clone();
  std::array<int, 256> votes{};
  std::array<std::uint8_t, 25> voted{};
  for (int r = 0; r < zone_map.rows; ++r) {
    std::uint8_t* out_row = out.ptr<std::uint8_t>(r);
    for (int c = 0; c < zone_map.cols; ++c) {
      const std::uint8_t centre = zone_map.at<std::uint8_t>(r, c);
      if (centre == 0) continue;
      int voted_count = 0;
      for (int rr = std::max(0, r - radius); rr <= std::min(zone_map.rows - 1, r + radius); ++rr) {
        const std::uint8_t* row = zone_map.ptr<std::uint8_t>(rr);
        for (int cc = std::max(0, c - radius); cc <= std::min(zone_map.cols - 1, c + radius);
             ++cc) {
          const std::uint8_t zone = row[cc];
          if (zone == 0) continue;
          if (votes[zone]++ == 0) voted[voted_count++] = zone;
        }
      }
      int best_votes = 0;
      std::uint8_t best_zone = centre;
      bool unique = false;
      for (int i = 0; i < voted_count; ++i) {
        const int count = votes[voted[i]];
        if (count > best_votes) {
          best_votes = count;
          best_zone = voted[i];
          unique = true;
        } else if (count == best_votes) {
          unique = false;
        }
        votes[voted[i]] = 0;
      }
      if (unique) out_row[c] = best_zone;  // a tie keeps the centre's zone
    }
  }
  return out;
}

int min_patch_cells_for_area(double min_area_m2, double cell_size_m) {
  const std::string where = "min_patch_cells_for_area";
  if (!(std::isfinite(cell_size_m) && cell_size_m > 0.0)) {
    throw std::invalid_argument(where + ": cell_size_m " + std::to_string(cell_size_m) +
                                " must be a positive number of metres (typically 5-20)");
  }
  if (!(std::isfinite(min_area_m2) && min_area_m2 >= 0.0)) {
    throw std::invalid_argument(where + ": min_area_m2 " + std::to_string(min_area_m2) +
                                " must be >= 0 m2 (typically 500-1000 m2 = 0.05-0.1 ha)");
  }
  const double cells = min_area_m2 / (cell_size_m * cell_size_m);
  if (cells > static_cast<double>(INT_MAX)) {
    throw std::invalid_argument(where + ": min_area_m2 " + std::to_string(min_area_m2) +
                                " is more cells than the grid can hold; use a smaller area");
  }
  return std::max(1, static_cast<int>(std::ceil(cells - 1e-9 * cells)));
}

PatchMergeResult merge_small_patches(const cv::Mat& zone_map,
                                     const std::vector<std::vector<double>>& zone_signatures,
                                     int min_patch_cells) {
  const std::string where = "merge_small_patches";
  require_zone_map(zone_map, where);
  if (min_patch_cells < 1) {
    throw std::invalid_argument(where + ": min_patch_cells " + std::to_string(min_patch_cells) +
                                " must be >= 1 (1 = keep every patch)");
  }
  double max_zone = 0.0;
  cv::minMaxLoc(zone_map, nullptr, &max_zone);
  if (static_cast<std::size_t>(max_zone) > zone_signatures.size()) {
    throw std::invalid_argument(where + ": the map has zone " +
                                std::to_string(static_cast<int>(max_zone)) + " but only " +
                                std::to_string(zone_signatures.size()) +
                                " zone signatures were given; give one per zone 1..k");
  }
  for (const auto& signature : zone_signatures) {
    if (signature.size() != zone_signatures[0].size()) {
      throw std::invalid_argument(where +
                                  ": zone signatures have different lengths; give every "
                                  "zone the same number of values (e.g. one mean each)");
    }
  }
  auto distance = [&](int zone_a, int zone_b) {
    const auto& a = zone_signatures[zone_a - 1];
    const auto& b = zone_signatures[zone_b - 1];
    double d2 = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) d2 += (a[i] - b[i]) * (a[i] - b[i]);
    const double d = std::sqrt(d2);
    return std::isnan(d) ? kInf : d;
  };

  PatchGraph graph = build_patch_graph(zone_map);
  const int cols = zone_map.cols;

  // Small patches that have a neighbour, smallest first, then first in raster order.
  using QueueKey = std::tuple<int, int, int>;  // size, first cell, patch id
  std::set<QueueKey> queue;
  auto key_of = [&](int p) { return QueueKey{graph.size[p], graph.first_cell[p], p}; };
  for (int p = 0; p < graph.patch_count(); ++p) {
    if (graph.size[p] < min_patch_cells && !graph.border[p].empty()) queue.insert(key_of(p));
  }

  PatchMergeResult result;
  while (!queue.empty()) {
    const int patch = std::get<2>(*queue.begin());
    queue.erase(queue.begin());

    // Border per neighbouring zone, then the most similar zone (tie: longest border, then the
    // lower zone number: zones are visited in ascending order and only a strictly better
    // candidate replaces the current one).
    std::map<int, int> border_by_zone;
    for (const auto& [neighbour, length] : graph.border[patch]) {
      border_by_zone[graph.zone[neighbour]] += length;
    }
    int target = 0;
    double target_distance = kInf;
    int target_border = -1;
    for (const auto& [zone, length] : border_by_zone) {
      const double d = distance(graph.zone[patch], zone);
      const bool same_distance = (d == target_distance) || nearly_equal(d, target_distance);
      if (target == 0 || (!same_distance && d < target_distance) ||
          (same_distance && length > target_border)) {
        target = zone;
        target_distance = d;
        target_border = length;
      }
    }
    result.merges.push_back({graph.zone[patch], target, graph.size[patch],
                             graph.first_cell[patch] / cols, graph.first_cell[patch] % cols});

    // The patch and every adjacent patch of the target zone become one patch.
    std::vector<int> members = {patch};
    for (const auto& [neighbour, length] : graph.border[patch]) {
      if (graph.zone[neighbour] == target) members.push_back(neighbour);
    }
    for (int member : members) queue.erase(key_of(member));
    const int joined = graph.join(members, target);
    if (graph.size[joined] < min_patch_cells && !graph.border[joined].empty()) {
      queue.insert(key_of(joined));
    }
  }

  result.zone_map = cv::Mat(zone_map.rows, cols, CV_8UC1, cv::Scalar(0));
  std::array<bool, 256> present_before{}, present_after{};
  for (int r = 0; r < zone_map.rows; ++r) {
    const std::uint8_t* before = zone_map.ptr<std::uint8_t>(r);
    std::uint8_t* after = result.zone_map.ptr<std::uint8_t>(r);
    for (int c = 0; c < cols; ++c) {
      present_before[before[c]] = true;
      const int patch = graph.label[static_cast<std::size_t>(r) * cols + c];
      if (patch < 0) continue;
      after[c] = static_cast<std::uint8_t>(graph.zone[graph.find(patch)]);
      present_after[after[c]] = true;
    }
  }
  for (int p = 0; p < graph.patch_count(); ++p) {
    if (graph.find(p) != p || graph.size[p] >= min_patch_cells) continue;
    // The queue ran dry, so a patch still below the minimum has no neighbour at all.
    result.isolated.push_back(
        {graph.zone[p], graph.size[p], graph.first_cell[p] / cols, graph.first_cell[p] % cols});
  }
  for (int zone = 1; zone < 256; ++zone) {
    if (present_before[zone] && !present_after[zone]) result.vanished_zones.push_back(zone);
  }
  return result;
}

PatchMergeResult merge_small_patches(const cv::Mat& zone_map, const std::vector<double>& zone_means,
                                     int min_patch_cells) {
  std::vector<std::vector<double>> signatures;
  signatures.reserve(zone_means.size());
  for (double mean : zone_means) signatures.push_back({mean});
  return merge_small_patches(zone_map, signatures, min_patch_cells);
}

PatchMergeResult merge_small_patches(const cv::Mat& zone_map, const cv::Mat& values,
                                     int min_patch_cells) {
  require_zone_map(zone_map, "merge_small_patches");
  double max_zone = 0.0;
  cv::minMaxLoc(zone_map, nullptr, &max_zone);
  std::vector<double> means;
  for (const ZoneSummary& summary :
       summarize_zones(zone_map, values, std::max(1, static_cast<int>(max_zone)))) {
    means.push_back(summary.mean_value);
  }
  return merge_small_patches(zone_map, means, min_patch_cells);
}

std::vector<ZoneSummary> summarize_zones(const cv::Mat& zone_map, const cv::Mat& values,
                                         int zone_count) {
  const std::string where = "summarize_zones";
  require_zone_map(zone_map, where);
  require_value_raster(values, where);
  require_same_size(zone_map, values, where, "the value layer");
  if (zone_count < 1 || zone_count > 255) {
    throw std::invalid_argument(where + ": zone_count " + std::to_string(zone_count) +
                                " must be in 1..255 (the zones of the map)");
  }
  std::vector<ZoneSummary> summaries(zone_count);
  std::vector<double> sums(zone_count, 0.0);
  for (int z = 0; z < zone_count; ++z) summaries[z].zone = z + 1;
  for (int r = 0; r < zone_map.rows; ++r) {
    const std::uint8_t* zones = zone_map.ptr<std::uint8_t>(r);
    const float* v = values.ptr<float>(r);
    for (int c = 0; c < zone_map.cols; ++c) {
      if (zones[c] == 0) continue;
      if (zones[c] > zone_count) {
        throw std::invalid_argument(where + ": cell (" + std::to_string(r) + ", " +
                                    std::to_string(c) + ") has zone " + std::to_string(zones[c]) +
                                    " but zone_count is " + std::to_string(zone_count) +
                                    "; pass the number of zones the map was made with");
      }
      ZoneSummary& summary = summaries[zones[c] - 1];
      ++summary.cell_count;
      if (std::isfinite(v[c])) {
        ++summary.value_count;
        sums[zones[c] - 1] += v[c];
      }
    }
  }
  for (int z = 0; z < zone_count; ++z) {
    summaries[z].mean_value =
        summaries[z].value_count > 0 ? sums[z] / summaries[z].value_count : kNaN;
  }
  return summaries;
}

}  // namespace fieldrx
