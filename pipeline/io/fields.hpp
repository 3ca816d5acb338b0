// SPDX-License-Identifier: Apache-2.0
#pragma once
// Field boundaries: reading them from vector files, repairing, buffering, excluding obstacles,
// and turning them into pixel masks of an image. OGR, PROJ and GEOS (through OGR) live here.
//
// Input: GeoJSON, ESRI Shapefile, KML/KMZ (LIBKML or KML driver; a .kmz the driver cannot open
// is read through /vsizip/), GeoPackage — anything OGR reads. Polygons and multipolygons with
// holes; curves are linearized, Z is dropped. Any CRS (GeoJSON without "crs" is WGS84); all
// CRSs are used in traditional GIS order (x = easting / longitude), whatever the authority
// says, so lon/lat files are not read as lat/lon.
//
// Each field gets three copies of its geometry: in the raster's CRS (for masks), in WGS84
// lon/lat (for exports: drones and FMIS want WGS84) and in its own UTM zone (for areas and
// buffers in metres).
//   UTM zone: from the longitude of the field's centroid (standard 6° zones, no Norway/Svalbard
//   exceptions), north or south by the centroid's latitude: EPSG 326NN / 327NN (WGS84 datum).
//   Areas are always taken in that zone, even when the input is already in a projected CRS in
//   metres: the same field then has the same area whatever file it came from, and the WGS84
//   datum is what the drone flies. Checked on the fiboa NRW fields: WGS84 / UTM 32N gives
//   their published areas within 0.4 m², the same as ETRS89 / UTM 32N (the two datums differ
//   by centimetres; PROJ's ETRS89 -> WGS84 step is a null transformation).
//   Vertices are transformed, edges are not densified: a straight edge in one CRS stays
//   straight in the other; for edges of a few hundred metres the difference is millimetres.
//
// Per-field failures do not stop a batch: a field whose geometry is empty, not polygonal, not
// repairable, or vanishes after buffers and exclusions gets status `error` and a message; a
// repaired field gets status `warning`. Whole-file problems (cannot open, unknown layer or id
// attribute, empty or duplicate ids, no CRS, unknown selected ids) throw.
#include <ogr_geometry.h>

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "pipeline/georef.hpp"
#include "pipeline/tile.hpp"

namespace fieldrx {

struct FieldReadOptions {
  std::string id_attribute;  // attribute holding the field id (--field-id); "FID": the feature id
  std::string layer;         // empty: every layer
  std::vector<std::string> ids;  // empty: every field; else only these (all must exist)
  // CRS of the imagery the masks are for, as WKT; empty: no raster-CRS geometry is made.
  std::string raster_crs_wkt;
  // Inner edge buffer (no-spray strip / headland), metres >= 0: the field shrinks by it.
  double inner_buffer_m = 0;
  // Areas to leave out of every field (water, buildings, poles, power lines): polygons, or
  // points/lines with exclusion_buffer_m > 0. Empty path: none.
  std::string exclusions_path;
  std::string exclusions_layer;   // empty: every layer
  double exclusion_buffer_m = 0;  // metres >= 0, around each exclusion
};

// One geometry of a field in the three CRSs. Polygon or MultiPolygon, valid, 2D.
struct FieldGeometry {
  OGRGeometryUniquePtr raster;  // raster CRS; null when no raster CRS was given
  OGRGeometryUniquePtr wgs84;   // EPSG:4326, x = longitude, y = latitude
  OGRGeometryUniquePtr utm;     // the field's UTM zone
  double area_m2 = 0;           // taken in the UTM zone
  double area_ha() const { return area_m2 / 10000.0; }
};

enum class FieldStatus { ok, warning, error };

struct Field {
  std::string id;
  std::string layer;            // layer it came from
  long long feature_index = 0;  // 0-based position in that layer
  long long fid = -1;           // OGR feature id
  FieldStatus status = FieldStatus::ok;
  std::string message;     // repair warnings or the error, "; "-separated; empty when ok
  int utm_epsg = 0;        // 326NN / 327NN; 0 when the geometry failed before it was known
  FieldGeometry boundary;  // as drawn (repaired if needed)
  // The boundary less the inner buffer and the (buffered) exclusions: the area to assess and
  // treat. The same as the boundary when there are neither.
  FieldGeometry treatable;

  bool ok() const { return status != FieldStatus::error; }
};

struct FieldSet {
  std::string source;          // the file read
  std::string raster_crs_wkt;  // as in FieldReadOptions
  std::vector<Field> fields;   // layer order, then feature order
  std::size_t error_count() const;
  const Field* find(const std::string& id) const;  // nullptr when absent
};

// Reads, repairs, reprojects, buffers and excludes. Throws ConfigError (bad options, unknown
// layer / attribute / selected id), StageError (empty or duplicate ids, missing CRS) or IoError.
FieldSet read_fields(const std::string& path, const FieldReadOptions& options);

// EPSG code of the WGS84 UTM zone holding (lon, lat): 32601–32660 north, 32701–32760 south.
// Throws StageError beyond ±84° latitude, where UTM is not defined.
int utm_epsg_for(double lon, double lat);

// CV_8U mask of a window of `width` x `height` pixels whose geotransform is `window`
// (GeoReference::window gives a tile's): 1 where the pixel centre lies inside `geometry`
// (holes excluded), 0 elsewhere. `geometry` must be in the window's CRS.
cv::Mat rasterize_mask(const OGRGeometry& geometry, const GeoReference& window, int width,
                       int height);
// The same for a field's treatable geometry (or its boundary). Throws StageError for a field
// with status error, or one read without a raster CRS.
cv::Mat field_mask(const Field& field, const GeoReference& window, int width, int height,
                   bool whole_boundary = false);

// Throws StageError when `raster`'s CRS is not the one `set` was read for, or `set` was read
// without one: masks would land in the wrong place. `raster_name` names it in the message.
void check_raster_crs(const FieldSet& set, const GeoReference& raster,
                      const std::string& raster_name);

// The pixels of a `width` x `height` raster whose centres the field's treatable geometry (or
// its boundary) can cover: its bounding box in pixels, clipped to the raster. Throws
// StageError "field F007 lies outside the image (image extent ..., field extent ...)".
PixelWindow field_pixel_window(const Field& field, const GeoReference& raster, int width,
                               int height, bool whole_boundary = false);

}  // namespace fieldrx
