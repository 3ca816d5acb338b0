// SPDX-License-Identifier: Apache-2.0
#include "pipeline/io/fields.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <gdal_utils.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <numbers>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "stages/aggregators/field_statistics.hpp"
#include "stages/filters/index_kernels.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
using Catch::Matchers::Contains;

namespace {

const std::string kImage = "data/plantcv-geospatial/615.tif";
const std::string kSquare = "data/plantcv-geospatial/square_crop.geojson";
const std::string kFiboa = "data/fiboa-nrw-fields/example_de_nrw_fields.geojson";

struct Raster {
  GeoReference georef;
  int width = 0, height = 0;
};

Raster raster_of(const std::string& path) {
  configure_gdal(64 << 20);
  DatasetPtr dataset = open_raster(path);
  Raster out;
  REQUIRE(dataset->GetGeoTransform(out.georef.geotransform.data()) == CE_None);
  out.georef.crs_wkt = dataset->GetProjectionRef();
  out.width = dataset->GetRasterXSize();
  out.height = dataset->GetRasterYSize();
  return out;
}

cv::Mat read_band(const std::string& path, int band_number) {
  DatasetPtr dataset = open_raster(path);
  GDALRasterBand* band = dataset->GetRasterBand(band_number);
  cv::Mat out(dataset->GetRasterYSize(), dataset->GetRasterXSize(), CV_32F);
  REQUIRE(band->RasterIO(GF_Read, 0, 0, out.cols, out.rows, out.data, out.cols, out.rows,
                         GDT_Float32, 0, 0) == CE_None);
  int has_nodata = 0;
  const double nodata = band->GetNoDataValue(&has_nodata);
  if (has_nodata) out.setTo(std::numeric_limits<float>::quiet_NaN(), out == float(nodata));
  return out;
}

// ogr2ogr in-process: `source` to `destination` with the given ogr2ogr arguments.
void translate(const std::string& source, const std::string& destination,
               const std::vector<std::string>& arguments) {
  configure_gdal(64 << 20);
  DatasetPtr input = open_vector(source);
  CPLStringList argv;
  for (const auto& argument : arguments) argv.AddString(argument.c_str());
  // Shapefile's laundered names and date types are expected: keep GDAL's notes off the log.
  CPLPushErrorHandler(CPLQuietErrorHandler);
  GDALVectorTranslateOptions* options = GDALVectorTranslateOptionsNew(argv.List(), nullptr);
  REQUIRE(options != nullptr);
  GDALDatasetH source_handle = GDALDataset::ToHandle(input.get());
  int usage_error = 0;
  GDALDatasetH output =
      GDALVectorTranslate(destination.c_str(), nullptr, 1, &source_handle, options, &usage_error);
  GDALVectorTranslateOptionsFree(options);
  CPLPopErrorHandler();
  INFO("ogr2ogr " << source << " -> " << destination << ": " << last_gdal_error());
  REQUIRE(output != nullptr);
  GDALClose(output);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A GeoJSON FeatureCollection in `crs` (EPSG code) from "id|geometry" pairs; geometry is a
// GeoJSON geometry object or "null".
std::string feature_collection(int epsg,
                               const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "{\"type\":\"FeatureCollection\",";
  if (epsg != 0) {
    out += "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::" +
           std::to_string(epsg) + "\"}},";
  }
  out += "\"features\":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += std::string(i ? "," : "") + "{\"type\":\"Feature\",\"properties\":{\"field_no\":" +
           (items[i].first == "<null>" ? "null" : "\"" + items[i].first + "\"") +
           ",\"crop\":\"soy\"},\"geometry\":" + items[i].second + "}";
  }
  return out + "]}";
}

// "[x,y]" (built with append: GCC 12 warns falsely on "literal" + std::string temporaries).
std::string point(double x, double y) {
  char text[80];
  std::snprintf(text, sizeof text, "[%.6f,%.6f]", x, y);
  return text;
}

// A GeoJSON Polygon of one ring through the given points (closed here).
std::string polygon(const std::vector<std::pair<double, double>>& ring) {
  std::string out = "{\"type\":\"Polygon\",\"coordinates\":[[";
  for (const auto& [x, y] : ring) out.append(point(x, y)).append(",");
  return out.append(point(ring.front().first, ring.front().second)).append("]]}");
}

// A square ring in UTM 52N (Heilongjiang, ~46.9°N 129°E) with its lower-left corner at (x, y).
std::string square(double x, double y, double size) {
  std::string out = "[";
  out.append(point(x, y)).append(",").append(point(x + size, y)).append(",");
  out.append(point(x + size, y + size)).append(",").append(point(x, y + size)).append(",");
  return out.append(point(x, y)).append("]");
}
constexpr double kX = 652000, kY = 5195000;

// A north-up 1 m grid over [kX, kX + 100] x [kY, kY + 100] in EPSG:32652.
Raster one_metre_grid() {
  Raster r;
  r.georef.geotransform = {kX, 1.0, 0.0, kY + 100, 0.0, -1.0};
  OGRSpatialReference srs;
  srs.importFromEPSG(32652);
  char* wkt = nullptr;
  srs.exportToWkt(&wkt);
  r.georef.crs_wkt = wkt;
  CPLFree(wkt);
  r.width = r.height = 100;
  return r;
}

FieldReadOptions options_for(const std::string& id_attribute, const std::string& raster_wkt = {}) {
  FieldReadOptions options;
  options.id_attribute = id_attribute;
  options.raster_crs_wkt = raster_wkt;
  return options;
}

}  // namespace

TEST_CASE("fields: square_crop over 615.tif gives 1267 pixels and the reference means",
          "[fields][pipeline]") {
  // Guards rasterization (pixel centres, raster CRS) against GDAL-Python reference values.
  const Raster image = raster_of(test::shared_path(kImage));
  const FieldSet set =
      read_fields(test::shared_path(kSquare), options_for("FID", image.georef.crs_wkt));
  REQUIRE(set.fields.size() == 1);
  const Field& field = set.fields.front();
  REQUIRE(field.id == "0");
  REQUIRE(field.status == FieldStatus::ok);
  REQUIRE(field.utm_epsg == 32615);
  REQUIRE_NOTHROW(check_raster_crs(set, image.georef, "615.tif"));

  const cv::Mat mask = field_mask(field, image.georef, image.width, image.height);
  REQUIRE(mask.type() == CV_8U);
  REQUIRE(cv::countNonZero(mask) == 1267);
  double max_value = 0;
  cv::minMaxLoc(mask, nullptr, &max_value);
  REQUIRE(max_value == 1.0);

  // The field's window, rasterized on its own, holds the same pixels (tiles see the same mask).
  const PixelWindow window = field_pixel_window(field, image.georef, image.width, image.height);
  const cv::Mat window_mask =
      field_mask(field, image.georef.window(window.col, window.row), window.width, window.height);
  REQUIRE(cv::countNonZero(window_mask) == 1267);
  const cv::Rect rect(window.col, window.row, window.width, window.height);
  REQUIRE(cv::countNonZero(window_mask != mask(rect)) == 0);
  REQUIRE(cv::countNonZero(mask) == cv::countNonZero(mask(rect)));
  REQUIRE(window.width < image.width);

  const std::string path = test::shared_path(kImage);
  const cv::Mat red = read_band(path, 3), red_edge = read_band(path, 4), nir = read_band(path, 5);
  auto mean_inside = [&](const char* name, const cv::Mat& other, BandRole role) {
    BandRows rows;
    rows.nir = nir.ptr<float>();
    (role == BandRole::red ? rows.red : rows.red_edge) = other.ptr<float>();
    cv::Mat index(nir.size(), CV_32F);
    find_index(name)->compute(rows, index.ptr<float>(), nir.total());
    FieldStatistics stats;
    stats.add(index, mask);
    return stats.summary();
  };
  const StatisticsSummary ndvi = mean_inside("ndvi", red, BandRole::red);
  REQUIRE(ndvi.count + ndvi.skipped == 1267);
  REQUIRE(ndvi.mean == Approx(0.384267).margin(1e-6));
  REQUIRE(mean_inside("ndre", red_edge, BandRole::red_edge).mean == Approx(0.424786).margin(1e-6));
}

TEST_CASE("fields: fiboa NRW areas in the field's UTM zone match the published ones",
          "[fields][pipeline]") {
  // Guards areas: WGS84 / UTM 32N, chosen from the centroid, within 1 m² of metrics:area.
  const FieldSet set = read_fields(test::shared_path(kFiboa), options_for("id"));
  REQUIRE(set.fields.size() == 2);
  REQUIRE(set.error_count() == 0);
  const std::map<std::string, double> published{{"12324", 16311.0}, {"2713", 18975.0}};
  for (const Field& field : set.fields) {
    INFO("field " << field.id << " area " << field.boundary.area_m2);
    REQUIRE(field.status == FieldStatus::ok);
    REQUIRE(field.utm_epsg == 32632);
    REQUIRE(std::abs(field.boundary.area_m2 - published.at(field.id)) < 1.0);
    REQUIRE(field.boundary.area_ha() == Approx(published.at(field.id) / 1e4).margin(1e-4));
    REQUIRE(field.treatable.area_m2 == field.boundary.area_m2);
    REQUIRE(field.boundary.raster == nullptr);  // no raster CRS asked for
    // Lon/lat order kept (x 7.8°E / 9.3°E, y 51.7°N), not swapped.
    OGREnvelope envelope;
    field.boundary.wgs84->getEnvelope(&envelope);
    REQUIRE(envelope.MinX > 6.0);
    REQUIRE(envelope.MaxX < 12.0);
    REQUIRE(envelope.MinY > 51.0);
    REQUIRE(envelope.MaxY < 52.5);
  }
  // The same areas through ETRS89 / UTM 32N (what the data README quotes): within 0.01 m².
  test::TempDir temp;
  translate(test::shared_path(kFiboa), temp.file("etrs89.gpkg"), {"-t_srs", "EPSG:25832"});
  const FieldSet etrs = read_fields(temp.file("etrs89.gpkg"), options_for("id"));
  for (const Field& field : etrs.fields) {
    REQUIRE(field.utm_epsg == 32632);
    REQUIRE(field.boundary.area_m2 == Approx(set.find(field.id)->boundary.area_m2).margin(0.01));
  }
}

TEST_CASE("fields: GeoJSON, GeoPackage, Shapefile, KML and KMZ give the same fields",
          "[fields][pipeline]") {
  // Guards the readers: every format OGR writes from the fiboa file reads back alike.
  const FieldSet reference = read_fields(test::shared_path(kFiboa), options_for("id"));
  test::TempDir temp;
  const std::vector<std::pair<std::string, std::vector<std::string>>> outputs{
      {"fields.gpkg", {"-f", "GPKG"}},  {"fields.shp", {"-f", "ESRI Shapefile"}},
      {"fields.kml", {"-f", "LIBKML"}}, {"fields_plain.kml", {"-f", "KML"}},
      {"fields.kmz", {"-f", "LIBKML"}}, {"fields_utm.gpkg", {"-f", "GPKG", "-t_srs", "EPSG:32632"}},
  };
  for (const auto& [name, arguments] : outputs) {
    DYNAMIC_SECTION(name) {
      translate(test::shared_path(kFiboa), temp.file(name), arguments);
      const FieldSet set = read_fields(temp.file(name), options_for("id"));
      REQUIRE(set.fields.size() == reference.fields.size());
      for (const Field& field : set.fields) {
        INFO(name << " field '" << field.id << "': " << field.message);
        const Field* expected = reference.find(field.id);
        REQUIRE(expected != nullptr);
        REQUIRE(field.status == FieldStatus::ok);
        REQUIRE(field.utm_epsg == expected->utm_epsg);
        // KML stores text coordinates, but at least the 7 decimals the GeoJSON has.
        REQUIRE(field.boundary.area_m2 == Approx(expected->boundary.area_m2).margin(1e-6));
      }
    }
  }
  SECTION("a named layer, and an unknown one") {
    translate(test::shared_path(kFiboa), temp.file("named.gpkg"), {"-nln", "parcels"});
    FieldReadOptions options = options_for("id");
    options.layer = "parcels";
    REQUIRE(read_fields(temp.file("named.gpkg"), options).fields.size() == 2);
    options.layer = "fields";
    REQUIRE_THROWS_WITH(read_fields(temp.file("named.gpkg"), options),
                        Contains("no layer 'fields'") && Contains("[parcels]"));
  }
  SECTION("every layer by default; ids must be unique across layers") {
    translate(test::shared_path(kFiboa), temp.file("two.gpkg"), {"-nln", "north"});
    translate(test::shared_path(kFiboa), temp.file("two.gpkg"),
              {"-update", "-nln", "south", "-where", "id = '2713'"});
    REQUIRE_THROWS_WITH(
        read_fields(temp.file("two.gpkg"), options_for("id")),
        Contains("'2713' (feature 1 of layer 'north', feature 0 of layer 'south')"));
    FieldReadOptions options = options_for("id");
    options.layer = "south";
    const FieldSet south = read_fields(temp.file("two.gpkg"), options);
    REQUIRE(south.fields.size() == 1);
    REQUIRE(south.fields.front().layer == "south");
    options.layer.clear();
    options.ids = {"12324"};  // only in 'north': the duplicate is not selected
    REQUIRE(read_fields(temp.file("two.gpkg"), options).fields.front().layer == "north");
  }
}

TEST_CASE("fields: a boundary in EPSG:4326 masks the UTM image like the UTM boundary",
          "[fields][pipeline]") {
  // Guards reprojection into the raster CRS (and lon/lat axis order on the way).
  const Raster image = raster_of(test::shared_path(kImage));
  test::TempDir temp;
  translate(test::shared_path(kSquare), temp.file("square_wgs84.geojson"),
            {"-t_srs", "EPSG:4326", "-lco", "COORDINATE_PRECISION=15"});
  const FieldSet utm =
      read_fields(test::shared_path(kSquare), options_for("FID", image.georef.crs_wkt));
  const FieldSet wgs84 =
      read_fields(temp.file("square_wgs84.geojson"), options_for("FID", image.georef.crs_wkt));
  const cv::Mat a = field_mask(utm.fields.front(), image.georef, image.width, image.height);
  const cv::Mat b = field_mask(wgs84.fields.front(), image.georef, image.width, image.height);
  REQUIRE(cv::countNonZero(b) == 1267);
  REQUIRE(cv::countNonZero(a != b) == 0);
  REQUIRE(wgs84.fields.front().utm_epsg == 32615);
  REQUIRE(wgs84.fields.front().boundary.area_m2 ==
          Approx(utm.fields.front().boundary.area_m2).epsilon(1e-9));
}

TEST_CASE("fields: GeoJSON without crs is lon/lat WGS84 in Heilongjiang's UTM zones",
          "[fields][pipeline]") {
  // Guards the default CRS and the zone choice (51N-53N span Heilongjiang).
  test::TempDir temp;
  auto lonlat_square = [](double lon, double lat) {
    const double d = 0.01;
    return polygon({{lon, lat}, {lon + d, lat}, {lon + d, lat + d}, {lon, lat + d}});
  };
  write_text(temp.file("hlj.geojson"),
             feature_collection(0, {{"west", lonlat_square(122.5, 47.2)},
                                    {"middle", lonlat_square(127.5, 46.8)},
                                    {"east", lonlat_square(132.9, 47.3)}}));
  const FieldSet set = read_fields(temp.file("hlj.geojson"), options_for("field_no"));
  REQUIRE(set.find("west")->utm_epsg == 32651);
  REQUIRE(set.find("middle")->utm_epsg == 32652);
  REQUIRE(set.find("east")->utm_epsg == 32653);
  // 0.01° x 0.01° at 46.8°N: about 1113 m x 762 m.
  REQUIRE(set.find("middle")->boundary.area_m2 == Approx(1113.2 * 762.5).epsilon(0.01));

  REQUIRE(utm_epsg_for(-90.46, 38.85) == 32615);
  REQUIRE(utm_epsg_for(126.0, 45.0) == 32652);  // a zone starts at its western edge
  REQUIRE(utm_epsg_for(125.999, 45.0) == 32651);
  REQUIRE(utm_epsg_for(151.2, -33.9) == 32756);
  REQUIRE(utm_epsg_for(180.0, 10.0) == 32601);
  REQUIRE(utm_epsg_for(-180.0, 10.0) == 32601);
  REQUIRE_THROWS_AS(utm_epsg_for(10.0, 85.0), StageError);
}

TEST_CASE("fields: holes, repairs and per-field errors", "[fields][pipeline]") {
  // Guards geometry handling: holes stay out of masks, bowties are repaired with a warning,
  // hopeless geometries fail alone while the rest of the batch goes on.
  test::TempDir temp;
  const std::string outer = square(kX, kY, 100), hole = square(kX + 40, kY + 40, 20);
  auto p = [](double x, double y) { return std::pair<double, double>(kX + x, kY + y); };
  const std::string bowtie = polygon({p(0, 0), p(10, 10), p(10, 0), p(0, 10)});
  const std::string line_like = polygon({p(0, 0), p(1, 1), p(2, 2)});
  write_text(
      temp.file("mixed.geojson"),
      feature_collection(
          32652,
          {
              {"holed", "{\"type\":\"Polygon\",\"coordinates\":[" + outer + "," + hole + "]}"},
              {"bowtie", bowtie},
              {"flat", line_like},
              {"nothing", "null"},
              {"empty", "{\"type\":\"Polygon\",\"coordinates\":[[]]}"},
              {"point", std::string("{\"type\":\"Point\",\"coordinates\":")
                            .append(point(kX + 5, kY + 5))
                            .append("}")},
              {"multi", "{\"type\":\"MultiPolygon\",\"coordinates\":[[" + square(kX, kY, 10) +
                            "],[" + square(kX + 50, kY + 50, 10) + "]]}"},
          }));
  const Raster grid = one_metre_grid();
  const FieldSet set =
      read_fields(temp.file("mixed.geojson"), options_for("field_no", grid.georef.crs_wkt));
  REQUIRE(set.fields.size() == 7);
  REQUIRE(set.error_count() == 4);

  const Field& holed = *set.find("holed");
  REQUIRE(holed.status == FieldStatus::ok);
  REQUIRE(holed.boundary.area_m2 == Approx(9600).margin(1e-6));
  const cv::Mat mask = field_mask(holed, grid.georef, grid.width, grid.height);
  REQUIRE(cv::countNonZero(mask) == 9600);
  REQUIRE(mask.at<std::uint8_t>(50, 50) == 0);  // inside the hole
  REQUIRE(mask.at<std::uint8_t>(10, 10) == 1);

  const Field& repaired = *set.find("bowtie");
  INFO(repaired.message);
  REQUIRE(repaired.status == FieldStatus::warning);
  REQUIRE(repaired.ok());
  REQUIRE_THAT(repaired.message, Contains("Self-intersection") && Contains("MakeValid"));
  REQUIRE(repaired.boundary.area_m2 == Approx(50).margin(1e-6));  // both lobes kept
  REQUIRE(cv::countNonZero(field_mask(repaired, grid.georef, grid.width, grid.height)) > 0);

  const Field& flat = *set.find("flat");
  REQUIRE(flat.status == FieldStatus::error);
  REQUIRE_THAT(flat.message, Contains("MakeValid") && Contains("no area"));
  REQUIRE_THROWS_AS(field_mask(flat, grid.georef, grid.width, grid.height), StageError);
  REQUIRE_THAT(set.find("nothing")->message, Contains("no geometry"));
  REQUIRE_THAT(set.find("empty")->message, Contains("has an empty Polygon"));
  REQUIRE_THAT(set.find("point")->message, Contains("Point") && Contains("not a polygon"));

  const Field& multi = *set.find("multi");
  REQUIRE(multi.status == FieldStatus::ok);
  REQUIRE(multi.boundary.area_m2 == Approx(200).margin(1e-6));
  REQUIRE(cv::countNonZero(field_mask(multi, grid.georef, grid.width, grid.height)) == 200);
}

TEST_CASE("fields: ids — attribute, duplicates, empties, selection", "[fields][pipeline]") {
  // Guards the whole-file id errors: each names what is wrong and what exists.
  test::TempDir temp;
  const std::string a = "{\"type\":\"Polygon\",\"coordinates\":[" + square(kX, kY, 10) + "]}";
  const std::string b = "{\"type\":\"Polygon\",\"coordinates\":[" + square(kX + 20, kY, 10) + "]}";
  write_text(temp.file("ok.geojson"), feature_collection(32652, {{"A", a}, {"B", b}, {"C", a}}));
  write_text(temp.file("dup.geojson"), feature_collection(32652, {{"A", a}, {"B", b}, {"A", b}}));
  write_text(temp.file("blank.geojson"),
             feature_collection(32652, {{"A", a}, {"<null>", b}, {" ", b}}));

  REQUIRE_THROWS_AS(read_fields(temp.file("ok.geojson"), options_for("field_id")), ConfigError);
  REQUIRE_THROWS_WITH(read_fields(temp.file("ok.geojson"), options_for("field_id")),
                      Contains("no attribute 'field_id'") && Contains("[field_no, crop]"));
  REQUIRE_THROWS_AS(read_fields(temp.file("dup.geojson"), options_for("field_no")), StageError);
  REQUIRE_THROWS_WITH(read_fields(temp.file("dup.geojson"), options_for("field_no")),
                      Contains("'A' (feature 0") && Contains("feature 2"));
  REQUIRE_THROWS_WITH(read_fields(temp.file("blank.geojson"), options_for("field_no")),
                      Contains("2 feature(s) have no value") && Contains("feature 1 (FID") &&
                          Contains("feature 2 (FID"));

  FieldReadOptions options = options_for("field_no");
  options.ids = {"C", "A"};
  const FieldSet selected = read_fields(temp.file("ok.geojson"), options);
  REQUIRE(selected.fields.size() == 2);
  REQUIRE(selected.fields[0].id == "A");  // file order
  REQUIRE(selected.fields[1].id == "C");
  options.ids = {"A", "Z9"};
  REQUIRE_THROWS_WITH(read_fields(temp.file("ok.geojson"), options),
                      Contains("no field has id 'Z9'") && Contains("'A', 'B', 'C'"));
  // A selection avoids the duplicates it does not pick.
  options.ids = {"B"};
  REQUIRE(read_fields(temp.file("dup.geojson"), options).fields.size() == 1);

  FieldReadOptions no_id;
  REQUIRE_THROWS_AS(read_fields(temp.file("ok.geojson"), no_id), ConfigError);
  REQUIRE_THROWS_AS(read_fields(temp.file("missing.geojson"), options_for("field_no")), IoError);
}

TEST_CASE("fields: inner buffer and exclusions in metres", "[fields][pipeline]") {
  // Guards the no-spray geometry: buffers in UTM metres, exclusions in any CRS, vanishing fields.
  test::TempDir temp;
  write_text(temp.file("fields.geojson"),
             feature_collection(32652, {
                                           {"big", "{\"type\":\"Polygon\",\"coordinates\":[" +
                                                       square(kX, kY, 100) + "]}"},
                                           {"small", "{\"type\":\"Polygon\",\"coordinates\":[" +
                                                         square(kX + 200, kY, 10) + "]}"},
                                       }));
  // A pole in the middle of "big", given in lon/lat, and a pond (10 x 10 m) in its corner.
  OGRSpatialReference utm, wgs84;
  utm.importFromEPSG(32652);
  wgs84.importFromEPSG(4326);
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRCoordinateTransformation* to_wgs84 = OGRCreateCoordinateTransformation(&utm, &wgs84);
  double pole_x = kX + 50, pole_y = kY + 50;
  REQUIRE(to_wgs84->Transform(1, &pole_x, &pole_y));
  OGRCoordinateTransformation::DestroyCT(to_wgs84);
  char pole[200];
  std::snprintf(
      pole, sizeof pole,
      "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
      "\"properties\":{},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.12f,%.12f]}}]}",
      pole_x, pole_y);
  write_text(temp.file("poles.geojson"), pole);
  write_text(temp.file("pond.geojson"),
             feature_collection(32652, {{"pond", "{\"type\":\"Polygon\",\"coordinates\":[" +
                                                     square(kX + 90, kY + 90, 10) + "]}"}}));
  const Raster grid = one_metre_grid();

  SECTION("inner buffer") {
    FieldReadOptions options = options_for("field_no", grid.georef.crs_wkt);
    options.inner_buffer_m = 5;
    const FieldSet set = read_fields(temp.file("fields.geojson"), options);
    const Field& big = *set.find("big");
    REQUIRE(big.status == FieldStatus::ok);
    REQUIRE(big.boundary.area_m2 == Approx(10000).margin(1e-6));
    REQUIRE(big.treatable.area_m2 == Approx(8100).margin(1e-6));
    REQUIRE(cv::countNonZero(field_mask(big, grid.georef, grid.width, grid.height)) == 8100);
    REQUIRE(cv::countNonZero(field_mask(big, grid.georef, grid.width, grid.height, true)) == 10000);
    const Field& small = *set.find("small");
    REQUIRE(small.status == FieldStatus::error);
    REQUIRE_THAT(small.message, Contains("nothing left to treat") && Contains("0.0100 ha") &&
                                    Contains("5.00 m inner buffer"));
    REQUIRE_THROWS_AS(field_mask(small, grid.georef, grid.width, grid.height), StageError);
  }
  SECTION("a narrower buffer leaves the small field a core") {
    FieldReadOptions options = options_for("field_no", grid.georef.crs_wkt);
    options.inner_buffer_m = 4;
    const FieldSet set = read_fields(temp.file("fields.geojson"), options);
    REQUIRE(set.find("small")->status == FieldStatus::ok);
    REQUIRE(set.find("small")->treatable.area_m2 == Approx(4).margin(1e-6));
    REQUIRE(set.find("big")->treatable.area_m2 == Approx(92 * 92).margin(1e-6));
  }
  SECTION("a buffered pole in lon/lat and a pond") {
    FieldReadOptions options = options_for("field_no", grid.georef.crs_wkt);
    options.exclusions_path = temp.file("poles.geojson");
    options.exclusion_buffer_m = 10;
    const FieldSet poles = read_fields(temp.file("fields.geojson"), options);
    // GEOS buffers a point by a 120-gon (30 segments a quarter): area 6000 sin(pi / 60).
    const double circle = 0.5 * 120 * 100 * std::sin(2 * std::numbers::pi / 120);
    REQUIRE(poles.find("big")->treatable.area_m2 == Approx(10000 - circle).margin(1e-3));
    REQUIRE(poles.find("small")->treatable.area_m2 == Approx(100).margin(1e-6));
    const cv::Mat mask = field_mask(*poles.find("big"), grid.georef, grid.width, grid.height);
    REQUIRE(mask.at<std::uint8_t>(50, 50) == 0);
    REQUIRE(mask.at<std::uint8_t>(50, 35) == 1);
    REQUIRE(std::abs(cv::countNonZero(mask) - (10000 - circle)) < 20);

    options.exclusions_path = temp.file("pond.geojson");
    options.exclusion_buffer_m = 0;
    REQUIRE(read_fields(temp.file("fields.geojson"), options).find("big")->treatable.area_m2 ==
            Approx(9900).margin(1e-6));
    options.exclusion_buffer_m = 5;  // the pond and 5 m around it (the field's corner)
    // Inside the field the buffered pond is the 15 x 15 m corner with one rounded corner.
    const double pond_buffered = 15 * 15 - 25 + 25 * std::numbers::pi / 4;
    REQUIRE(read_fields(temp.file("fields.geojson"), options).find("big")->treatable.area_m2 ==
            Approx(10000 - pond_buffered).margin(0.05));
  }
  SECTION("points without a buffer have nothing to exclude") {
    FieldReadOptions options = options_for("field_no", grid.georef.crs_wkt);
    options.exclusions_path = temp.file("poles.geojson");
    REQUIRE_THROWS_WITH(read_fields(temp.file("fields.geojson"), options),
                        Contains("exclusion_buffer_m > 0"));
    options.exclusion_buffer_m = -1;
    REQUIRE_THROWS_AS(read_fields(temp.file("fields.geojson"), options), ConfigError);
  }
}

TEST_CASE("fields: pixel windows and CRS checks", "[fields][pipeline]") {
  // Guards the field-to-image checks a batch relies on before reading pixels.
  test::TempDir temp;
  write_text(temp.file("fields.geojson"),
             feature_collection(32652, {
                                           {"in", "{\"type\":\"Polygon\",\"coordinates\":[" +
                                                      square(kX + 10.2, kY + 20.7, 30) + "]}"},
                                           {"F007", "{\"type\":\"Polygon\",\"coordinates\":[" +
                                                        square(kX + 500, kY, 30) + "]}"},
                                       }));
  const Raster grid = one_metre_grid();
  const FieldSet set =
      read_fields(temp.file("fields.geojson"), options_for("field_no", grid.georef.crs_wkt));
  // x 10.2..40.2 -> centres 10.5..39.5 -> cols 10..39; rows 49.3..79.3 -> centres rows 49..78.
  const PixelWindow window =
      field_pixel_window(*set.find("in"), grid.georef, grid.width, grid.height);
  REQUIRE(window.col == 10);
  REQUIRE(window.width == 30);
  REQUIRE(window.row == 49);
  REQUIRE(window.height == 30);
  const cv::Mat mask = field_mask(*set.find("in"), grid.georef, grid.width, grid.height);
  const cv::Rect rect(window.col, window.row, window.width, window.height);
  REQUIRE(cv::countNonZero(mask(rect)) == cv::countNonZero(mask));
  REQUIRE(cv::countNonZero(mask) == 900);

  REQUIRE_THROWS_WITH(
      field_pixel_window(*set.find("F007"), grid.georef, grid.width, grid.height),
      Contains("field F007 lies outside the image (image extent x 652000..652100") &&
          Contains("field extent x 652500..652530"));

  const Raster image = raster_of(test::shared_path(kImage));
  REQUIRE_NOTHROW(check_raster_crs(set, grid.georef, "grid"));
  REQUIRE_THROWS_WITH(check_raster_crs(set, image.georef, "615.tif"),
                      Contains("615.tif") && Contains("EPSG:32615") && Contains("EPSG:32652"));
  const FieldSet no_crs = read_fields(temp.file("fields.geojson"), options_for("field_no"));
  REQUIRE_THROWS_AS(check_raster_crs(no_crs, grid.georef, "grid"), StageError);
  REQUIRE_THROWS_AS(field_mask(no_crs.fields.front(), grid.georef, 10, 10), StageError);
}
