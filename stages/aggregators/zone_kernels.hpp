// SPDX-License-Identifier: Apache-2.0
#pragma once
// Management-zone kernels: pure functions on the coarse prescription grid (no GDAL, no TBB, no
// I/O).
//
// Inputs are single-channel CV_32F rasters (one per index layer, e.g. NDVI, NDRE) on the
// prescription grid (5-20 m cells); NaN (and +-inf) mean "no data / outside the field / masked"
// and never get a zone. Zone maps are CV_8U: 1..k are zones, 0 is "no zone".
// The whole grid fits in memory, so every function here sees the whole field at once.
//
// Order of use (what aggregators.zones does):
//   make_zones (or *_breaks + classify_by_breaks)      -> zone map, zones 1..k, low values = zone 1
//   fit_by_zone_count                                   -> GVF for 2..7 zones, to choose k
//   majority_filter                                     -> remove salt-and-pepper cells
//   merge_small_patches                                 -> no patch the sprayer cannot resolve
//   summarize_zones                                     -> cells and mean value per zone
//
// Errors: a bad argument (wrong Mat type, zone count outside 2..7, window 4...) throws
// std::invalid_argument naming the parameter and what would be right; a raster without a single
// finite value throws fieldrx::StageError (the data, not the call, is wrong).
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace fieldrx {

constexpr int kMinZoneCount = 2;
constexpr int kMaxZoneCount = 7;

enum class ZoneMethod { quantile, equal_interval, jenks, kmeans };
// "quantile", "equal_interval", "jenks", "kmeans" (the config spelling).
std::string_view zone_method_name(ZoneMethod method);
std::optional<ZoneMethod> zone_method_from_name(std::string_view name);

// ---------------------------------------------------------------------------------------------
// Class breaks for one layer
// ---------------------------------------------------------------------------------------------

// Thresholds between zones, strictly ascending. Classes are upper-inclusive, as in Jenks (1977)
// and PySAL mapclassify: zone(v) = 1 + number of thresholds t with v > t. So a value equal to a
// threshold belongs to the lower zone, and values outside the range the breaks were computed on
// (e.g. clipped outliers) fall into zone 1 or zone k.
struct ZoneBreaks {
  std::vector<double> thresholds;
  int zone_count() const { return static_cast<int>(thresholds.size()) + 1; }
};

// Rules shared by every break method (and k-means):
// - Only finite values count; NaN/inf cells are ignored. No finite value at all: StageError.
// - `zone_count` must be in 2..7 (std::invalid_argument otherwise).
// - Fewer distinct values than zones: if the finite values take d <= zone_count distinct values,
//   every distinct value becomes its own zone (d zones; all values equal -> 1 zone, no
//   thresholds). The result never has more zones than distinct values and never crashes; check
//   ZoneBreaks::zone_count() for the number actually made.

// Quantile (equal count) breaks. With the n finite values sorted ascending (s[0..n-1]), threshold
// j (j = 1..k-1) is s[round(j*n/k) - 1] (round half away from zero), so zone j+1 starts after
// the first round(j*n/k) values: zone sizes differ by at most one when values are distinct.
// Ties can make two thresholds equal, or a threshold equal to the maximum; those are dropped, so
// tied data may give fewer zones than asked, never an empty zone.
ZoneBreaks quantile_breaks(const cv::Mat& values, int zone_count);

// Equal-interval breaks over the range [P_low, P_high] of the finite values, where P_p is the
// p-th percentile with linear interpolation between order statistics (Hyndman & Fan 1996 type 7,
// numpy's default). Thresholds are P_low + j*(P_high - P_low)/k, j = 1..k-1. Clipping keeps one
// outlier (a water trough, a pole's shadow) from squeezing the whole field into one zone; the
// clipped values still get zone 1 or k. clip 0/100 gives plain min..max equal intervals.
// 0 <= clip_low_percent < clip_high_percent <= 100. Equal intervals may leave a zone empty
// (that is the method); equal thresholds (P_low == P_high) are merged, giving fewer zones.
ZoneBreaks equal_interval_breaks(const cv::Mat& values, int zone_count,
                                 double clip_low_percent = 2.0, double clip_high_percent = 98.0);

// Jenks natural breaks: the exact optimum of Fisher (1958) "On grouping for maximum homogeneity"
// (JASA 53:789) / Jenks (1977): the contiguous classes of the sorted values that minimise the
// within-class sum of squared deviations from the class means (SDCM). Solved by dynamic
// programming over the sorted distinct values weighted by their counts (exact: equal values
// never need to be split), with the divide-and-conquer row optimisation that is exact for this
// cost because the optimal split index is monotone (Wang & Song 2011, R Journal 3(2):29,
// "Ckmeans.1d.dp"; Gronlund et al. 2017, arXiv:1701.07204). O(k m log m) for m distinct values,
// so a whole 100 000-cell field is exact too. Thresholds are the largest value of each lower class.
ZoneBreaks jenks_breaks(const cv::Mat& values, int zone_count);

// Zone map (CV_8U, same size) from values and breaks: 1 + number of thresholds below the value;
// 0 where the value is NaN or infinite.
cv::Mat classify_by_breaks(const cv::Mat& values, const ZoneBreaks& breaks);

// ---------------------------------------------------------------------------------------------
// k-means over several layers
// ---------------------------------------------------------------------------------------------

struct KMeansOptions {
  // Same seed + same input = same zones, on every platform: the generator is std::mt19937_64,
  // whose output sequence the C++ standard fixes, turned into doubles without <random>'s
  // implementation-defined distributions.
  std::uint64_t seed = 0x5EED2024;
  int restarts = 4;          // independent k-means++ seedings; the lowest within-SS wins
  int max_iterations = 100;  // Lloyd iterations per restart (stops earlier when stable)
};

// A fitted k-means zoning that can classify other rasters on the same layers.
struct KMeansModel {
  // z-score of each layer over the cells used for fitting (population standard deviation).
  // A layer with standard deviation 0 carries no information and is left out of distances.
  std::vector<double> layer_means;
  std::vector<double> layer_stddevs;
  // centroids_z[z-1] is zone z's centroid in z-score units, centroids[z-1] the same in the
  // layers' own units. Zones are numbered by ascending centroid of the first layer (ties: next
  // layer), so zone 1 is the lowest mean of layer 0 and zone k the highest.
  std::vector<std::vector<double>> centroids_z;
  std::vector<std::vector<double>> centroids;
  double within_ss_z = 0.0;  // sum of squared z-distances to the zone centroid (the objective)
  int zone_count() const { return static_cast<int>(centroids.size()); }
};

// k-means (Lloyd 1982) with k-means++ seeding (Arthur & Vassilvitskii 2007) on the z-scored
// layers. `layers`: one or more CV_32F rasters of the same size; a cell is used only where every
// layer is finite. Empty clusters are re-seeded with the point farthest from its centroid. When
// the cells hold fewer distinct points than `zone_count`, fewer zones come out (one per distinct
// point), as for the break methods.
KMeansModel fit_kmeans_zones(const std::vector<cv::Mat>& layers, int zone_count,
                             const KMeansOptions& options = {});

// Zone map (CV_8U) by nearest centroid in z-score space; ties go to the lower zone; 0 where any
// layer is not finite.
cv::Mat classify_by_centroids(const std::vector<cv::Mat>& layers, const KMeansModel& model);

// ---------------------------------------------------------------------------------------------
// One call for any method, and the fit measure
// ---------------------------------------------------------------------------------------------

struct ZoningOptions {
  ZoneMethod method = ZoneMethod::jenks;
  int zone_count = 3;
  double clip_low_percent = 2.0;    // equal_interval only
  double clip_high_percent = 98.0;  // equal_interval only
  KMeansOptions kmeans;             // kmeans only
};

struct Zoning {
  cv::Mat zone_map;    // CV_8U, 0 = no zone
  int zone_count = 0;  // zones the method made (<= requested; see "fewer distinct values")
  ZoneBreaks breaks;   // quantile / equal_interval / jenks
  std::optional<KMeansModel> kmeans;
};

// Classifies `layers` with options.method. quantile, equal_interval and jenks take exactly one
// layer (std::invalid_argument otherwise: use kmeans for several).
Zoning make_zones(const std::vector<cv::Mat>& layers, const ZoningOptions& options);

// Goodness of variance fit (Jenks 1977): GVF = 1 - SDCM/SDAM, where SDAM is the sum of squared
// deviations of the values from their mean and SDCM the sum of squared deviations from each
// zone's mean. Uses the cells with a zone > 0 and a finite value. 1 = zones explain all
// variance; 0.8 is the usual bar. NaN when SDAM is 0 (all values equal: the fit is undefined).
double goodness_of_variance_fit(const cv::Mat& values, const cv::Mat& zone_map);

// GVF for several layers: the mean of the per-layer GVFs over the cells where every layer is
// finite, which equals 1 - SDCM/SDAM computed on the z-scored layers (what k-means minimises).
// Layers with zero variance are left out; NaN if all are. One layer: the same as above.
// Both names do the same; with a braced list write goodness_of_variance_fit_layers({ndvi, ndre},
// zones), because cv::Mat's initializer-list constructor makes the overload ambiguous there.
double goodness_of_variance_fit_layers(const std::vector<cv::Mat>& layers, const cv::Mat& zone_map);
double goodness_of_variance_fit(const std::vector<cv::Mat>& layers, const cv::Mat& zone_map);

struct ZoneCountFit {
  int requested_zone_count = 0;
  int zone_count = 0;  // what the method made (fewer when values have few distinct levels)
  double gvf = 0.0;
};
// make_zones + GVF for every zone count 2..7 with options.method (options.zone_count ignored),
// so the agronomist can see where more zones stop paying off.
std::vector<ZoneCountFit> fit_by_zone_count(const std::vector<cv::Mat>& layers,
                                            const ZoningOptions& options);

// ---------------------------------------------------------------------------------------------
// Cleaning the zone map
// ---------------------------------------------------------------------------------------------

// Majority (mode) filter, one pass, window_size 3 or 5. For every zone cell, the zones of the
// zone cells in the window (centre included, the window clipped at the raster edge) vote; the
// cell takes the zone with strictly the most votes. Tie rule: if two or more zones share the
// highest count the cell keeps its own zone, so a tie never moves a boundary. No-zone cells (0)
// neither vote nor change: the filter never turns a zone cell into 0 or 0 into a zone.
cv::Mat majority_filter(const cv::Mat& zone_map, int window_size);

// Smallest patch size in cells that covers `min_area_m2` on square cells of `cell_size_m`:
// ceil(min_area_m2 / cell_size_m^2) (within 1e-9 relative of an integer counts as that integer).
int min_patch_cells_for_area(double min_area_m2, double cell_size_m);

struct PatchMerge {
  int from_zone = 0;
  int to_zone = 0;
  int cells = 0;         // size of the patch when it was merged
  int row = 0, col = 0;  // its first cell in raster order
};
struct IsolatedPatch {
  int zone = 0;
  int cells = 0;
  int row = 0, col = 0;  // first cell in raster order
};
struct PatchMergeResult {
  cv::Mat zone_map;                     // CV_8U, zones keep their numbers 1..k
  std::vector<PatchMerge> merges;       // in the order they were made
  std::vector<IsolatedPatch> isolated;  // patches below the minimum with no zone neighbour
  std::vector<int> vanished_zones;      // zones present before, absent after (ascending)
};

// Merges patches (4-connected cells of one zone) with fewer than `min_patch_cells` cells into
// the most similar neighbouring zone, repeatedly, smallest patch first (ties: first in raster
// order), until every patch below the minimum has no neighbour.
// - Neighbours are 4-adjacent zone cells of another zone; no-zone cells (0) never change and are
//   never neighbours.
// - Most similar: the neighbouring zone whose signature is nearest (Euclidean distance) to the
//   patch's zone signature; tie -> the neighbouring zone sharing the longest border with the
//   patch (sum of 4-adjacent cell edges); tie -> the lower zone number. A NaN distance counts as
//   farthest. The patch joins every adjacent patch of that zone, and the union is re-examined.
// - zone_signatures[z-1] describes zone z (e.g. {mean NDVI} or a k-means centroid_z); signatures
//   are those of the map before merging, so the order of merges does not shift them.
// - Guarantee: afterwards no patch smaller than the minimum survives unless it has no zone
//   neighbour at all (an island of the field smaller than the minimum: kept, listed in
//   `isolated`). Cells of patches that already met the minimum never change zone (only unions
//   of small patches are re-zoned). Zones keep their numbers; a zone may vanish (listed in
//   `vanished_zones`).
// min_patch_cells >= 1 (1 merges nothing).
PatchMergeResult merge_small_patches(const cv::Mat& zone_map,
                                     const std::vector<std::vector<double>>& zone_signatures,
                                     int min_patch_cells);
// The same with a one-value signature per zone: the zone's mean classifying value.
PatchMergeResult merge_small_patches(const cv::Mat& zone_map, const std::vector<double>& zone_means,
                                     int min_patch_cells);
// The same with zone means computed from `values` (CV_32F, finite cells only) on `zone_map`.
PatchMergeResult merge_small_patches(const cv::Mat& zone_map, const cv::Mat& values,
                                     int min_patch_cells);

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

struct ZoneSummary {
  int zone = 0;
  int cell_count = 0;       // cells with this zone
  int value_count = 0;      // of those, cells with a finite value
  double mean_value = 0.0;  // mean of the finite values; NaN when value_count is 0
};
// One entry per zone 1..zone_count (empty zones included, with counts 0). A cell with a zone
// above zone_count is an error (std::invalid_argument).
std::vector<ZoneSummary> summarize_zones(const cv::Mat& zone_map, const cv::Mat& values,
                                         int zone_count);

}  // namespace fieldrx
