// SPDX-License-Identifier: Apache-2.0
#pragma once
// Geometry of the prescription grid, where OGR/PROJ are needed: raster pixels to WGS84,
// field boundaries onto the grid, and zone cells back to polygons clipped to the field, with
// their areas in the field's UTM zone.
#include <ogr_geometry.h>
#include <tbb/enumerable_thread_specific.h>

#include <array>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "pipeline/field_prescription.hpp"
#include "pipeline/georef.hpp"

namespace fieldrx {

// Maps a raster's pixels to WGS84 lon/lat. Thread-safe: one PROJ transformation per thread.
class LonLatTransform {
 public:
  explicit LonLatTransform(std::string raster_crs_wkt);
  // The affine map (col + 0.5, row + 0.5) -> (lon, lat) of the pixel centres of a window of
  // width x height pixels, fitted through three of its corner pixel centres. Over one tile
  // (hundreds of metres at most) a map projection is affine to well under a millimetre.
  std::array<double, 6> pixel_centre_affine(const GeoReference& window, int width, int height) const;

 private:
  struct Transform;
  std::string wkt_;
  mutable tbb::enumerable_thread_specific<std::shared_ptr<Transform>> per_thread_;
};

// CV_8U mask on `grid`: 1 where a cell's centre lies inside `geometry_wgs84` (all_touched =
// false) or where any part of the cell does (all_touched = true).
cv::Mat rasterize_on_grid(const OGRGeometry& geometry_wgs84, const CellGridGeometry& grid, bool all_touched);

// CV_64F: the area in m² (measured in EPSG `utm_epsg`) of each grid cell's part inside
// `field_wgs84`, for the cells marked in `cells` (0 elsewhere).
cv::Mat clipped_cell_areas(const CellGridGeometry& grid, const OGRGeometry& field_wgs84, const cv::Mat& cells,
                           int utm_epsg);

struct ZonePolygons {
  std::map<int, OGRGeometryUniquePtr> wgs84;  // zone -> (multi)polygon clipped to the field
  std::map<int, double> area_m2;              // zone -> area in the field's UTM zone
};

// Turns the zone cells into polygons (GDAL polygonize), dissolves them per zone, clips them to
// `clip_wgs84` (the field's treatable area) and measures them in EPSG `utm_epsg`.
ZonePolygons zone_polygons(const cv::Mat& zones, const CellGridGeometry& grid, const OGRGeometry& clip_wgs84,
                           int utm_epsg);

// Every vertex of a (multi)polygon's rings, WGS84 (lon, lat).
std::vector<std::array<double, 2>> geometry_vertices(const OGRGeometry& geometry_wgs84);
// The exterior ring of a (multi)polygon's largest part (by area in degrees², enough to rank
// the parts of one field), WGS84 (lon, lat), closing vertex dropped.
std::vector<std::array<double, 2>> main_outer_ring(const OGRGeometry& geometry_wgs84);

// Area in m² of a WGS84 geometry measured in EPSG `utm_epsg` (vertices transformed).
double area_in_utm_m2(const OGRGeometry& geometry_wgs84, int utm_epsg);

}  // namespace fieldrx
