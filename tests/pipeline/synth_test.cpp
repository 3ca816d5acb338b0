// SPDX-License-Identifier: Apache-2.0
#include "pipeline/synth/farm_synth.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
using namespace fieldrx::synth;
namespace fs = std::filesystem;

namespace {

double ndvi(const Reflectance& r) { return (r[4] - r[2]) / (r[4] + r[2]); }
double ndre(const Reflectance& r) { return (r[4] - r[3]) / (r[4] + r[3]); }

FarmSpec small_spec(int size = 300, int fields = 12, std::uint64_t seed = 7) {
  FarmSpec spec;
  spec.size_px = size;
  spec.fields = fields;
  spec.seed = seed;
  return spec;
}

// Distance from `p` to the infinite line through a and b.
double line_distance(Point p, Point a, Point b) {
  return std::abs((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)) / std::hypot(b.x - a.x, b.y - a.y);
}

std::string synth_to(const test::TempDir& dir, const std::string& name, const std::string& flags) {
  const std::string out = dir.file(name);
  const auto result = test::run_fieldrx("synth -q -o '" + out + "' " + flags);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return out;
}

// All five bands of a whole raster, band-sequential, as stored (DN or reflectance).
std::vector<double> read_all(GDALDataset& ds) {
  const int w = ds.GetRasterXSize(), h = ds.GetRasterYSize(), n = ds.GetRasterCount();
  std::vector<double> values(static_cast<std::size_t>(w) * h * n);
  check_gdal(ds.RasterIO(GF_Read, 0, 0, w, h, values.data(), w, h, GDT_Float64, n, nullptr, 0, 0, 0, nullptr),
             "reading the test raster");
  return values;
}

}  // namespace

TEST_CASE("synth spectra: soil, canopy and water give the NDVI/NDRE of field spectrometry", "[synth][kernel]") {
  // Guards the spectral library: bare soil must not look like crop, NDRE must stay below NDVI.
  const Reflectance soil = soil_reflectance(1.0);
  CHECK(ndvi(soil) == Approx(0.1429).margin(1e-3));  // (0.20-0.15)/(0.35)
  for (Crop crop : {Crop::soybean, Crop::maize, Crop::rice, Crop::wheat}) {
    const Reflectance dense = canopy_reflectance(crop, 1.0);
    INFO(crop_name(crop));
    CHECK(ndvi(dense) > 0.8);
    CHECK(ndvi(dense) < 0.87);
    CHECK(ndre(dense) < ndvi(dense) - 0.3);
    // Less chlorophyll lowers NDRE relatively more than NDVI (red edge shift).
    const Reflectance pale = canopy_reflectance(crop, 0.0);
    CHECK(ndre(pale) / ndre(dense) < ndvi(pale) / ndvi(dense));
  }
  // The mix is linear and hits both ends exactly.
  const Reflectance veg = canopy_reflectance(Crop::soybean, 0.8);
  const Reflectance half = mix(veg, soil, 0.5);
  for (std::size_t b = 0; b < kBandCount; ++b) {
    CHECK(mix(veg, soil, 0)[b] == soil[b]);
    CHECK(mix(veg, soil, 1)[b] == veg[b]);
    CHECK(half[b] == Approx((veg[b] + soil[b]) / 2));
  }
  CHECK(ndvi(half) > ndvi(soil));
  CHECK(ndvi(half) < ndvi(veg));
  CHECK(to_digital_number(std::numeric_limits<float>::quiet_NaN()) == 0);
  CHECK(to_digital_number(0.0f) == 1);  // 0 is nodata: a real dark pixel must not become it
  CHECK(to_digital_number(1.5f) == 65535);
  CHECK(to_digital_number(0.5f) == 32768);
}

TEST_CASE("synth value noise: smooth, in [0,1], hits the lattice, independent per salt", "[synth][kernel]") {
  // Guards the pattern generator: lattice values at integers, no jumps between them.
  for (int i = -3; i < 3; ++i) {
    for (int j = -3; j < 3; ++j) {
      CHECK(value_noise(5, 1, i, j) == hash_unit(5, 1, i, j));
    }
  }
  double max_step = 0, lo = 1, hi = 0;
  for (int k = 0; k < 4000; ++k) {
    const double x = k * 0.001 - 1.7, y = 0.37 + k * 0.0007;
    const double v = value_noise(5, 1, x, y);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    max_step = std::max(max_step, std::abs(v - value_noise(5, 1, x + 0.001, y)));
  }
  CHECK(lo >= 0);
  CHECK(hi <= 1);
  CHECK(hi - lo > 0.2);       // it varies
  CHECK(max_step < 0.003);    // and is continuous (slope <= 1.5 per unit)
  CHECK(value_noise(5, 1, 0.5, 0.5) == value_noise(5, 1, 0.5, 0.5));
  CHECK(value_noise(5, 1, 0.5, 0.5) != value_noise(5, 2, 0.5, 0.5));
  CHECK(value_noise(5, 1, 0.5, 0.5) != value_noise(6, 1, 0.5, 0.5));
}

TEST_CASE("synth geometry: mitred offsets move every edge by the distance, either orientation", "[synth][kernel]") {
  // Guards field boundaries: shrunk exterior and grown holes must be exact parallels.
  const Ring square = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  const Ring reversed = {{0, 10}, {10, 10}, {10, 0}, {0, 0}};
  for (const Ring& ring : {square, reversed}) {
    const Ring in = offset_convex(ring, -1);
    const Ring out = offset_convex(ring, 2);
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(std::min(in[i].x, 10 - in[i].x) == Approx(1));
      CHECK(std::min(in[i].y, 10 - in[i].y) == Approx(1));
      CHECK(std::max(-out[i].x, out[i].x - 10) == Approx(2));
    }
    CHECK(inside_convex(ring, {5, 5}));
    CHECK(inside_convex(ring, {0.01, 9.99}));
    CHECK_FALSE(inside_convex(ring, {10.01, 5}));
    CHECK_FALSE(inside_convex(ring, {-1, -1}));
  }
  CHECK(std::abs(signed_area(square)) == Approx(200));
  CHECK(signed_area(square) == Approx(-signed_area(reversed)));
  // A pentagon (cut corner): each offset edge lies exactly 1.5 from its original line.
  const Ring pentagon = {{4, 0}, {20, 0}, {20, 60}, {0, 60}, {0, 9}};
  const Ring shrunk = offset_convex(pentagon, -1.5);
  for (std::size_t i = 0; i < pentagon.size(); ++i) {
    const std::size_t j = (i + 1) % pentagon.size();
    CHECK(line_distance(shrunk[i], pentagon[i], pentagon[j]) == Approx(1.5));
    CHECK(line_distance(shrunk[j], pentagon[i], pentagon[j]) == Approx(1.5));
    CHECK(inside_convex(pentagon, shrunk[i]));
  }
}

TEST_CASE("synth plan: strips 1:3 to 1:8, ids, holes and cut corners, deterministic", "[synth][kernel]") {
  // Guards the farm layout the tests and benchmarks rely on.
  for (int fields : {12, 60, 200}) {
    FarmSpec spec = small_spec(20000, fields, 3);
    const FarmPlan plan = plan_farm(spec);
    INFO(fields << " fields");
    REQUIRE(plan.fields.size() == static_cast<std::size_t>(fields));
    std::set<std::string> ids;
    int holes = 0, cuts = 0;
    for (const Field& f : plan.fields) {
      ids.insert(f.id);
      const double aspect = (f.y1 - f.y0) / (f.x1 - f.x0);
      CHECK(aspect > 2.2);  // 1:3 nominal, +-20 % width jitter
      CHECK(aspect < 10.5);
      holes += f.hole_kind != HoleKind::none;
      cuts += f.cut_corner;
      // The boundary: inside the crop area, the grown hole inside the shrunk exterior.
      const std::vector<Ring> rings = field_boundary(plan, f);
      REQUIRE(rings.size() == (f.hole_kind == HoleKind::none ? 1u : 2u));
      for (const Point& p : rings[0]) CHECK(inside_convex(f.crop_area, p));
      if (rings.size() == 2) {
        for (const Point& p : rings[1]) CHECK(inside_convex(rings[0], p));
      }
    }
    CHECK(ids.size() == plan.fields.size());
    CHECK(ids.count("F001") == 1);
    CHECK(holes >= 1);
    CHECK(cuts >= 1);
    CHECK(holes + cuts < fields);
    // Main roads keep their 12 m at full size.
    CHECK(plan.road_gap_px == Approx(24));
    CHECK(plan.boundary_inset_px == Approx(2));
  }
  const FarmPlan a = plan_farm(small_spec(2000, 12, 1)), b = plan_farm(small_spec(2000, 12, 1));
  const FarmPlan c = plan_farm(small_spec(2000, 12, 2));
  bool same = true, differs = false;
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    same = same && a.fields[i].x0 == b.fields[i].x0 && a.fields[i].vigour == b.fields[i].vigour &&
           a.fields[i].crop == b.fields[i].crop;
    differs = differs || a.fields[i].x0 != c.fields[i].x0 || a.fields[i].vigour != c.fields[i].vigour;
  }
  CHECK(same);
  CHECK(differs);
}

TEST_CASE("synth validation names the flag and what would be right", "[synth][kernel]") {
  // Guards the error messages of `fieldrx synth`.
  auto message = [](const FarmSpec& spec) {
    try {
      plan_farm(spec);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  FarmSpec spec = small_spec(10);
  CHECK_THAT(message(spec), Catch::Contains("--size 10") && Catch::Contains("128 to 40000"));
  spec = small_spec(50000);
  CHECK_THAT(message(spec), Catch::Contains("--size 50000"));
  spec = small_spec(300, 400);
  CHECK_THAT(message(spec), Catch::Contains("--fields 400") && Catch::Contains("fields or a larger --size"));
  spec = small_spec();
  spec.pixel_size_m = 0;
  CHECK_THAT(message(spec), Catch::Contains("--pixel-size"));
  spec = small_spec();
  spec.utm_zone = 50;
  CHECK_THAT(message(spec), Catch::Contains("--utm-zone 50") && Catch::Contains("52 or 53"));
  spec = small_spec();
  spec.origin_lon = 132.6;  // Jiansanjiang, zone 53: still allowed in 52 (0.6 deg past the edge)
  CHECK(message(spec) == "no error");
  spec.origin_lon = 140.0;
  CHECK_THAT(message(spec), Catch::Contains("--origin-lon 140") && Catch::Contains("--utm-zone 54"));
  spec = small_spec();
  spec.origin_lat = -10;
  CHECK_THAT(message(spec), Catch::Contains("--origin-lat -10"));
  // Defaults follow the zone.
  CHECK(resolve_defaults(FarmSpec{}).origin_lon == Approx(126.5));
  FarmSpec zone53;
  zone53.utm_zone = 53;
  CHECK(resolve_defaults(zone53).origin_lon == Approx(132.6));
}

TEST_CASE("synth pixels: any window equals the per-pixel reference and boundaries hold only crop", "[synth][kernel]") {
  // Guards tiling invariance of the generator and that field boundaries exclude roads/ditches/ponds.
  const FarmPlan plan = plan_farm(small_spec(300));
  const int col = 3, row = 190, w = 37, h = 23;  // odd window, crosses a main road
  std::vector<float> window(static_cast<std::size_t>(w * h * kBandCount));
  render_window(plan, col, row, w, h, window);
  for (int j = 0; j < h; ++j) {
    for (int i = 0; i < w; ++i) {
      const PixelSample s = sample_pixel(plan, col + i, row + j);
      for (std::size_t b = 0; b < kBandCount; ++b) {
        const float v = window[b * static_cast<std::size_t>(w * h) + static_cast<std::size_t>(j * w + i)];
        if (std::isnan(s.reflectance[b])) {
          CHECK(std::isnan(v));
        } else {
          CHECK(v == s.reflectance[b]);
        }
      }
    }
  }
  std::vector<float> too_small(10);
  CHECK_THROWS_AS(render_window(plan, 0, 0, 5, 5, too_small), StageError);

  std::map<Surface, int> counts;
  int in_boundary = 0;
  for (int r = 0; r < 300; ++r) {
    for (int c = 0; c < 300; ++c) {
      const PixelSample s = sample_pixel(plan, c, r);
      ++counts[s.surface];
      for (std::size_t f = 0; f < plan.fields.size(); ++f) {
        const std::vector<Ring> rings = field_boundary(plan, plan.fields[f]);
        const Point p{c + 0.5, r + 0.5};
        if (inside_convex(rings[0], p) && (rings.size() == 1 || !inside_convex(rings[1], p))) {
          ++in_boundary;
          INFO("pixel " << c << "," << r << " is " << surface_name(s.surface) << " in " << plan.fields[f].id);
          CHECK(s.surface == Surface::crop);
          CHECK(s.field == static_cast<int>(f));
        }
      }
    }
  }
  const double total = 300.0 * 300.0;
  CHECK(counts[Surface::nodata] / total > 0.01);  // a ragged mosaic edge, a few %
  CHECK(counts[Surface::nodata] / total < 0.1);
  CHECK(counts[Surface::crop] / total > 0.5);  // small raster: roads take a larger share
  CHECK(in_boundary > 0.45 * total);
  for (Surface s : {Surface::road, Surface::ditch, Surface::verge}) {
    INFO(surface_name(s));
    CHECK(counts[s] > 0);
  }
  CHECK(counts[Surface::pond] + counts[Surface::tree_island] > 0);
  CHECK(counts[Surface::farmyard] > 0);
}

TEST_CASE("fieldrx synth writes a tiled 5-band UTM GeoTIFF with reflectance scale", "[synth][e2e]") {
  // Guards the raster contract readers.orthomosaic and the benchmarks rely on.
  test::TempDir dir;
  const std::string out = synth_to(dir, "farm", "--size 300 --seed 7");
  configure_gdal(64 << 20);
  DatasetPtr ds = open_raster(out + "/farm.tif");
  CHECK(ds->GetRasterXSize() == 300);
  CHECK(ds->GetRasterYSize() == 300);
  REQUIRE(ds->GetRasterCount() == 5);
  REQUIRE(ds->GetSpatialRef() != nullptr);
  CHECK(std::string(ds->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32652");
  double gt[6];
  REQUIRE(ds->GetGeoTransform(gt) == CE_None);
  CHECK(gt[1] == 0.5);
  CHECK(gt[5] == -0.5);
  CHECK(gt[0] > 300000);  // 126.5E is ~350 km west of zone 52's central meridian (129E)
  CHECK(gt[0] < 320000);
  CHECK(gt[3] == Approx(5230800).margin(2000));  // 47.2N
  for (int b = 1; b <= 5; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    CHECK(std::string(band->GetDescription()) == kBandNames[static_cast<std::size_t>(b - 1)]);
    CHECK(band->GetRasterDataType() == GDT_UInt16);
    int has = 0;
    CHECK(band->GetNoDataValue(&has) == 0);
    CHECK(has);
    CHECK(band->GetScale(&has) == Approx(1.0 / 65535));
    CHECK(has);
    int bx = 0, by = 0;
    band->GetBlockSize(&bx, &by);
    CHECK(bx == 512);
    CHECK(by == 512);
  }
  CHECK(std::string(ds->GetMetadataItem("INTERLEAVE", "IMAGE_STRUCTURE")) == "PIXEL");
  CHECK_FALSE(fs::exists(out + "/farm.tif.aux.xml"));  // everything inside the TIFF
  for (const auto& entry : fs::directory_iterator(out)) {
    CHECK(entry.path().filename().string().rfind(".tmp", 0) != 0);  // no temp file left
  }

  // Pixel values: what the pure generator says, quantised; nodata is 0 in every band.
  const std::vector<double> values = read_all(*ds);
  const FarmPlan plan = plan_farm(small_spec(300));
  const std::size_t plane = 300 * 300;
  double road_ndvi = 0, dense_ndvi = 0, dense_ndre = 0, soil_ndvi = 0;
  int road_n = 0, dense_n = 0, soil_n = 0;
  for (int r = 0; r < 300; r += 3) {
    for (int c = 0; c < 300; c += 3) {
      const PixelSample s = sample_pixel(plan, c, r);
      const std::size_t at = static_cast<std::size_t>(r) * 300 + static_cast<std::size_t>(c);
      Reflectance stored;
      for (std::size_t b = 0; b < kBandCount; ++b) {
        stored[b] = static_cast<float>(values[b * plane + at] / 65535.0);
        CHECK(values[b * plane + at] == to_digital_number(s.reflectance[b]));
      }
      if (s.surface == Surface::nodata) continue;
      const double v = ndvi(stored);
      if (s.surface == Surface::road && s.canopy < 0.05) {
        road_ndvi += v;
        ++road_n;
      } else if (s.surface == Surface::crop && s.canopy > 0.85) {
        dense_ndvi += v;
        dense_ndre += ndre(stored);
        ++dense_n;
      } else if (s.surface == Surface::crop && s.canopy < 0.1) {
        soil_ndvi += v;
        ++soil_n;
      }
    }
  }
  REQUIRE(road_n > 10);
  REQUIRE(dense_n > 10);
  CHECK(road_ndvi / road_n < 0.2);
  CHECK(road_ndvi / road_n > 0.0);
  CHECK(dense_ndvi / dense_n > 0.72);
  CHECK(dense_ndvi / dense_n < 0.9);
  CHECK(dense_ndre / dense_n < dense_ndvi / dense_n - 0.3);
  if (soil_n > 0) CHECK(soil_ndvi / soil_n < 0.3);
}

TEST_CASE("fieldrx synth writes field boundaries as RFC 7946 GeoJSON with holes and UTM areas", "[synth][e2e]") {
  // Guards fields.geojson: WGS84 lon/lat, valid polygons, a hole, areas computed in UTM.
  test::TempDir dir;
  const std::string out = synth_to(dir, "farm", "--size 600 --fields 9 --seed 11");
  configure_gdal(64 << 20);
  DatasetPtr ds = open_vector(out + "/fields.geojson");
  REQUIRE(ds->GetLayerCount() == 1);
  OGRLayer* layer = ds->GetLayer(0);
  CHECK(layer->GetFeatureCount() == 9);
  const OGRSpatialReference* srs = layer->GetSpatialRef();
  REQUIRE(srs != nullptr);
  CHECK(srs->IsGeographic());
  OGRSpatialReference utm;
  utm.importFromEPSG(32652);
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  const FarmPlan plan = plan_farm(small_spec(600, 9, 11));
  int with_hole = 0, cut_corner = 0;
  std::set<std::string> crops;
  layer->ResetReading();
  std::size_t index = 0;
  while (OGRFeature* raw = layer->GetNextFeature()) {
    std::unique_ptr<OGRFeature> feature(raw);
    REQUIRE(index < plan.fields.size());
    const Field& planned = plan.fields[index++];
    CHECK(std::string(feature->GetFieldAsString("field_id")) == planned.id);
    CHECK(std::string(feature->GetFieldAsString("crop")) == crop_name(planned.crop));
    crops.insert(feature->GetFieldAsString("crop"));
    OGRGeometry* geometry = feature->GetGeometryRef();
    REQUIRE(geometry != nullptr);
    REQUIRE(wkbFlatten(geometry->getGeometryType()) == wkbPolygon);
    CHECK(geometry->IsValid());
    auto* polygon = geometry->toPolygon();
    with_hole += polygon->getNumInteriorRings() > 0;
    cut_corner += polygon->getExteriorRing()->getNumPoints() == 6;  // closed pentagon
    OGREnvelope env;
    polygon->getEnvelope(&env);
    CHECK(env.MinX > 126.4);  // lon first (RFC 7946), near the default 47.2N 126.5E
    CHECK(env.MaxX < 126.6);
    CHECK(env.MinY > 47.1);
    CHECK(env.MaxY < 47.3);
    // RFC 7946 winding: exterior counter-clockwise.
    CHECK(polygon->getExteriorRing()->isClockwise() == FALSE);
    // The area property is the UTM area of the same polygon (to 1 m2).
    std::unique_ptr<OGRGeometry> projected(polygon->clone());
    projected->assignSpatialReference(const_cast<OGRSpatialReference*>(srs));
    REQUIRE(projected->transformTo(&utm) == OGRERR_NONE);
    const double area_ha = feature->GetFieldAsDouble("area_ha");
    CHECK(area_ha == Approx(projected->toPolygon()->get_Area() / 1e4).margin(2e-4));
    // And what the plan says: (crop area shrunk by the inset) minus the grown hole, at 0.25 m2/px2.
    const std::vector<Ring> rings = field_boundary(plan, planned);
    double px2 = std::abs(signed_area(rings[0])) / 2;
    if (rings.size() == 2) px2 -= std::abs(signed_area(rings[1])) / 2;
    CHECK(area_ha == Approx(px2 * 0.25 / 1e4).margin(2e-4));
  }
  CHECK(with_hole >= 1);
  CHECK(cut_corner >= 1);
  CHECK(crops.size() >= 2);
}

TEST_CASE("fieldrx synth is byte-deterministic for a seed, at any thread count, compressed or not", "[synth][e2e]") {
  // Guards reproducible benchmarks and test inputs: same seed, same bytes; another seed differs.
  test::TempDir dir;
  const std::string a = synth_to(dir, "a", "--size 700 --fields 20 --seed 5 --threads 1");
  const std::string b = synth_to(dir, "b", "--size 700 --fields 20 --seed 5 --threads 2");
  const std::string c = synth_to(dir, "c", "--size 700 --fields 20 --seed 6 --threads 2");
  CHECK(test::files_identical(a + "/farm.tif", b + "/farm.tif"));
  CHECK(test::files_identical(a + "/fields.geojson", b + "/fields.geojson"));
  CHECK_FALSE(test::files_identical(a + "/farm.tif", c + "/farm.tif"));
  CHECK_FALSE(test::files_identical(a + "/fields.geojson", c + "/fields.geojson"));
  const std::string d = synth_to(dir, "d", "--size 700 --fields 20 --seed 5 --threads 1 --compress deflate");
  const std::string e = synth_to(dir, "e", "--size 700 --fields 20 --seed 5 --threads 2 --compress deflate");
  CHECK(test::files_identical(d + "/farm.tif", e + "/farm.tif"));
  CHECK(fs::file_size(d + "/farm.tif") < fs::file_size(a + "/farm.tif"));
  // Compressed and plain hold the same pixels.
  configure_gdal(64 << 20);
  DatasetPtr plain = open_raster(a + "/farm.tif"), packed = open_raster(d + "/farm.tif");
  CHECK(std::string(packed->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE")) == "DEFLATE");
  CHECK(read_all(*plain) == read_all(*packed));
}

TEST_CASE("fieldrx synth --dtype float32 stores reflectance with NaN nodata", "[synth][e2e]") {
  // Guards the float variant: no scale, NaN where the mosaic has no data.
  test::TempDir dir;
  const std::string out = synth_to(dir, "f", "--size 200 --fields 4 --dtype float32 --utm-zone 53");
  configure_gdal(64 << 20);
  DatasetPtr ds = open_raster(out + "/farm.tif");
  CHECK(std::string(ds->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32653");
  GDALRasterBand* band = ds->GetRasterBand(5);
  CHECK(band->GetRasterDataType() == GDT_Float32);
  int has = 0;
  CHECK(std::isnan(band->GetNoDataValue(&has)));
  CHECK(has);
  band->GetScale(&has);
  CHECK_FALSE(has);
  const std::vector<double> values = read_all(*ds);
  int nan = 0;
  for (double v : values) {
    if (std::isnan(v)) {
      ++nan;
    } else {
      CHECK(v > 0);
      CHECK(v <= 1);
    }
  }
  CHECK(nan > 0);
  CHECK(nan % 5 == 0);  // all bands or none
}

TEST_CASE("fieldrx synth rejects bad arguments with advice", "[synth][e2e]") {
  // Guards the command line: exit code 2 and a message that says what would be right.
  test::TempDir dir;
  auto result = test::run_fieldrx("synth -o '" + dir.file("x") + "' --size 10");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("128 to 40000"));
  result = test::run_fieldrx("synth -o '" + dir.file("x") + "' --dtype float64");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("uint16 or float32"));
  result = test::run_fieldrx("synth -o '" + dir.file("x") + "' --compress zstd");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("none or deflate"));
  CHECK_FALSE(fs::exists(dir.file("x") + "/farm.tif"));
}

TEST_CASE("fieldrx index computes NDVI from a synthetic farm, bands found by description", "[synth][e2e]") {
  // Guards the hand-off: synth output is a valid readers.orthomosaic input, scale and nodata applied.
  test::TempDir dir;
  const std::string out = synth_to(dir, "farm", "--size 300 --seed 7");
  const std::string ndvi_dir = dir.file("ndvi");
  const auto result = test::run_fieldrx("index '" + out + "/farm.tif' --index ndvi -q -o '" + ndvi_dir + "'");
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  configure_gdal(64 << 20);
  DatasetPtr farm = open_raster(out + "/farm.tif");
  DatasetPtr index = open_raster(ndvi_dir + "/ndvi.tif");
  REQUIRE(index->GetRasterXSize() == 300);
  const std::vector<double> dn = read_all(*farm);
  const std::vector<double> got = read_all(*index);
  const std::size_t plane = 300 * 300;
  int nodata = 0;
  for (std::size_t i = 0; i < plane; ++i) {
    if (dn[i] == 0) {
      CHECK(std::isnan(got[i]));
      ++nodata;
      continue;
    }
    const double red = dn[2 * plane + i] / 65535.0, nir = dn[4 * plane + i] / 65535.0;
    REQUIRE(got[i] == Approx((nir - red) / (nir + red)).margin(1e-5));
  }
  CHECK(nodata > 0);
}
