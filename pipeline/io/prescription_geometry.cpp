// SPDX-License-Identifier: Apache-2.0
#include "pipeline/io/prescription_geometry.hpp"

#include <gdal_alg.h>
#include <ogr_spatialref.h>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {
namespace {

OGRSpatialReference wgs84_lonlat() {
  OGRSpatialReference srs;
  srs.importFromEPSG(4326);
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

// A one-band Byte MEM dataset holding `cells` on `grid` in EPSG:4326.
DatasetPtr grid_dataset(const cv::Mat& cells, const CellGridGeometry& grid) {
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  DatasetPtr ds(mem->Create("", grid.columns, grid.rows, 1, GDT_Byte, nullptr));
  if (!ds) throw IoError("cannot create an in-memory grid: " + last_gdal_error());
  auto gt = grid.geotransform();
  ds->SetGeoTransform(gt.data());
  OGRSpatialReference srs = wgs84_lonlat();
  ds->SetSpatialRef(&srs);
  if (!cells.empty()) {
    cv::Mat copy = cells.isContinuous() ? cells : cells.clone();
    check_gdal(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, grid.columns, grid.rows, copy.data, grid.columns,
                                              grid.rows, GDT_Byte, 0, 0, nullptr),
               "writing the in-memory grid");
  }
  return ds;
}

}  // namespace

struct LonLatTransform::Transform {
  std::unique_ptr<OGRCoordinateTransformation> to_lonlat;
};

LonLatTransform::LonLatTransform(std::string raster_crs_wkt) : wkt_(std::move(raster_crs_wkt)) {
  if (wkt_.empty()) throw StageError("the image has no CRS; a prescription needs a georeferenced image");
}

std::array<double, 6> LonLatTransform::pixel_centre_affine(const GeoReference& window, int width, int height) const {
  auto& transform = per_thread_.local();
  if (!transform) {
    transform = std::make_shared<Transform>();
    OGRSpatialReference source;
    source.importFromWkt(wkt_.c_str());
    source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    OGRSpatialReference target = wgs84_lonlat();
    transform->to_lonlat.reset(OGRCreateCoordinateTransformation(&source, &target));
    if (!transform->to_lonlat) throw StageError("cannot transform the image CRS to WGS84: " + last_gdal_error());
  }
  const auto& g = window.geotransform;
  // Pixel centres (0.5, 0.5), (w - 0.5, 0.5), (0.5, h - 0.5) in map units, then lon/lat.
  const double pc[3] = {0.5, std::max(width, 2) - 0.5, 0.5};
  const double pr[3] = {0.5, 0.5, std::max(height, 2) - 0.5};
  double x[3], y[3];
  for (int i = 0; i < 3; ++i) {
    x[i] = g[0] + pc[i] * g[1] + pr[i] * g[2];
    y[i] = g[3] + pc[i] * g[4] + pr[i] * g[5];
  }
  if (!transform->to_lonlat->Transform(3, x, y)) throw StageError("cannot transform image pixels to WGS84");
  // Solve lon = a0 + a1*col + a2*row (same for lat) from the three points.
  const double dc = pc[1] - pc[0], dr = pr[2] - pr[0];
  const double a1 = (x[1] - x[0]) / dc, a2 = (x[2] - x[0]) / dr;
  const double b1 = (y[1] - y[0]) / dc, b2 = (y[2] - y[0]) / dr;
  return {x[0] - a1 * pc[0] - a2 * pr[0], a1, a2, y[0] - b1 * pc[0] - b2 * pr[0], b1, b2};
}

cv::Mat rasterize_on_grid(const OGRGeometry& geometry_wgs84, const CellGridGeometry& grid, bool all_touched) {
  DatasetPtr ds = grid_dataset(cv::Mat(), grid);
  int band = 1;
  double burn = 1;
  OGRGeometryH geometry = OGRGeometry::ToHandle(const_cast<OGRGeometry*>(&geometry_wgs84));
  char* options[] = {const_cast<char*>(all_touched ? "ALL_TOUCHED=TRUE" : "ALL_TOUCHED=FALSE"), nullptr};
  check_gdal(GDALRasterizeGeometries(ds.get(), 1, &band, 1, &geometry, nullptr, nullptr, &burn, options, nullptr, nullptr),
             "rasterizing the field onto the prescription grid");
  cv::Mat mask(grid.rows, grid.columns, CV_8U);
  check_gdal(ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, grid.columns, grid.rows, mask.data, grid.columns, grid.rows,
                                            GDT_Byte, 0, 0, nullptr),
             "reading the rasterized field");
  return mask;
}

namespace {

std::vector<const OGRPolygon*> polygon_parts(const OGRGeometry& geometry) {
  std::vector<const OGRPolygon*> parts;
  const auto type = wkbFlatten(geometry.getGeometryType());
  if (type == wkbPolygon) {
    parts.push_back(geometry.toPolygon());
  } else if (type == wkbMultiPolygon || type == wkbGeometryCollection) {
    for (const OGRGeometry* part : *geometry.toGeometryCollection()) {
      for (const OGRPolygon* polygon : polygon_parts(*part)) parts.push_back(polygon);
    }
  }
  return parts;
}

void append_ring(const OGRLinearRing& ring, std::vector<std::array<double, 2>>& out) {
  const int n = ring.getNumPoints();
  const bool closed = n > 1 && ring.getX(0) == ring.getX(n - 1) && ring.getY(0) == ring.getY(n - 1);
  for (int i = 0; i < (closed ? n - 1 : n); ++i) out.push_back({ring.getX(i), ring.getY(i)});
}

}  // namespace

std::vector<std::array<double, 2>> geometry_vertices(const OGRGeometry& geometry_wgs84) {
  std::vector<std::array<double, 2>> vertices;
  for (const OGRPolygon* polygon : polygon_parts(geometry_wgs84)) {
    for (const OGRLinearRing* ring : *polygon) append_ring(*ring, vertices);
  }
  return vertices;
}

std::vector<std::array<double, 2>> main_outer_ring(const OGRGeometry& geometry_wgs84) {
  const OGRPolygon* largest = nullptr;
  for (const OGRPolygon* polygon : polygon_parts(geometry_wgs84)) {
    if (polygon->getExteriorRing() && (!largest || polygon->get_Area() > largest->get_Area())) largest = polygon;
  }
  std::vector<std::array<double, 2>> ring;
  if (largest) append_ring(*largest->getExteriorRing(), ring);
  return ring;
}

double area_in_utm_m2(const OGRGeometry& geometry_wgs84, int utm_epsg) {
  OGRSpatialReference source = wgs84_lonlat();
  OGRSpatialReference target;
  target.importFromEPSG(utm_epsg);
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> transform(OGRCreateCoordinateTransformation(&source, &target));
  if (!transform) throw StageError("cannot transform WGS84 to EPSG:" + std::to_string(utm_epsg));
  OGRGeometryUniquePtr copy(geometry_wgs84.clone());
  if (copy->transform(transform.get()) != OGRERR_NONE) throw StageError("cannot transform a zone polygon to UTM");
  const auto type = wkbFlatten(copy->getGeometryType());
  if (type == wkbPolygon) return copy->toPolygon()->get_Area();
  if (type == wkbMultiPolygon) return copy->toMultiPolygon()->get_Area();
  if (type == wkbGeometryCollection) return copy->toGeometryCollection()->get_Area();
  return 0;
}

cv::Mat clipped_cell_areas(const CellGridGeometry& grid, const OGRGeometry& field_wgs84, const cv::Mat& cells,
                           int utm_epsg) {
  OGRSpatialReference source = wgs84_lonlat();
  OGRSpatialReference target;
  target.importFromEPSG(utm_epsg);
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_utm(OGRCreateCoordinateTransformation(&source, &target));
  if (!to_utm) throw StageError("cannot transform WGS84 to EPSG:" + std::to_string(utm_epsg));
  OGRGeometryUniquePtr field_utm(field_wgs84.clone());
  if (field_utm->transform(to_utm.get()) != OGRERR_NONE) throw StageError("cannot transform the field to UTM");
  // Most cells lie wholly inside: a prepared containment test spares them the intersection.
  OGRPreparedGeometryUniquePtr prepared(OGRCreatePreparedGeometry(OGRGeometry::ToHandle(field_utm.get())));
  cv::Mat areas = cv::Mat::zeros(grid.rows, grid.columns, CV_64F);
  for (int r = 0; r < grid.rows; ++r) {
    for (int c = 0; c < grid.columns; ++c) {
      if (!cells.at<unsigned char>(r, c)) continue;
      const auto nw = grid.lonlat_at(c, r), ne = grid.lonlat_at(c + 1, r), se = grid.lonlat_at(c + 1, r + 1),
                 sw = grid.lonlat_at(c, r + 1);
      double x[5] = {nw[0], ne[0], se[0], sw[0], nw[0]};
      double y[5] = {nw[1], ne[1], se[1], sw[1], nw[1]};
      to_utm->Transform(5, x, y);
      OGRLinearRing ring;
      for (int k = 0; k < 5; ++k) ring.addPoint(x[k], y[k]);
      OGRPolygon cell;
      cell.addRing(&ring);
      if (OGRPreparedGeometryContains(prepared.get(), OGRGeometry::ToHandle(&cell))) {
        areas.at<double>(r, c) = cell.get_Area();
      } else {
        OGRGeometryUniquePtr part(cell.Intersection(field_utm.get()));
        areas.at<double>(r, c) = part ? OGR_G_Area(OGRGeometry::ToHandle(part.get())) : 0.0;
      }
    }
  }
  return areas;
}

ZonePolygons zone_polygons(const cv::Mat& zones, const CellGridGeometry& grid, const OGRGeometry& clip_wgs84,
                           int utm_epsg) {
  DatasetPtr ds = grid_dataset(zones, grid);
  GDALDriver* memory = GetGDALDriverManager()->GetDriverByName("Memory");
  DatasetPtr vectors(memory->Create("", 0, 0, 0, GDT_Unknown, nullptr));
  OGRSpatialReference srs = wgs84_lonlat();
  OGRLayer* layer = vectors->CreateLayer("zones", &srs, wkbPolygon, nullptr);
  OGRFieldDefn zone_field("zone", OFTInteger);
  layer->CreateField(&zone_field);
  GDALRasterBand* band = ds->GetRasterBand(1);
  // The zone band is its own mask: 0 (no zone) makes no polygon. 4-connected, as the patches
  // the minimum-area rule counts.
  check_gdal(GDALPolygonize(band, band, layer, 0, nullptr, nullptr, nullptr), "polygonizing the zones");

  std::map<int, std::unique_ptr<OGRMultiPolygon>> dissolved;
  layer->ResetReading();
  for (auto& feature : *layer) {
    const int zone = feature->GetFieldAsInteger(0);
    auto& parts = dissolved[zone];
    if (!parts) parts = std::make_unique<OGRMultiPolygon>();
    parts->addGeometry(feature->GetGeometryRef());
  }
  ZonePolygons result;
  for (auto& [zone, parts] : dissolved) {
    OGRGeometryUniquePtr merged(parts->UnionCascaded());
    if (!merged) throw StageError("cannot dissolve the cells of zone " + std::to_string(zone) + ": " + last_gdal_error());
    OGRGeometryUniquePtr clipped(merged->Intersection(&clip_wgs84));
    if (!clipped || clipped->IsEmpty()) continue;
    // Keep only the polygonal part (a clip can add slivers of lines or points along edges).
    auto polygonal = std::make_unique<OGRMultiPolygon>();
    const auto type = wkbFlatten(clipped->getGeometryType());
    if (type == wkbPolygon) {
      polygonal->addGeometry(clipped.get());
    } else if (type == wkbMultiPolygon || type == wkbGeometryCollection) {
      for (const OGRGeometry* part : *clipped->toGeometryCollection()) {
        const auto part_type = wkbFlatten(part->getGeometryType());
        if (part_type == wkbPolygon) polygonal->addGeometry(part);
        if (part_type == wkbMultiPolygon) {
          for (const OGRPolygon* p : *part->toMultiPolygon()) polygonal->addGeometry(p);
        }
      }
    }
    if (polygonal->IsEmpty()) continue;
    result.area_m2[zone] = area_in_utm_m2(*polygonal, utm_epsg);
    result.wgs84[zone] = OGRGeometryUniquePtr(polygonal.release());
  }
  return result;
}

}  // namespace fieldrx
