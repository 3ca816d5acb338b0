// SPDX-License-Identifier: Apache-2.0
#include "pipeline/synth/farm_synth.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numbers>
#include <sstream>

#include "pipeline/errors.hpp"

namespace fieldrx::synth {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Independent noise fields: one salt each, so changing one pattern never shifts another.
enum Salt : std::uint64_t {
  kSaltVigourLow = 1,
  kSaltVigourMid,
  kSaltChlorophyll,
  kSaltSoil,
  kSaltBarePatch,
  kSaltVerge,
  kSaltEdge,
  kSaltPixel,  // + band
  kSaltPlan = 100,
};

// splitmix64's finalizer: a full-avalanche 64-bit mix (Steele et al. 2014).
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t field_key(std::uint64_t seed, std::uint64_t salt) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (salt * 0xd1b54a32d192ed03ULL));
}

inline double unit_from(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1p-53; }

inline double lattice(std::uint64_t key, std::int64_t i, std::int64_t j) {
  return unit_from(mix64(key + static_cast<std::uint64_t>(i) * 0x9e3779b97f4a7c15ULL +
                         static_cast<std::uint64_t>(j) * 0xc2b2ae3d27d4eb4fULL));
}

inline double smoothstep01(double t) { return t * t * (3 - 2 * t); }

inline double noise_at(std::uint64_t key, double x, double y) {
  const double fx = std::floor(x), fy = std::floor(y);
  const auto i = static_cast<std::int64_t>(fx), j = static_cast<std::int64_t>(fy);
  const double sx = smoothstep01(x - fx), sy = smoothstep01(y - fy);
  const double a = lattice(key, i, j), b = lattice(key, i + 1, j);
  const double c = lattice(key, i, j + 1), d = lattice(key, i + 1, j + 1);
  const double top = a + (b - a) * sx, bottom = c + (d - c) * sx;
  return top + (bottom - top) * sy;
}

double smoothstep(double edge0, double edge1, double x) {
  return smoothstep01(std::clamp((x - edge0) / (edge1 - edge0), 0.0, 1.0));
}

// Deterministic across platforms (std:: distributions are not): splitmix64 stream.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit_from(next()); }
  int below(int n) { return static_cast<int>(unit_from(next()) * n); }
  bool chance(double p) { return unit_from(next()) < p; }

 private:
  std::uint64_t state_;
};

// Reference spectra (reflectance 0..1), Blue Green Red RedEdge NIR. Typical values from
// field spectrometry of Sanjiang-plain black soil, crops, water and gravel (e.g. USGS
// splib07 ranges): the pattern matters here, not the third digit.
constexpr Reflectance kDrySoil = {0.08f, 0.11f, 0.15f, 0.18f, 0.20f};
constexpr Reflectance kWater = {0.05f, 0.06f, 0.045f, 0.03f, 0.02f};
constexpr Reflectance kGravel = {0.13f, 0.16f, 0.19f, 0.22f, 0.24f};
constexpr Reflectance kConcrete = {0.17f, 0.19f, 0.21f, 0.23f, 0.25f};
constexpr Reflectance kPoplar = {0.025f, 0.055f, 0.03f, 0.22f, 0.40f};

struct Keys {
  std::uint64_t vigour_low, vigour_mid, chlorophyll, soil, bare, verge, edge;
  std::array<std::uint64_t, kBandCount> pixel;
  explicit Keys(std::uint64_t seed)
      : vigour_low(field_key(seed, kSaltVigourLow)),
        vigour_mid(field_key(seed, kSaltVigourMid)),
        chlorophyll(field_key(seed, kSaltChlorophyll)),
        soil(field_key(seed, kSaltSoil)),
        bare(field_key(seed, kSaltBarePatch)),
        verge(field_key(seed, kSaltVerge)),
        edge(field_key(seed, kSaltEdge)) {
    for (int b = 0; b < kBandCount; ++b) pixel[static_cast<std::size_t>(b)] = field_key(seed, kSaltPixel + b);
  }
};

// The ragged edge of the mosaic: each side loses 0.3-2.5 % of the size, varying smoothly
// along the side, and two opposite corners are cut (flight lines end short there). The field
// grid starts at 4.5 %, so nodata never reaches a field. A side's margin depends only on the
// position along it, so a window computes it once per row and column.
enum Side { kTop, kBottom, kLeft, kRight };
double edge_margin(const Keys& keys, double size, double along, Side side) {
  return size * (0.003 + 0.022 * noise_at(keys.edge, along / (size / 4), 3.0 * static_cast<int>(side)));
}

bool in_flight_area(double size, double x, double y, double top, double bottom, double left, double right) {
  if (y < top || size - y < bottom || x < left || size - x < right) return false;
  return x + y >= 0.05 * size && (size - x) + (size - y) >= 0.05 * size;
}

// Two octaves on rotated axes: no lattice-aligned blocks in thresholded patterns.
double patch_noise(std::uint64_t key, double xm, double ym, double scale_m) {
  const double u = (0.8 * xm + 0.6 * ym) / scale_m, v = (-0.6 * xm + 0.8 * ym) / scale_m;
  return 0.7 * noise_at(key, u, v) + 0.3 * noise_at(key ^ 0x5bd1e995ULL, 2.7 * u + 17.0, 2.7 * v + 31.0);
}

Reflectance paddy_background(double brightness) {
  // Flooded rice paddy: water over wet (darker) soil.
  return mix(kWater, soil_reflectance(0.7 * brightness), 0.5);
}

double soil_brightness(const Keys& keys, double xm, double ym) {
  return 0.8 + 0.3 * noise_at(keys.soil, xm / 45, ym / 45);
}

struct Classified {
  Surface surface;
  int field;
  double canopy;
  Reflectance reflectance;
};

Classified classify(const FarmPlan& plan, const Keys& keys, double x, double y) {
  const double p = plan.spec.pixel_size_m;
  const double xm = x * p, ym = y * p;  // noise in metres: patterns keep their ground size
  const double brightness = soil_brightness(keys, xm, ym);
  const Reflectance soil = soil_reflectance(brightness);
  const Reflectance grass = canopy_reflectance(Crop::wheat, 0.6);

  const double gy0 = plan.row_edges.front(), gy1 = plan.row_edges.back();
  if (x < plan.grid_x0 || x >= plan.grid_x1 || y < gy0 || y >= gy1) {
    // Outside the field grid: a poplar belt along the farm edge, then grass and weeds.
    const double outside = std::max({plan.grid_x0 - x, x - plan.grid_x1, gy0 - y, y - gy1});
    if (outside < 0.35 * plan.road_gap_px) return {Surface::shelterbelt, -1, 0.9, mix(kPoplar, soil, 0.9)};
    const double c = 0.25 + 0.5 * patch_noise(keys.verge, xm, ym, 12);
    return {Surface::verge, -1, c, mix(grass, soil, c)};
  }

  const auto row_it = std::upper_bound(plan.row_edges.begin(), plan.row_edges.end(), y);
  const auto r = static_cast<std::size_t>(row_it - plan.row_edges.begin() - 1);
  const std::vector<double>& cols = plan.col_edges[r];
  const auto col_it = std::upper_bound(cols.begin(), cols.end(), x);
  const auto c = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(col_it - cols.begin() - 1, 0,
                                                                     static_cast<std::ptrdiff_t>(cols.size()) - 2));
  const int field_index = plan.row_first_field[r] + static_cast<int>(c);
  const Field& f = plan.fields[static_cast<std::size_t>(field_index)];

  // Main road between rows, north to south: ditch, shelterbelt (some rows) or verge, gravel.
  if (y < f.y0 || y >= f.y1) {
    const double g = plan.road_gap_px;
    const bool above = y < f.y0;
    const double u = above ? (y - (plan.row_edges[r] - g / 2)) / g : (y - (plan.row_edges[r + 1] - g / 2)) / g;
    const std::size_t row_south = above ? r : r + 1;
    if (u < 0.12) {
      return {Surface::ditch, -1, 0.45, mix(grass, kWater, 0.45)};
    }
    if (u < 0.3) {
      if (row_south < plan.row_shelterbelt.size() && plan.row_shelterbelt[row_south]) {
        return {Surface::shelterbelt, -1, 0.9, mix(kPoplar, soil, 0.9)};
      }
      const double cv = 0.3 + 0.4 * patch_noise(keys.verge, xm, ym, 6);
      return {Surface::verge, -1, cv, mix(grass, soil, cv)};
    }
    return {Surface::road, -1, 0, kGravel};
  }
  // Field track between fields of a row: dirt track, ditch in the middle, dirt track.
  if (x < f.x0 || x >= f.x1) {
    const double g = plan.track_gap_px;
    const double u = x < f.x0 ? (x - (cols[c] - g / 2)) / g : (x - (cols[c + 1] - g / 2)) / g;
    if (std::abs(u - 0.5) < 0.18) return {Surface::ditch, -1, 0.45, mix(grass, kWater, 0.45)};
    const double cw = 0.25 * patch_noise(keys.verge, xm, ym, 5);
    return {Surface::road, -1, cw, mix(grass, mix(kGravel, soil, 0.5), cw)};
  }
  if (f.cut_corner && !inside_convex(f.crop_area, {x, y})) {
    return {Surface::farmyard, field_index, 0, kConcrete};
  }
  if (f.hole_kind != HoleKind::none && inside_convex(f.hole, {x, y})) {
    if (f.hole_kind == HoleKind::pond) return {Surface::pond, field_index, 0, kWater};
    return {Surface::tree_island, field_index, 0.95, mix(kPoplar, soil, 0.95)};
  }

  // The crop: field vigour, low-frequency variation (soil, drainage), headlands, patches.
  double v = f.vigour * (1 + 0.45 * (noise_at(keys.vigour_low, xm / 70, ym / 70) - 0.5) +
                         0.16 * (noise_at(keys.vigour_mid, xm / 18, ym / 18) - 0.5));
  double chlorophyll = f.chlorophyll + 0.25 * (noise_at(keys.chlorophyll, xm / 90, ym / 90) - 0.5);
  const double to_end = std::min(y - f.y0, f.y1 - y);
  if (to_end < plan.headland_px) {
    // Headland: compacted by turning machinery, sown last, thinner stand.
    const double t = to_end / plan.headland_px;
    v *= 0.4 + 0.6 * t * t;
  }
  if (f.patchiness > 0) {
    const double threshold = 1 - 0.3 * f.patchiness;
    const double n = patch_noise(keys.bare, xm, ym, 30);
    if (n > threshold) v *= std::max(0.08, 1 - (n - threshold) / 0.06);
  }
  for (const DeadPatch& patch : f.dead_patches) {
    const double dx = x - patch.cx, dy = y - patch.cy;
    if (std::abs(dx) > std::max(patch.rx, patch.ry) || std::abs(dy) > std::max(patch.rx, patch.ry)) continue;
    const double cs = std::cos(patch.angle), sn = std::sin(patch.angle);
    const double u = (dx * cs + dy * sn) / patch.rx, w = (-dx * sn + dy * cs) / patch.ry;
    const double q = std::sqrt(u * u + w * w);
    if (q < 1) {
      const double keep = patch.residual + (1 - patch.residual) * smoothstep(0.55, 1.0, q);
      v *= keep;
      chlorophyll *= 0.4 + 0.6 * keep;  // what survives is yellowing too
    }
  }
  const double canopy = std::clamp(v, 0.0, 0.97);
  const Reflectance background = f.crop == Crop::rice ? paddy_background(brightness) : soil;
  return {Surface::crop, field_index, canopy,
          mix(canopy_reflectance(f.crop, std::clamp(chlorophyll, 0.05, 1.0)), background, canopy)};
}

// `margins`: top, bottom, left, right edge margins at this pixel (edge_margin).
PixelSample sample(const FarmPlan& plan, const Keys& keys, int col, int row, const std::array<double, 4>& margins) {
  const double x = col + 0.5, y = row + 0.5;
  PixelSample out;
  if (!in_flight_area(plan.spec.size_px, x, y, margins[0], margins[1], margins[2], margins[3])) {
    out.reflectance.fill(kNaN);
    return out;
  }
  const Classified cls = classify(plan, keys, x, y);
  out.surface = cls.surface;
  out.field = cls.field;
  out.canopy = cls.canopy;
  // Sensor noise: triangular, sigma = 0.003 + 1.5 % of the signal (shot noise grows with it).
  for (std::size_t b = 0; b < kBandCount; ++b) {
    const std::uint64_t h = mix64(keys.pixel[b] + static_cast<std::uint64_t>(col) * 0x9e3779b97f4a7c15ULL +
                                  static_cast<std::uint64_t>(row) * 0xc2b2ae3d27d4eb4fULL);
    const double u1 = static_cast<double>(h >> 32) * 0x1p-32, u2 = static_cast<double>(h & 0xffffffffULL) * 0x1p-32;
    const double r = cls.reflectance[b];
    const double noisy = r + (0.003 + 0.015 * r) * std::numbers::sqrt2 * std::sqrt(3.0) * (u1 + u2 - 1);
    out.reflectance[b] = static_cast<float>(std::clamp(noisy, 0.0005, 1.0));
  }
  return out;
}

std::string flag_value(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

Ring rectangle(double x0, double y0, double x1, double y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

// The rectangle with corner `k` (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left) cut
// off by a triangle with legs `a` along x and `b` along y: a convex pentagon.
Ring cut_rectangle(double x0, double y0, double x1, double y1, int k, double a, double b) {
  const Ring corners = rectangle(x0, y0, x1, y1);
  Ring out;
  for (int i = 0; i < 4; ++i) {
    const Point p = corners[static_cast<std::size_t>(i)];
    if (i != k) {
      out.push_back(p);
      continue;
    }
    const Point prev = corners[static_cast<std::size_t>((i + 3) % 4)], next = corners[static_cast<std::size_t>((i + 1) % 4)];
    auto towards = [&](Point q) {
      const bool horizontal = q.y == p.y;
      const double leg = horizontal ? a : b;
      const double len = horizontal ? std::abs(q.x - p.x) : std::abs(q.y - p.y);
      return Point{p.x + (q.x - p.x) * leg / len, p.y + (q.y - p.y) * leg / len};
    };
    out.push_back(towards(prev));
    out.push_back(towards(next));
  }
  return out;
}

Ring ellipse_polygon(double cx, double cy, double rx, double ry, double angle, int vertices) {
  Ring out;
  const double cs = std::cos(angle), sn = std::sin(angle);
  for (int i = 0; i < vertices; ++i) {
    const double t = 2 * std::numbers::pi * i / vertices;
    const double u = rx * std::cos(t), w = ry * std::sin(t);
    out.push_back({cx + u * cs - w * sn, cy + u * sn + w * cs});
  }
  return out;
}

// Cumulative edges of `count` cells over [lo, hi] with sizes jittered by +-jitter.
std::vector<double> jittered_edges(Rng& rng, int count, double lo, double hi, double jitter) {
  std::vector<double> weights(static_cast<std::size_t>(count));
  double total = 0;
  for (auto& w : weights) total += (w = rng.uniform(1 - jitter, 1 + jitter));
  std::vector<double> edges{lo};
  double at = 0;
  for (double w : weights) {
    at += w;
    edges.push_back(lo + (hi - lo) * at / total);
  }
  edges.back() = hi;
  return edges;
}

}  // namespace

LatLon default_origin(int utm_zone) {
  switch (utm_zone) {
    case 51: return {47.3, 123.9};  // Qiqihar
    case 53: return {47.2, 132.6};  // Jiansanjiang
    default: return {47.2, 126.5};  // Suihua-Harbin black soil belt
  }
}

FarmSpec resolve_defaults(FarmSpec spec) {
  const LatLon origin = default_origin(spec.utm_zone);
  if (std::isnan(spec.origin_lat)) spec.origin_lat = origin.lat;
  if (std::isnan(spec.origin_lon)) spec.origin_lon = origin.lon;
  return spec;
}

void validate(const FarmSpec& spec) {
  if (spec.size_px < kMinSizePx || spec.size_px > kMaxSizePx) {
    throw ConfigError("--size " + std::to_string(spec.size_px) + ": the raster edge must be " +
                      std::to_string(kMinSizePx) + " to " + std::to_string(kMaxSizePx) + " px, e.g. --size 2000");
  }
  if (!(spec.pixel_size_m >= 0.01 && spec.pixel_size_m <= 10)) {
    throw ConfigError("--pixel-size " + flag_value(spec.pixel_size_m) +
                      ": the ground sample distance must be 0.01 to 10 m (drone mosaics: 0.02-0.5 m), e.g. 0.5");
  }
  if (spec.fields < 1 || spec.fields > kMaxFields) {
    throw ConfigError("--fields " + std::to_string(spec.fields) + ": must be 1 to " + std::to_string(kMaxFields));
  }
  if (spec.utm_zone < kMinUtmZone || spec.utm_zone > kMaxUtmZone) {
    throw ConfigError("--utm-zone " + std::to_string(spec.utm_zone) + ": Heilongjiang lies in UTM zones " +
                      std::to_string(kMinUtmZone) + "N to " + std::to_string(kMaxUtmZone) + "N; use 52 or 53");
  }
  if (spec.threads < 0) throw ConfigError("--threads " + std::to_string(spec.threads) + ": must be 0 (all cores) or more");
  const FarmSpec resolved = resolve_defaults(spec);
  if (!(resolved.origin_lat >= 0 && resolved.origin_lat < 84)) {
    throw ConfigError("--origin-lat " + flag_value(resolved.origin_lat) +
                      ": UTM north zones need a latitude in [0, 84); Heilongjiang is at 43-53");
  }
  // UTM stays usable a few degrees past the zone edge (scale error ~0.1 % at 3 deg), and farms
  // near 132E (Jiansanjiang) are often kept in the neighbour zone; further out is a mistake.
  const double west = -180.0 + 6.0 * (spec.utm_zone - 1), east = west + 6.0;
  if (!(resolved.origin_lon >= west - 3 && resolved.origin_lon <= east + 3)) {
    const int zone = static_cast<int>(std::floor((resolved.origin_lon + 180) / 6)) + 1;
    throw ConfigError("--origin-lon " + flag_value(resolved.origin_lon) + ": lies outside UTM zone " +
                      std::to_string(spec.utm_zone) + " (" + flag_value(west) + "E to " + flag_value(east) +
                      "E, +-3 deg allowed); use --utm-zone " + std::to_string(zone) +
                      " or a longitude in the zone");
  }
}

const char* crop_name(Crop crop) {
  switch (crop) {
    case Crop::soybean: return "soybean";
    case Crop::maize: return "maize";
    case Crop::rice: return "rice";
    case Crop::wheat: return "wheat";
  }
  return "?";
}

const char* surface_name(Surface surface) {
  switch (surface) {
    case Surface::nodata: return "nodata";
    case Surface::crop: return "crop";
    case Surface::road: return "road";
    case Surface::ditch: return "ditch";
    case Surface::shelterbelt: return "shelterbelt";
    case Surface::verge: return "verge";
    case Surface::farmyard: return "farmyard";
    case Surface::pond: return "pond";
    case Surface::tree_island: return "tree_island";
  }
  return "?";
}

Reflectance soil_reflectance(double brightness) {
  Reflectance out;
  for (std::size_t b = 0; b < kBandCount; ++b) out[b] = static_cast<float>(kDrySoil[b] * brightness);
  return out;
}

Reflectance canopy_reflectance(Crop crop, double chlorophyll) {
  const double lack = 1 - std::clamp(chlorophyll, 0.0, 1.0);
  double nir = 0.46;
  switch (crop) {
    case Crop::soybean: nir = 0.46; break;  // broad leaves, planophile: bright NIR
    case Crop::maize: nir = 0.44; break;
    case Crop::rice: nir = 0.40; break;
    case Crop::wheat: nir = 0.42; break;
  }
  return {static_cast<float>(0.03 + 0.01 * lack), static_cast<float>(0.07 + 0.03 * lack),
          static_cast<float>(0.04 + 0.04 * lack), static_cast<float>(0.22 + 0.10 * lack),
          static_cast<float>(nir * (1 - 0.1 * lack))};
}

Reflectance mix(const Reflectance& vegetation, const Reflectance& background, double canopy) {
  Reflectance out;
  for (std::size_t b = 0; b < kBandCount; ++b) {
    out[b] = static_cast<float>(canopy * vegetation[b] + (1 - canopy) * background[b]);
  }
  return out;
}

double hash_unit(std::uint64_t seed, std::uint64_t salt, std::int64_t i, std::int64_t j) {
  return lattice(field_key(seed, salt), i, j);
}

double value_noise(std::uint64_t seed, std::uint64_t salt, double x, double y) {
  return noise_at(field_key(seed, salt), x, y);
}

double signed_area(const Ring& ring) {
  double sum = 0;
  for (std::size_t i = 0; i < ring.size(); ++i) {
    const Point& a = ring[i];
    const Point& b = ring[(i + 1) % ring.size()];
    sum += a.x * b.y - b.x * a.y;
  }
  return sum;
}

Ring offset_convex(const Ring& ring, double distance) {
  const std::size_t n = ring.size();
  const double orientation = signed_area(ring) > 0 ? 1 : -1;
  std::vector<Point> normals(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Point& a = ring[i];
    const Point& b = ring[(i + 1) % n];
    const double dx = b.x - a.x, dy = b.y - a.y, len = std::hypot(dx, dy);
    normals[i] = {orientation * dy / len, -orientation * dx / len};
  }
  Ring out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Point& n1 = normals[(i + n - 1) % n];
    const Point& n2 = normals[i];
    const double k = distance / (1 + n1.x * n2.x + n1.y * n2.y);
    out[i] = {ring[i].x + k * (n1.x + n2.x), ring[i].y + k * (n1.y + n2.y)};
  }
  return out;
}

bool inside_convex(const Ring& ring, Point p) {
  const double orientation = signed_area(ring) > 0 ? 1 : -1;
  for (std::size_t i = 0; i < ring.size(); ++i) {
    const Point& a = ring[i];
    const Point& b = ring[(i + 1) % ring.size()];
    if (orientation * ((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)) <= 0) return false;
  }
  return true;
}

FarmPlan plan_farm(const FarmSpec& requested) {
  validate(requested);
  FarmPlan plan;
  plan.spec = resolve_defaults(requested);
  const FarmSpec& spec = plan.spec;
  const double size = spec.size_px, p = spec.pixel_size_m;
  Rng rng(mix64(spec.seed ^ (kSaltPlan * 0xd1b54a32d192ed03ULL)));

  // Rows of strips: with ~5x as many fields per row as rows the strips come out 1:3 to 1:8.
  const int n = spec.fields;
  const int rows = std::clamp(static_cast<int>(std::lround(std::sqrt(n / 5.0))), 1, n);
  const double margin = 0.045 * size;
  plan.grid_x0 = margin;
  plan.grid_x1 = size - margin;
  plan.row_edges = jittered_edges(rng, rows, margin, size - margin, 0.15);
  double min_cell_w = size, min_row_h = size;
  for (int r = 0; r < rows; ++r) {
    const int in_row = n / rows + (r < n % rows ? 1 : 0);
    plan.row_first_field.push_back(r == 0 ? 0 : plan.row_first_field.back() + static_cast<int>(plan.col_edges.back().size()) - 1);
    plan.col_edges.push_back(jittered_edges(rng, in_row, plan.grid_x0, plan.grid_x1, 0.2));
    plan.row_shelterbelt.push_back(rng.chance(0.6));
    const auto& edges = plan.col_edges.back();
    for (std::size_t c = 0; c + 1 < edges.size(); ++c) min_cell_w = std::min(min_cell_w, edges[c + 1] - edges[c]);
    min_row_h = std::min(min_row_h, plan.row_edges[static_cast<std::size_t>(r) + 1] - plan.row_edges[static_cast<std::size_t>(r)]);
  }
  plan.row_shelterbelt.push_back(rng.chance(0.6));  // the road south of the last row

  // Roads keep their ground width (12 m main road with ditch and belt, 4 m track) unless the
  // raster is too small for that, where they shrink to keep fields the bigger part.
  plan.road_gap_px = std::clamp(12 / p, 2.0, std::max(2.0, 0.18 * min_row_h));
  plan.track_gap_px = std::clamp(4 / p, 2.0, std::max(2.0, 0.18 * min_cell_w));
  const double min_crop_w = min_cell_w - plan.track_gap_px, min_crop_h = min_row_h - plan.road_gap_px;
  constexpr double kMinFieldPx = 16;
  if (min_crop_w < kMinFieldPx || min_crop_h < kMinFieldPx) {
    const int fit = std::max(1, static_cast<int>(n * std::min(min_crop_w, min_crop_h) / (kMinFieldPx * 1.3)));
    throw ConfigError("--fields " + std::to_string(n) + " with --size " + std::to_string(spec.size_px) +
                      ": the narrowest field would be " + std::to_string(static_cast<int>(min_crop_w)) +
                      " px wide, and a field needs at least " + std::to_string(static_cast<int>(kMinFieldPx)) +
                      " px; use at most ~" + std::to_string(fit) + " fields or a larger --size");
  }
  plan.boundary_inset_px = std::min(std::max(1.0 / p, 1.0), 0.1 * min_crop_w);
  plan.headland_px = std::min(12 / p, 0.08 * min_crop_h);

  // Fields, numbered row by row from the north-west.
  const int digits = std::max(3, static_cast<int>(std::to_string(n).size()));
  for (int r = 0; r < rows; ++r) {
    const auto& edges = plan.col_edges[static_cast<std::size_t>(r)];
    const double y0 = plan.row_edges[static_cast<std::size_t>(r)] + plan.road_gap_px / 2;
    const double y1 = plan.row_edges[static_cast<std::size_t>(r) + 1] - plan.road_gap_px / 2;
    for (std::size_t c = 0; c + 1 < edges.size(); ++c) {
      Field f;
      std::ostringstream id;
      id << 'F' << std::setw(digits) << std::setfill('0') << plan.fields.size() + 1;
      f.id = id.str();
      const double pick = rng.uniform(0, 1);
      f.crop = pick < 0.4 ? Crop::soybean : pick < 0.65 ? Crop::maize : pick < 0.9 ? Crop::rice : Crop::wheat;
      f.x0 = edges[c] + plan.track_gap_px / 2;
      f.x1 = edges[c + 1] - plan.track_gap_px / 2;
      f.y0 = y0;
      f.y1 = y1;
      f.crop_area = rectangle(f.x0, f.y0, f.x1, f.y1);
      switch (f.crop) {
        case Crop::soybean: f.vigour = rng.uniform(0.55, 0.9); break;
        case Crop::maize: f.vigour = rng.uniform(0.6, 0.95); break;
        case Crop::rice: f.vigour = rng.uniform(0.5, 0.85); break;
        case Crop::wheat: f.vigour = rng.uniform(0.45, 0.8); break;
      }
      if (rng.chance(0.15)) f.vigour *= 0.55;  // a poor field: late sowing, hail, herbicide damage
      f.chlorophyll = rng.uniform(0.5, 0.95);
      f.patchiness = rng.chance(0.5) ? rng.uniform(0.2, 1.0) : 0.0;
      plan.fields.push_back(std::move(f));
    }
  }

  // Which fields are not plain rectangles: a shuffled order, holes first, then cut corners.
  std::vector<int> order(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  for (int i = n - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(rng.below(i + 1))]);
  const int holes = std::max(1, n * 8 / 100), cuts = std::max(1, n * 12 / 100);
  const double inset = plan.boundary_inset_px;
  for (int k = 0; k < holes; ++k) {
    Field& f = plan.fields[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
    const double w = f.x1 - f.x0, len = f.y1 - f.y0;
    // Keep the grown hole inside the shrunk boundary, and clear of a cut corner (legs <= 20 % of
    // the length; the hole stays within 30-70 % of it).
    const double r_max = std::min(w / 2 - 2 * inset - 1, 0.12 * len);
    const double rx = std::min(std::max(rng.uniform(0.1, 0.2) * w, 2.5), r_max);
    const double ry = std::min(rx * rng.uniform(1.0, 1.6), r_max);
    const double radius = std::max(rx, ry);
    const double cx = (f.x0 + f.x1) / 2 + (w / 2 - radius - 2 * inset - 1) * rng.uniform(-0.6, 0.6);
    const double cy = f.y0 + len * rng.uniform(0.42, 0.58);
    f.hole_kind = rng.chance(0.65) ? HoleKind::pond : HoleKind::tree_island;
    f.hole = ellipse_polygon(cx, cy, rx, ry, rng.uniform(0, std::numbers::pi), 12);
  }
  for (int k = 0; k < cuts; ++k) {
    Field& f = plan.fields[static_cast<std::size_t>(order[static_cast<std::size_t>((holes + k) % n)])];
    if (f.cut_corner) continue;
    const double w = f.x1 - f.x0, len = f.y1 - f.y0;
    const double a = rng.uniform(0.3, 0.6) * w, b = rng.uniform(0.1, 0.2) * len;
    f.cut_corner = true;
    f.crop_area = cut_rectangle(f.x0, f.y0, f.x1, f.y1, rng.below(4), a, b);
  }

  // Dead patches (waterlogging, root rot, herbicide drift): elliptic, a few metres to ~25 m.
  const int patches = std::max(2, n / 3);
  for (int k = 0; k < patches; ++k) {
    Field& f = plan.fields[static_cast<std::size_t>(rng.below(n))];
    const double w = f.x1 - f.x0, len = f.y1 - f.y0;
    DeadPatch patch;
    patch.rx = std::clamp(rng.uniform(4, 25) / p, 2.0, std::max(2.0, 0.3 * w));
    patch.ry = std::clamp(patch.rx * rng.uniform(0.6, 1.8), 2.0, std::max(2.0, 0.3 * len));
    patch.cx = rng.uniform(f.x0 + 0.3 * w, f.x1 - 0.3 * w);
    patch.cy = rng.uniform(f.y0 + 0.15 * len, f.y1 - 0.15 * len);
    patch.angle = rng.uniform(0, std::numbers::pi);
    patch.residual = rng.uniform(0.03, 0.25);
    f.dead_patches.push_back(patch);
  }
  return plan;
}

std::vector<Ring> field_boundary(const FarmPlan& plan, const Field& field) {
  std::vector<Ring> rings{offset_convex(field.crop_area, -plan.boundary_inset_px)};
  if (field.hole_kind != HoleKind::none) rings.push_back(offset_convex(field.hole, plan.boundary_inset_px));
  return rings;
}

PixelSample sample_pixel(const FarmPlan& plan, int col, int row) {
  const Keys keys(plan.spec.seed);
  const double size = plan.spec.size_px, x = col + 0.5, y = row + 0.5;
  return sample(plan, keys, col, row,
                {edge_margin(keys, size, x, kTop), edge_margin(keys, size, x, kBottom),
                 edge_margin(keys, size, y, kLeft), edge_margin(keys, size, y, kRight)});
}

void render_window(const FarmPlan& plan, int col, int row, int width, int height, std::span<float> out) {
  const std::size_t plane = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  if (out.size() < plane * kBandCount) {
    throw StageError("render_window: the buffer holds " + std::to_string(out.size()) + " values, " +
                     std::to_string(plane * kBandCount) + " are needed for " + std::to_string(width) + "x" +
                     std::to_string(height) + " px x 5 bands");
  }
  const Keys keys(plan.spec.seed);
  const double size = plan.spec.size_px;
  std::vector<double> top(static_cast<std::size_t>(width)), bottom(top.size());
  for (int i = 0; i < width; ++i) {
    top[static_cast<std::size_t>(i)] = edge_margin(keys, size, col + i + 0.5, kTop);
    bottom[static_cast<std::size_t>(i)] = edge_margin(keys, size, col + i + 0.5, kBottom);
  }
  for (int j = 0; j < height; ++j) {
    const double y = row + j + 0.5;
    const double left = edge_margin(keys, size, y, kLeft), right = edge_margin(keys, size, y, kRight);
    for (int i = 0; i < width; ++i) {
      const auto c = static_cast<std::size_t>(i);
      const PixelSample s = sample(plan, keys, col + i, row + j, {top[c], bottom[c], left, right});
      const std::size_t at = static_cast<std::size_t>(j) * static_cast<std::size_t>(width) + c;
      for (std::size_t b = 0; b < kBandCount; ++b) out[b * plane + at] = s.reflectance[b];
    }
  }
}

std::uint16_t to_digital_number(float reflectance) {
  if (std::isnan(reflectance)) return 0;
  const long dn = std::lround(static_cast<double>(reflectance) * 65535.0);
  return static_cast<std::uint16_t>(std::clamp(dn, 1L, 65535L));
}

}  // namespace fieldrx::synth
