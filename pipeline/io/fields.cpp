// SPDX-License-Identifier: Apache-2.0
#include "pipeline/io/fields.hpp"

#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <set>
#include <sstream>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {
namespace {

// ---------------------------------------------------------------------------------------------
// Small OGR/OSR helpers

struct SrsReleaser {
  void operator()(OGRSpatialReference* srs) const noexcept {
    if (srs) srs->Release();
  }
};
using SrsPtr = std::unique_ptr<OGRSpatialReference, SrsReleaser>;

struct TransformDeleter {
  void operator()(OGRCoordinateTransformation* ct) const noexcept {
    OGRCoordinateTransformation::DestroyCT(ct);
  }
};
using TransformPtr = std::unique_ptr<OGRCoordinateTransformation, TransformDeleter>;

void register_drivers() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

// Every SRS we hold uses x = easting/longitude, y = northing/latitude, whatever axis order the
// authority defines (EPSG:4326 is lat/lon): GeoJSON, KML and Shapefiles store lon/lat.
SrsPtr traditional(SrsPtr srs) {
  srs->SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}
SrsPtr srs_from_epsg(int epsg) {
  SrsPtr srs(new OGRSpatialReference());
  if (srs->importFromEPSG(epsg) != OGRERR_NONE) {
    throw IoError("EPSG:" + std::to_string(epsg) +
                  ": PROJ does not know this CRS: " + last_gdal_error());
  }
  return traditional(std::move(srs));
}
SrsPtr srs_clone(const OGRSpatialReference& srs) {
  return traditional(SrsPtr(srs.Clone()));
}

std::string describe_srs(const OGRSpatialReference& srs) {
  const char* authority = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (authority && code) return std::string(authority) + ":" + code;
  const char* name = srs.GetName();
  return name ? name : "an unnamed CRS";
}

std::string format_number(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}
std::string format_ha(double m2) {
  return format_number(m2 / 10000.0, 4) + " ha";
}

std::string join(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

std::string quoted_list(const std::vector<std::string>& items, std::size_t limit = 10) {
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) shown.push_back("'" + items[i] + "'");
  std::string out = join(shown);
  if (items.size() > limit) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out;
}

std::string trim(const std::string& text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Collects GDAL's messages (GEOS's reason for invalidity comes as a warning) for the current
// thread while alive, instead of sending them to the log: they belong in the field's record.
class MessageCollector {
 public:
  MessageCollector() {
    CPLErrorReset();
    CPLPushErrorHandlerEx(&MessageCollector::handler, this);
  }
  ~MessageCollector() { CPLPopErrorHandler(); }
  MessageCollector(const MessageCollector&) = delete;
  MessageCollector& operator=(const MessageCollector&) = delete;
  std::string text() const { return join(messages_, "; "); }

 private:
  static void CPL_STDCALL handler(CPLErr, CPLErrorNum, const char* message) {
    auto* self = static_cast<MessageCollector*>(CPLGetErrorHandlerUserData());
    if (self && message && *message) self->messages_.emplace_back(message);
  }
  std::vector<std::string> messages_;
};

std::string geometry_type_name(const OGRGeometry& geometry) {
  return OGRGeometryTypeToName(wkbFlatten(geometry.getGeometryType()));
}

bool is_polygonal_type(OGRwkbGeometryType type) {
  switch (wkbFlatten(type)) {
    case wkbPolygon:
    case wkbMultiPolygon:
    case wkbCurvePolygon:
    case wkbMultiSurface:
    case wkbTriangle:
    case wkbPolyhedralSurface:
    case wkbTIN:
      return true;
    default:
      return false;
  }
}

// The polygons inside `geometry` (2D, linear) as a Polygon or MultiPolygon; null when there
// are none. `dropped` counts parts of other types (points, lines) that were left out.
void collect_polygons(const OGRGeometry& geometry, std::vector<OGRGeometryUniquePtr>& polygons,
                      int& dropped) {
  if (geometry.IsEmpty()) return;
  const OGRwkbGeometryType type = wkbFlatten(geometry.getGeometryType());
  if (type == wkbPolygon) {
    OGRGeometryUniquePtr copy(geometry.clone());
    copy->flattenTo2D();
    polygons.push_back(std::move(copy));
  } else if (type == wkbCurvePolygon || type == wkbTriangle) {
    OGRGeometryUniquePtr linear(geometry.getLinearGeometry());
    OGRGeometryUniquePtr polygon(OGRGeometryFactory::forceToPolygon(linear.release()));
    if (polygon) collect_polygons(*polygon, polygons, dropped);
  } else if (type == wkbPolyhedralSurface || type == wkbTIN) {
    OGRGeometryUniquePtr multi(OGRGeometryFactory::forceToMultiPolygon(geometry.clone()));
    if (multi) collect_polygons(*multi, polygons, dropped);
  } else if (OGR_GT_IsSubClassOf(type, wkbGeometryCollection)) {
    for (const OGRGeometry* part : *geometry.toGeometryCollection()) {
      collect_polygons(*part, polygons, dropped);
    }
  } else {
    ++dropped;
  }
}

OGRGeometryUniquePtr polygonal_part(const OGRGeometry& geometry, int* dropped_parts = nullptr) {
  std::vector<OGRGeometryUniquePtr> polygons;
  int dropped = 0;
  collect_polygons(geometry, polygons, dropped);
  if (dropped_parts) *dropped_parts = dropped;
  if (polygons.empty()) return nullptr;
  if (polygons.size() == 1) return std::move(polygons.front());
  auto multi = std::make_unique<OGRMultiPolygon>();
  for (auto& polygon : polygons) multi->addGeometryDirectly(polygon.release());
  return OGRGeometryUniquePtr(multi.release());
}

double area_of(const OGRGeometry& geometry) {
  return OGR_G_Area(OGRGeometry::ToHandle(const_cast<OGRGeometry*>(&geometry)));
}

// A valid polygonal version of `geometry`: unchanged when already valid, else repaired with
// MakeValid (GEOS). On success `note` describes a repair (empty when none was needed); on
// failure the result is null and `note` says why.
OGRGeometryUniquePtr make_valid_polygonal(OGRGeometryUniquePtr geometry, std::string& note) {
  note.clear();
  std::string reason;
  {
    MessageCollector messages;
    if (geometry->IsValid()) return geometry;
    reason = messages.text();
  }
  const std::string what = "invalid geometry" + (reason.empty() ? "" : " (" + reason + ")");
  if (!OGRGeometryFactory::haveGEOS()) {
    note = what + " and GDAL was built without GEOS, so it cannot be repaired";
    return nullptr;
  }
  OGRGeometryUniquePtr repaired;
  std::string repair_error;
  {
    MessageCollector messages;
    repaired.reset(geometry->MakeValid());
    repair_error = messages.text();
  }
  if (!repaired) {
    note = what + " that MakeValid could not repair" +
           (repair_error.empty() ? "" : ": " + repair_error);
    return nullptr;
  }
  OGRGeometryUniquePtr polygonal = polygonal_part(*repaired);
  if (!polygonal || area_of(*polygonal) <= 0.0) {
    note = what + " with no area left after MakeValid (it gave a " + geometry_type_name(*repaired) +
           "); draw the boundary as a polygon";
    return nullptr;
  }
  note = what + " repaired with MakeValid";
  return polygonal;
}

// A transformation between two CRSs; none when they are the same, so geometries then pass
// through bit for bit.
class Reprojector {
 public:
  Reprojector(const OGRSpatialReference& from, const OGRSpatialReference& to) {
    const char* const options[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", nullptr};
    if (from.IsSame(&to, options)) return;
    CPLErrorReset();
    transform_.reset(OGRCreateCoordinateTransformation(&from, &to));
    if (!transform_) {
      throw IoError("no coordinate transformation from " + describe_srs(from) + " to " +
                    describe_srs(to) + ": " + last_gdal_error());
    }
  }
  // The transformed copy, or null with `error` set (points outside the CRS's area of use...).
  OGRGeometryUniquePtr apply(const OGRGeometry& geometry, std::string& error) const {
    OGRGeometryUniquePtr copy(geometry.clone());
    if (!transform_) return copy;
    MessageCollector messages;
    if (copy->transform(transform_.get()) != OGRERR_NONE) {
      error = messages.text();
      if (error.empty()) error = "PROJ could not transform some vertices";
      return nullptr;
    }
    return copy;
  }

 private:
  TransformPtr transform_;
};

// Transformations made once per CRS pair and reused for thousands of fields.
class ReprojectorCache {
 public:
  const Reprojector& get(const OGRSpatialReference& from, const std::string& from_key,
                         const OGRSpatialReference& to, const std::string& to_key) {
    auto& slot = cache_[from_key + "\n->\n" + to_key];
    if (!slot) slot = std::make_unique<Reprojector>(from, to);
    return *slot;
  }
  const OGRSpatialReference& utm(int epsg) {
    auto& slot = utm_[epsg];
    if (!slot) slot = srs_from_epsg(epsg);
    return *slot;
  }

 private:
  std::map<std::string, std::unique_ptr<Reprojector>> cache_;
  std::map<int, SrsPtr> utm_;
};

std::string utm_key(int epsg) {
  return "EPSG:" + std::to_string(epsg);
}

// ---------------------------------------------------------------------------------------------
// Opening files

bool ends_with_kmz(const std::string& path) {
  return path.size() >= 4 && iequals(path.substr(path.size() - 4), ".kmz");
}

DatasetPtr open_vector_file(const std::string& path) {
  register_drivers();
  try {
    return open_vector(path);
  } catch (const IoError&) {
    if (!ends_with_kmz(path)) throw;
    // Without LIBKML a KMZ is a zip around a KML (doc.kml by convention, any .kml in practice).
    const std::string zip = "/vsizip/" + path;
    char** entries = VSIReadDir(zip.c_str());
    std::string kml;
    for (int i = 0; entries && entries[i] && kml.empty(); ++i) {
      const std::string entry = entries[i];
      if (entry.size() > 4 && iequals(entry.substr(entry.size() - 4), ".kml")) kml = entry;
    }
    CSLDestroy(entries);
    if (kml.empty()) throw;
    return open_vector(zip + "/" + kml);
  }
}

std::vector<OGRLayer*> chosen_layers(GDALDataset& dataset, const std::string& path,
                                     const std::string& layer_name, const std::string& what) {
  std::vector<OGRLayer*> layers;
  if (!layer_name.empty()) {
    OGRLayer* layer = dataset.GetLayerByName(layer_name.c_str());
    if (!layer) {
      std::vector<std::string> names;
      for (OGRLayer* l : dataset.GetLayers()) names.emplace_back(l->GetName());
      throw ConfigError(path + ": no layer '" + layer_name + "' for " + what +
                        "; the file's layers are [" + join(names) + "]");
    }
    layers.push_back(layer);
  } else {
    for (OGRLayer* layer : dataset.GetLayers()) layers.push_back(layer);
  }
  return layers;
}

// ---------------------------------------------------------------------------------------------
// Exclusions

struct Exclusion {
  OGRGeometryUniquePtr wgs84;
  OGREnvelope envelope;  // in degrees, grown by the buffer
};

std::vector<Exclusion> read_exclusions(const FieldReadOptions& options, ReprojectorCache& cache,
                                       const OGRSpatialReference& wgs84) {
  std::vector<Exclusion> out;
  if (options.exclusions_path.empty()) return out;
  const std::string& path = options.exclusions_path;
  DatasetPtr dataset = open_vector_file(path);
  long long without_area = 0;
  for (OGRLayer* layer : chosen_layers(*dataset, path, options.exclusions_layer, "exclusions")) {
    const std::string where = path + ": layer '" + layer->GetName() + "'";
    if (layer->GetFeatureCount() == 0) continue;
    const OGRSpatialReference* layer_srs = layer->GetSpatialRef();
    if (!layer_srs) {
      throw StageError(where +
                       " has no coordinate reference system; add one (a .prj next "
                       "to a Shapefile) so the exclusions can be placed on the fields");
    }
    const SrsPtr srs = srs_clone(*layer_srs);
    const std::string srs_key = std::string(path) + "|" + layer->GetName();
    const Reprojector& to_wgs84 = cache.get(*srs, srs_key, wgs84, "EPSG:4326");
    long long index = -1;
    layer->ResetReading();
    for (auto& feature : *layer) {
      ++index;
      const OGRGeometry* source = feature->GetGeometryRef();
      if (!source || source->IsEmpty()) continue;  // nothing to exclude
      const std::string feature_where = where + " feature " + std::to_string(index);
      OGRGeometryUniquePtr geometry(source->clone());
      geometry->flattenTo2D();
      if (is_polygonal_type(geometry->getGeometryType()) ||
          (OGR_GT_IsSubClassOf(wkbFlatten(geometry->getGeometryType()), wkbGeometryCollection) &&
           polygonal_part(*geometry))) {
        geometry = polygonal_part(*geometry);
        std::string note;
        geometry = make_valid_polygonal(std::move(geometry), note);
        if (!geometry) throw StageError(feature_where + ": " + note + "; fix or remove it");
      } else if (options.exclusion_buffer_m <= 0) {
        ++without_area;  // a pole or a power line: only a buffer gives it an area
        continue;
      }
      std::string error;
      OGRGeometryUniquePtr in_wgs84 = to_wgs84.apply(*geometry, error);
      if (!in_wgs84) {
        throw StageError(feature_where + ": cannot transform to WGS84: " + error);
      }
      Exclusion exclusion;
      in_wgs84->getEnvelope(&exclusion.envelope);
      if (options.exclusion_buffer_m > 0) {
        // Degrees per metre, generously: a candidate too many costs a GEOS call, one too few
        // would leave an obstacle sprayed.
        const double max_lat = std::min(
            89.0, std::max(std::abs(exclusion.envelope.MinY), std::abs(exclusion.envelope.MaxY)));
        const double dlat = 1.2 * options.exclusion_buffer_m / 110574.0;
        const double dlon = dlat / std::cos(max_lat * std::numbers::pi / 180.0);
        exclusion.envelope.MinX -= dlon;
        exclusion.envelope.MaxX += dlon;
        exclusion.envelope.MinY -= dlat;
        exclusion.envelope.MaxY += dlat;
      }
      exclusion.wgs84 = std::move(in_wgs84);
      out.push_back(std::move(exclusion));
    }
  }
  if (without_area > 0) {
    throw ConfigError(path + ": " + std::to_string(without_area) +
                      " point or line exclusions have no area to leave out; set "
                      "exclusion_buffer_m > 0 (the distance to keep from them, in metres)");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One field

struct FeatureRecord {
  std::string id, layer;
  long long index = 0, fid = -1;
  OGRGeometryUniquePtr geometry;  // as read; may be null
  const OGRSpatialReference* srs = nullptr;
  std::string srs_key;
};

class FieldBuilder {
 public:
  FieldBuilder(const FieldReadOptions& options, ReprojectorCache& cache,
               const OGRSpatialReference& wgs84, const OGRSpatialReference* raster,
               const std::vector<Exclusion>& exclusions)
      : options_(options), cache_(cache), wgs84_(wgs84), raster_(raster), exclusions_(exclusions) {}

  Field build(FeatureRecord& record) {
    Field field;
    field.id = record.id;
    field.layer = record.layer;
    field.feature_index = record.index;
    field.fid = record.fid;
    try {
      process(record, field);
    } catch (const FieldFailure& failure) {
      field.status = FieldStatus::error;
      field.boundary = FieldGeometry{};
      field.treatable = FieldGeometry{};
      add_message(field, failure.message);
    }
    return field;
  }

 private:
  struct FieldFailure {
    std::string message;
  };
  static void add_message(Field& field, const std::string& message) {
    field.message += (field.message.empty() ? "" : "; ") + message;
  }
  static void warn(Field& field, const std::string& message) {
    if (field.status == FieldStatus::ok) field.status = FieldStatus::warning;
    add_message(field, message);
  }

  OGRGeometryUniquePtr transformed(const Reprojector& reprojector, const OGRGeometry& geometry,
                                   const std::string& target) {
    std::string error;
    OGRGeometryUniquePtr out = reprojector.apply(geometry, error);
    if (!out) throw FieldFailure{"cannot transform to " + target + ": " + error};
    return out;
  }

  void process(FeatureRecord& record, Field& field) {
    if (!record.geometry) throw FieldFailure{"has no geometry"};
    if (record.geometry->IsEmpty()) {
      throw FieldFailure{"has an empty " + geometry_type_name(*record.geometry)};
    }
    OGRGeometryUniquePtr geometry = std::move(record.geometry);
    geometry->flattenTo2D();
    int dropped = 0;
    OGRGeometryUniquePtr polygons = polygonal_part(*geometry, &dropped);
    if (!polygons) {
      throw FieldFailure{"is a " + geometry_type_name(*geometry) +
                         ", not a polygon: a field boundary must be a Polygon or MultiPolygon"};
    }
    if (dropped > 0) {
      warn(field, "ignored " + std::to_string(dropped) + " non-polygon part(s) of its " +
                      geometry_type_name(*geometry));
    }
    std::string repair_note, note;
    polygons = make_valid_polygonal(std::move(polygons), repair_note);
    if (!polygons) throw FieldFailure{repair_note};

    // WGS84 first: the centroid's longitude picks the UTM zone.
    const Reprojector& to_wgs84 = cache_.get(*record.srs, record.srs_key, wgs84_, "EPSG:4326");
    field.boundary.wgs84 = transformed(to_wgs84, *polygons, "WGS84");
    OGRPoint centroid;
    if (field.boundary.wgs84->Centroid(&centroid) != OGRERR_NONE || centroid.IsEmpty()) {
      throw FieldFailure{"has no centroid (" + last_gdal_error() + ")"};
    }
    try {
      field.utm_epsg = utm_epsg_for(centroid.getX(), centroid.getY());
    } catch (const StageError& e) {
      throw FieldFailure{e.what()};
    }
    const std::string zone_key = utm_key(field.utm_epsg);
    const OGRSpatialReference& utm = cache_.utm(field.utm_epsg);
    field.boundary.utm =
        transformed(cache_.get(*record.srs, record.srs_key, utm, zone_key), *polygons, zone_key);
    if (!field.boundary.utm->IsValid()) {
      // Valid in its own CRS, invalid after projection: nearly touching rings. Rare; repair.
      field.boundary.utm = make_valid_polygonal(std::move(field.boundary.utm), note);
      if (!field.boundary.utm) throw FieldFailure{note + " in " + zone_key};
      warn(field, note + " in " + zone_key);
    }
    field.boundary.area_m2 = area_of(*field.boundary.utm);
    if (!(field.boundary.area_m2 > 0.0)) throw FieldFailure{"has no area"};
    if (!repair_note.empty()) {
      // The area says whether the repair kept what was meant (a bowtie keeps both lobes).
      warn(field, repair_note + "; the repaired boundary has " + format_ha(field.boundary.area_m2));
    }
    if (raster_) {
      field.boundary.raster = transformed(
          cache_.get(*record.srs, record.srs_key, *raster_, "raster"), *polygons, "the raster CRS");
    }

    if (options_.inner_buffer_m <= 0 && exclusions_.empty()) {
      field.treatable.raster.reset(field.boundary.raster ? field.boundary.raster->clone()
                                                         : nullptr);
      field.treatable.wgs84.reset(field.boundary.wgs84->clone());
      field.treatable.utm.reset(field.boundary.utm->clone());
      field.treatable.area_m2 = field.boundary.area_m2;
      return;
    }
    build_treatable(field, utm, zone_key);
  }

  // Inner buffer and exclusions, in metres in the field's UTM zone, then back to the others.
  void build_treatable(Field& field, const OGRSpatialReference& utm, const std::string& zone_key) {
    std::vector<std::string> steps{"boundary " + format_ha(field.boundary.area_m2)};
    OGRGeometryUniquePtr area(field.boundary.utm->clone());
    auto geos_step = [&](OGRGeometry* result, const std::string& what) {
      OGRGeometryUniquePtr owned(result);
      if (!owned) throw FieldFailure{"GEOS failed on the " + what + ": " + last_gdal_error()};
      return polygonal_part(*owned);
    };
    auto vanished = [&]() {
      return FieldFailure{"nothing left to treat (" + join(steps, ", ") +
                          "); reduce inner_buffer_m / exclusion_buffer_m or check the exclusions"};
    };
    if (options_.inner_buffer_m > 0) {
      area = geos_step(area->Buffer(-options_.inner_buffer_m), "inner buffer");
      const double left = area ? area_of(*area) : 0.0;
      steps.push_back("after the " + format_number(options_.inner_buffer_m, 2) +
                      " m inner buffer " + format_ha(left));
      if (!area || left <= 0.0) throw vanished();
    }
    if (!exclusions_.empty()) {
      OGREnvelope envelope;
      field.boundary.wgs84->getEnvelope(&envelope);
      const Reprojector& to_utm = cache_.get(wgs84_, "EPSG:4326", utm, zone_key);
      int used = 0;
      for (const Exclusion& exclusion : exclusions_) {
        if (!exclusion.envelope.Intersects(envelope)) continue;
        OGRGeometryUniquePtr obstacle = transformed(to_utm, *exclusion.wgs84, zone_key);
        if (options_.exclusion_buffer_m > 0) {
          obstacle = geos_step(obstacle->Buffer(options_.exclusion_buffer_m), "exclusion buffer");
          if (!obstacle) continue;
        }
        if (!area->Intersects(obstacle.get())) continue;
        ++used;
        area = geos_step(area->Difference(obstacle.get()), "exclusion");
        if (!area) break;
      }
      const double left = area ? area_of(*area) : 0.0;
      steps.push_back("after " + std::to_string(used) + " exclusion(s)" +
                      (options_.exclusion_buffer_m > 0
                           ? " buffered by " + format_number(options_.exclusion_buffer_m, 2) + " m"
                           : std::string()) +
                      " " + format_ha(left));
      if (!area || left <= 0.0) throw vanished();
    }
    field.treatable.area_m2 = area_of(*area);
    field.treatable.wgs84 =
        transformed(cache_.get(utm, zone_key, wgs84_, "EPSG:4326"), *area, "WGS84");
    if (raster_) {
      field.treatable.raster =
          transformed(cache_.get(utm, zone_key, *raster_, "raster"), *area, "the raster CRS");
    }
    field.treatable.utm = std::move(area);
  }

  const FieldReadOptions& options_;
  ReprojectorCache& cache_;
  const OGRSpatialReference& wgs84_;
  const OGRSpatialReference* raster_;
  const std::vector<Exclusion>& exclusions_;
};

void check_options(const std::string& path, const FieldReadOptions& options) {
  if (trim(options.id_attribute).empty()) {
    throw ConfigError(path + ": no attribute named for the field ids; choose one with --field-id");
  }
  if (!(options.inner_buffer_m >= 0 && std::isfinite(options.inner_buffer_m))) {
    throw ConfigError(path + ": inner_buffer_m " + std::to_string(options.inner_buffer_m) +
                      " must be a distance in metres >= 0 (the field shrinks by it)");
  }
  if (!(options.exclusion_buffer_m >= 0 && std::isfinite(options.exclusion_buffer_m))) {
    throw ConfigError(path + ": exclusion_buffer_m " + std::to_string(options.exclusion_buffer_m) +
                      " must be a distance in metres >= 0");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int utm_epsg_for(double lon, double lat) {
  if (!std::isfinite(lon) || !std::isfinite(lat) || lat < -84.0 || lat > 84.0) {
    throw StageError("(" + format_number(lon, 6) + ", " + format_number(lat, 6) +
                     ") is outside UTM's latitudes [-84, 84]; polar fields need another CRS");
  }
  // Normalise to [-180, 180) so 180°E falls in zone 1, as it does in UTM.
  const double normalised = lon - 360.0 * std::floor((lon + 180.0) / 360.0);
  const int zone = std::clamp(static_cast<int>(std::floor((normalised + 180.0) / 6.0)) + 1, 1, 60);
  return (lat >= 0 ? 32600 : 32700) + zone;
}

std::size_t FieldSet::error_count() const {
  return static_cast<std::size_t>(std::count_if(
      fields.begin(), fields.end(), [](const Field& f) { return f.status == FieldStatus::error; }));
}

const Field* FieldSet::find(const std::string& id) const {
  for (const Field& field : fields) {
    if (field.id == id) return &field;
  }
  return nullptr;
}

FieldSet read_fields(const std::string& path, const FieldReadOptions& options) {
  check_options(path, options);
  register_drivers();
  FieldSet out;
  out.source = path;
  out.raster_crs_wkt = options.raster_crs_wkt;

  ReprojectorCache cache;
  const SrsPtr wgs84 = srs_from_epsg(4326);
  SrsPtr raster;
  if (!options.raster_crs_wkt.empty()) {
    raster.reset(new OGRSpatialReference());
    if (raster->importFromWkt(options.raster_crs_wkt.c_str()) != OGRERR_NONE) {
      throw ConfigError(path + ": the raster's CRS is not valid WKT: " + last_gdal_error());
    }
    raster = traditional(std::move(raster));
  }
  const std::vector<Exclusion> exclusions = read_exclusions(options, cache, *wgs84);

  DatasetPtr dataset = open_vector_file(path);
  const std::string id_attribute = trim(options.id_attribute);
  const std::set<std::string> wanted(options.ids.begin(), options.ids.end());

  // First pass: ids, selection, and the checks that concern the whole file.
  std::vector<FeatureRecord> records;
  std::vector<SrsPtr> layer_srs;
  std::vector<std::string> empty_ids;
  long long features_seen = 0;
  std::vector<std::string> all_ids;  // for "did you mean" in selection errors
  for (OGRLayer* layer : chosen_layers(*dataset, path, options.layer, "the fields")) {
    if (layer->GetFeatureCount() == 0) continue;
    const std::string layer_name = layer->GetName();
    const std::string where = path + ": layer '" + layer_name + "'";
    OGRFeatureDefn* definition = layer->GetLayerDefn();
    const int id_index = definition->GetFieldIndex(id_attribute.c_str());
    const bool use_fid =
        id_index < 0 && (iequals(id_attribute, "FID") ||
                         (*layer->GetFIDColumn() && iequals(id_attribute, layer->GetFIDColumn())));
    if (id_index < 0 && !use_fid) {
      std::vector<std::string> names;
      for (int i = 0; i < definition->GetFieldCount(); ++i) {
        names.emplace_back(definition->GetFieldDefn(i)->GetNameRef());
      }
      throw ConfigError(where + " has no attribute '" + id_attribute + "' for the field ids; its " +
                        "attributes are [" + join(names) +
                        "] (or FID); choose one with --field-id");
    }
    const OGRSpatialReference* srs = layer->GetSpatialRef();
    if (!srs) {
      throw StageError(
          where +
          " has no coordinate reference system; add one (a .prj next to a "
          "Shapefile, a crs member in GeoJSON) so the fields can be placed on the image");
    }
    layer_srs.push_back(srs_clone(*srs));
    const std::string srs_key = path + "|" + layer_name;
    long long index = -1;
    layer->ResetReading();
    for (auto& feature : *layer) {
      ++index;
      ++features_seen;
      std::string id;
      if (use_fid) {
        id = std::to_string(feature->GetFID());
      } else if (feature->IsFieldSetAndNotNull(id_index)) {
        id = trim(feature->GetFieldAsString(id_index));
      }
      const std::string location = "feature " + std::to_string(index) + " (FID " +
                                   std::to_string(feature->GetFID()) + ") of layer '" + layer_name +
                                   "'";
      if (id.empty()) {
        if (wanted.empty()) empty_ids.push_back(location);
        continue;
      }
      all_ids.push_back(id);
      if (!wanted.empty() && !wanted.count(id)) continue;
      FeatureRecord record;
      record.id = id;
      record.layer = layer_name;
      record.index = index;
      record.fid = feature->GetFID();
      if (const OGRGeometry* geometry = feature->GetGeometryRef()) {
        record.geometry.reset(geometry->clone());
      }
      record.srs = layer_srs.back().get();
      record.srs_key = srs_key;
      records.push_back(std::move(record));
    }
  }
  if (!empty_ids.empty()) {
    throw StageError(
        path + ": " + std::to_string(empty_ids.size()) +
        " feature(s) have no value in attribute '" + id_attribute + "': " +
        join(std::vector<std::string>(
            empty_ids.begin(), empty_ids.begin() + std::min<std::size_t>(empty_ids.size(), 10))) +
        (empty_ids.size() > 10 ? ", ..." : "") +
        "; every field needs an id: fill them in or choose another --field-id");
  }
  {
    std::map<std::string, std::vector<std::string>> places;
    for (const FeatureRecord& r : records) {
      places[r.id].push_back("feature " + std::to_string(r.index) + " of layer '" + r.layer + "'");
    }
    std::vector<std::string> duplicates;
    for (const auto& [id, where] : places) {
      if (where.size() > 1) duplicates.push_back("'" + id + "' (" + join(where, ", ") + ")");
    }
    if (!duplicates.empty()) {
      throw StageError(path + ": field ids must be unique, but attribute '" + id_attribute +
                       "' repeats " + join(duplicates, "; ") +
                       "; give each field its own id or choose another --field-id");
    }
  }
  if (!wanted.empty()) {
    std::vector<std::string> missing;
    for (const std::string& id : options.ids) {
      if (std::none_of(records.begin(), records.end(),
                       [&](const FeatureRecord& r) { return r.id == id; })) {
        missing.push_back(id);
      }
    }
    if (!missing.empty()) {
      throw ConfigError(path + ": no field has id " + quoted_list(missing) + " (attribute '" +
                        id_attribute + "'); the file's ids are " + quoted_list(all_ids));
    }
  }
  if (records.empty()) {
    throw StageError(path + ": no fields found (" + std::to_string(features_seen) + " features" +
                     (options.layer.empty() ? "" : " in layer '" + options.layer + "'") +
                     "); a field boundary file needs polygon features with ids");
  }

  FieldBuilder builder(options, cache, *wgs84, raster.get(), exclusions);
  out.fields.reserve(records.size());
  for (FeatureRecord& record : records) out.fields.push_back(builder.build(record));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Masks and windows

cv::Mat rasterize_mask(const OGRGeometry& geometry, const GeoReference& window, int width,
                       int height) {
  if (width <= 0 || height <= 0)
    return cv::Mat::zeros(std::max(height, 0), std::max(width, 0), CV_8U);
  register_drivers();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("MEM");
  if (!driver) throw IoError("rasterizing a field: GDAL's MEM driver is missing");
  DatasetPtr dataset(driver->Create("", width, height, 1, GDT_Byte, nullptr));
  if (!dataset) throw IoError("rasterizing a field: " + last_gdal_error());
  std::array<double, 6> transform = window.geotransform;
  check_gdal(dataset->SetGeoTransform(transform.data()), "rasterizing a field");
  // No transformer: GDAL maps the geometry through the dataset's geotransform; no ALL_TOUCHED,
  // so a pixel is in when its centre is (the usual zonal-statistics rule).
  int band = 1;
  double burn = 1.0;
  OGRGeometryH handle = OGRGeometry::ToHandle(const_cast<OGRGeometry*>(&geometry));
  check_gdal(GDALRasterizeGeometries(GDALDataset::ToHandle(dataset.get()), 1, &band, 1, &handle,
                                     nullptr, nullptr, &burn, nullptr, nullptr, nullptr),
             "rasterizing a field");
  cv::Mat mask(height, width, CV_8U);
  check_gdal(
      dataset->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, width, height, mask.data, width, height,
                                          GDT_Byte, 1, static_cast<GSpacing>(mask.step), nullptr),
      "rasterizing a field");
  return mask;
}

namespace {
const OGRGeometry& raster_geometry(const Field& field, bool whole_boundary) {
  if (field.status == FieldStatus::error) {
    throw StageError("field " + field.id + ": has no geometry to map (" + field.message + ")");
  }
  const FieldGeometry& geometry = whole_boundary ? field.boundary : field.treatable;
  if (!geometry.raster) {
    throw StageError(
        "field " + field.id +
        ": was read without the raster's CRS (FieldReadOptions::raster_crs_wkt), so it "
        "cannot be mapped onto an image");
  }
  return *geometry.raster;
}

std::string describe_extent(double min_x, double max_x, double min_y, double max_y) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "x %.10g..%.10g, y %.10g..%.10g", min_x, max_x, min_y,
                max_y);
  return buffer;
}
}  // namespace

cv::Mat field_mask(const Field& field, const GeoReference& window, int width, int height,
                   bool whole_boundary) {
  return rasterize_mask(raster_geometry(field, whole_boundary), window, width, height);
}

void check_raster_crs(const FieldSet& set, const GeoReference& raster,
                      const std::string& raster_name) {
  if (set.raster_crs_wkt.empty()) {
    throw StageError(set.source +
                     ": the fields were read without a raster CRS, so they cannot "
                     "be mapped onto " +
                     raster_name);
  }
  if (raster.crs_wkt == set.raster_crs_wkt) return;
  OGRSpatialReference a, b;
  const bool same = !raster.crs_wkt.empty() &&
                    a.importFromWkt(raster.crs_wkt.c_str()) == OGRERR_NONE &&
                    b.importFromWkt(set.raster_crs_wkt.c_str()) == OGRERR_NONE && a.IsSame(&b);
  if (!same) {
    throw StageError(raster_name + ": its CRS (" +
                     (raster.crs_wkt.empty() ? std::string("none") : describe_srs(a)) +
                     ") is not the one the fields of " + set.source + " were read for (" +
                     describe_srs(b) + "); read the fields again with this raster's CRS");
  }
}

PixelWindow field_pixel_window(const Field& field, const GeoReference& raster, int width,
                               int height, bool whole_boundary) {
  const OGRGeometry& geometry = raster_geometry(field, whole_boundary);
  OGREnvelope envelope;
  geometry.getEnvelope(&envelope);
  double inverse[6];
  std::array<double, 6> forward = raster.geotransform;
  if (!GDALInvGeoTransform(forward.data(), inverse)) {
    throw StageError("field " + field.id + ": the image's geotransform cannot be inverted");
  }
  double min_col = HUGE_VAL, max_col = -HUGE_VAL, min_row = HUGE_VAL, max_row = -HUGE_VAL;
  for (double x : {envelope.MinX, envelope.MaxX}) {
    for (double y : {envelope.MinY, envelope.MaxY}) {
      const double col = inverse[0] + x * inverse[1] + y * inverse[2];
      const double row = inverse[3] + x * inverse[4] + y * inverse[5];
      min_col = std::min(min_col, col);
      max_col = std::max(max_col, col);
      min_row = std::min(min_row, row);
      max_row = std::max(max_row, row);
    }
  }
  // Pixel c is in when its centre c + 0.5 can be inside: c in [ceil(min - 0.5), floor(max - 0.5)].
  const double first_col = std::max(0.0, std::ceil(min_col - 0.5));
  const double last_col = std::min(width - 1.0, std::floor(max_col - 0.5));
  const double first_row = std::max(0.0, std::ceil(min_row - 0.5));
  const double last_row = std::min(height - 1.0, std::floor(max_row - 0.5));
  if (!(first_col <= last_col && first_row <= last_row)) {
    const auto& g = raster.geotransform;
    double xs[4], ys[4];
    int k = 0;
    for (int c : {0, width}) {
      for (int r : {0, height}) {
        xs[k] = g[0] + c * g[1] + r * g[2];
        ys[k] = g[3] + c * g[4] + r * g[5];
        ++k;
      }
    }
    throw StageError("field " + field.id + " lies outside the image (image extent " +
                     describe_extent(*std::min_element(xs, xs + 4), *std::max_element(xs, xs + 4),
                                     *std::min_element(ys, ys + 4), *std::max_element(ys, ys + 4)) +
                     ", field extent " +
                     describe_extent(envelope.MinX, envelope.MaxX, envelope.MinY, envelope.MaxY) +
                     ", both in the image's CRS); check that the boundary file and the image "
                     "cover the same place");
  }
  PixelWindow window;
  window.col = static_cast<int>(first_col);
  window.row = static_cast<int>(first_row);
  window.width = static_cast<int>(last_col - first_col) + 1;
  window.height = static_cast<int>(last_row - first_row) + 1;
  return window;
}

}  // namespace fieldrx
