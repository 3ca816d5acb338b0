// SPDX-License-Identifier: Apache-2.0
#pragma once
// `fieldrx synth`: a synthetic multispectral orthomosaic of a Heilongjiang-style farm, for
// tests and benchmarks that need realistic size and structure without shipping GBs of data.
//
// The farm: a grid of long strip fields (1:3 to 1:8, as on the Sanjiang plain state farms)
// between main roads with ditches and poplar shelterbelts (east-west) and field tracks with
// ditches (north-south). Each field has a crop (soybean, maize, rice, wheat), its own vigour
// and chlorophyll level, low-frequency variation inside, compacted headlands at both ends, some
// bare patches, and a few elliptic dead patches. Some fields lose a corner to a farmyard and
// some hold a pond or a tree island (a hole in the field boundary). The flight edge is ragged:
// a few % of the raster is nodata.
//
// Spectra are a linear mix of soil (or flooded soil for rice) and canopy by canopy fraction,
// bands Blue, Green, Red, RedEdge, NIR (MicaSense-like 475/560/668/717/842 nm). Values follow
// typical published curves: bare soil NDVI ~0.1-0.2, dense canopy ~0.8-0.85, water < 0, and NDRE
// below NDVI on canopy (red edge reflectance is higher than red).
//
// Everything is a pure function of the spec and the pixel position: the raster can be made
// tile by tile in any order on any number of threads and is byte-identical for a given seed.
// Pixel coordinates: x to the right, y down; pixel (col,row) covers [col,col+1) x [row,row+1)
// and is sampled at its centre. This header has no GDAL: the writer is farm_writer.cpp.
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace fieldrx::synth {

enum class SampleType { uint16, float32 };
enum class Compression { none, deflate };

struct FarmSpec {
  int size_px = 2000;          // the raster is size_px x size_px
  double pixel_size_m = 0.5;   // ground sample distance
  SampleType sample_type = SampleType::uint16;
  Compression compression = Compression::none;
  int fields = 12;
  int utm_zone = 52;           // WGS 84 / UTM zone NN north, EPSG:326NN
  double origin_lat = std::numeric_limits<double>::quiet_NaN();  // farm centre; NaN: the zone's default
  double origin_lon = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t seed = 1;
  int threads = 0;             // 0 = all cores
};

constexpr int kMinSizePx = 128;
constexpr int kMaxSizePx = 40000;
constexpr int kMaxFields = 5000;
constexpr int kMinUtmZone = 51, kMaxUtmZone = 53;  // Heilongjiang
constexpr int kBandCount = 5;
constexpr std::array<const char*, kBandCount> kBandNames = {"Blue", "Green", "Red", "RedEdge", "NIR"};
constexpr std::array<double, kBandCount> kBandWavelengthsNm = {475, 560, 668, 717, 842};

struct LatLon {
  double lat, lon;
};
// A farm centre near the middle of the zone in Heilongjiang (52: Harbin-Suihua plain;
// 53: Jiansanjiang, the Sanjiang plain rice and soybean farms; 51: Qiqihar).
LatLon default_origin(int utm_zone);
// The spec with the origin filled in from the zone where it was NaN.
FarmSpec resolve_defaults(FarmSpec spec);
// Throws ConfigError naming the flag, the bad value and what would be right.
void validate(const FarmSpec& spec);

// ---- Spectra (pure) ---------------------------------------------------------------------
using Reflectance = std::array<float, kBandCount>;

enum class Crop { soybean, maize, rice, wheat };
const char* crop_name(Crop crop);

// Reflectance of dry bare soil scaled by `brightness` (moisture darkens soil: ~0.7 wet .. 1.1 dry).
Reflectance soil_reflectance(double brightness);
// Dense green canopy of `crop` with relative chlorophyll `chlorophyll` in [0,1]: less
// chlorophyll raises red and green and moves the red edge to shorter wavelengths (higher
// RedEdge reflectance), which lowers NDRE more than NDVI.
Reflectance canopy_reflectance(Crop crop, double chlorophyll);
// Linear mixture: canopy fraction `canopy` in [0,1] of `vegetation` over `background`.
Reflectance mix(const Reflectance& vegetation, const Reflectance& background, double canopy);

// ---- Noise (pure, deterministic) --------------------------------------------------------
// Smooth value noise in [0,1] with lattice spacing 1 in x and y (smoothstep interpolation of
// hashed lattice values); `salt` selects an independent field.
double value_noise(std::uint64_t seed, std::uint64_t salt, double x, double y);
// A hash of (seed, salt, i, j) mapped to [0,1).
double hash_unit(std::uint64_t seed, std::uint64_t salt, std::int64_t i, std::int64_t j);

// ---- Farm layout (pure) -----------------------------------------------------------------
struct Point {
  double x, y;  // pixel coordinates
};
using Ring = std::vector<Point>;  // closed implicitly (last vertex != first)

// Offsets a convex ring by `distance` px along the outward normals (negative: inward), with
// mitred corners, so every edge moves by exactly |distance|. Either orientation.
Ring offset_convex(const Ring& ring, double distance);
// True when `p` lies inside the convex `ring` (either orientation), boundary excluded.
bool inside_convex(const Ring& ring, Point p);
// Twice the signed area (shoelace); positive when counter-clockwise with y up.
double signed_area(const Ring& ring);

enum class HoleKind { none, pond, tree_island };

struct DeadPatch {
  double cx, cy, rx, ry, angle;  // ellipse, px and radians
  double residual;               // canopy factor left at the centre
};

struct Field {
  std::string id;  // "F001"
  Crop crop = Crop::soybean;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // the cropped rectangle (road and ditch excluded)
  Ring crop_area;                         // that rectangle, or a pentagon when a corner is cut
  bool cut_corner = false;
  HoleKind hole_kind = HoleKind::none;
  Ring hole;                              // convex; empty when hole_kind == none
  double vigour = 0.7;                    // mean canopy fraction before headlands and patches
  double chlorophyll = 0.8;
  double patchiness = 0;                  // 0: no bare patches .. 1: many
  std::vector<DeadPatch> dead_patches;
};

struct FarmPlan {
  FarmSpec spec;
  double grid_x0 = 0, grid_x1 = 0;         // field grid extent (px)
  std::vector<double> row_edges;           // rows of fields: y edges, rows+1 values
  std::vector<std::vector<double>> col_edges;  // per row: x edges, fields_in_row+1 values
  std::vector<int> row_first_field;        // index of the row's first field
  std::vector<bool> row_shelterbelt;       // poplar belt on the road north of the row
  double road_gap_px = 0;                  // between rows: ditch, shelterbelt, road
  double track_gap_px = 0;                 // between fields of a row: track, ditch, track
  double headland_px = 0;                  // at both short ends of each strip
  double boundary_inset_px = 0;            // field boundary inside the crop edge
  std::vector<Field> fields;
};

// Lays out the farm; deterministic for spec.seed. Throws ConfigError when the fields do not
// fit (e.g. too many fields for the size).
FarmPlan plan_farm(const FarmSpec& spec);

// The field boundary for fields.geojson, in pixel coordinates: the crop area shrunk by the
// inset (exterior ring first), then the hole grown by the inset, so no road, ditch, yard or
// pond pixel lies inside it.
std::vector<Ring> field_boundary(const FarmPlan& plan, const Field& field);

// ---- Pixels (pure) ----------------------------------------------------------------------
enum class Surface : std::uint8_t {
  nodata,       // outside the flight area
  crop,         // inside a field (headlands and patches included)
  road,         // gravel main road or field track
  ditch,
  shelterbelt,  // poplar rows along main roads and the farm edge
  verge,        // grass outside the field grid
  farmyard,     // cut corner: machinery yard
  pond,
  tree_island,
};
const char* surface_name(Surface surface);

struct PixelSample {
  Surface surface = Surface::nodata;
  int field = -1;       // index into plan.fields when surface is crop/farmyard/pond/tree_island
  double canopy = 0;    // canopy fraction of the mix
  Reflectance reflectance{};  // NaN for nodata; includes sensor noise
};

// One pixel, the reference definition.
PixelSample sample_pixel(const FarmPlan& plan, int col, int row);
// Reflectance of a window, band-sequential (band b at out[b*width*height]); NaN = nodata.
// Identical to sample_pixel per pixel.
void render_window(const FarmPlan& plan, int col, int row, int width, int height, std::span<float> out);
// Reflectance -> UInt16 digital number at scale 1/65535; 0 is reserved for nodata.
std::uint16_t to_digital_number(float reflectance);

// ---- Files (farm_writer.cpp, GDAL) -------------------------------------------------------
struct SynthOutputs {
  std::string raster;  // OUTDIR/farm.tif
  std::string fields;  // OUTDIR/fields.geojson
};
// Writes both files (temp names, renamed when complete). Memory stays bounded by a few
// tiles per thread plus GDAL's block cache, whatever the size.
SynthOutputs write_farm(const FarmSpec& spec, const std::string& out_dir, bool show_progress);

}  // namespace fieldrx::synth
