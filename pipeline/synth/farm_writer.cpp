// SPDX-License-Identifier: Apache-2.0
// The GDAL side of `fieldrx synth`: streams the farm raster tile by tile into a tiled GeoTIFF
// and writes the field boundaries as RFC 7946 GeoJSON. The pattern itself is farm_synth.cpp.
#include <cpl_string.h>
#include <ogr_spatialref.h>
#include <tbb/concurrent_queue.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/synth/farm_synth.hpp"

namespace fieldrx::synth {
namespace {

constexpr int kBlockPx = 512;
// A small block cache: tiles are written whole and in file order, so GDAL only needs room
// for the blocks of one row of tiles being compressed (see docs/performance.md).
constexpr long long kGdalCacheBytes = 64LL << 20;

struct GeoFrame {
  double geotransform[6];
  OGRSpatialReference utm;
};

GeoFrame geo_frame(const FarmSpec& spec) {
  GeoFrame frame;
  const int epsg = 32600 + spec.utm_zone;
  if (frame.utm.importFromEPSG(epsg) != OGRERR_NONE) {
    throw IoError("EPSG:" + std::to_string(epsg) + ": PROJ does not know this CRS (is proj.db installed?)");
  }
  frame.utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference wgs84;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);  // lon, lat
  std::unique_ptr<OGRCoordinateTransformation> to_utm(OGRCreateCoordinateTransformation(&wgs84, &frame.utm));
  double x = spec.origin_lon, y = spec.origin_lat;
  if (!to_utm || !to_utm->Transform(1, &x, &y)) {
    throw IoError("cannot project the farm centre " + std::to_string(spec.origin_lat) + "N " +
                  std::to_string(spec.origin_lon) + "E to EPSG:" + std::to_string(epsg) + ": " + last_gdal_error());
  }
  // The centre given, the north-west corner snapped to the pixel grid (whole multiples of the
  // pixel size), as mosaicking software does.
  const double p = spec.pixel_size_m, half = spec.size_px * p / 2;
  const double gt[6] = {std::round((x - half) / p) * p, p, 0, std::round((y + half) / p) * p, 0, -p};
  std::copy(gt, gt + 6, frame.geotransform);
  return frame;
}

// A tile in flight: reflectance, then the stored sample type. Recycled, never freed mid-run.
struct TileBuffer {
  PixelWindow window;
  std::vector<float> reflectance = std::vector<float>(static_cast<std::size_t>(kBlockPx) * kBlockPx * kBandCount);
  std::vector<std::uint16_t> digital = {};
};

class BufferPool {
 public:
  TileBuffer* acquire() {  // serial input step only
    TileBuffer* buffer = nullptr;
    if (free_.try_pop(buffer)) return buffer;
    owned_.push_back(std::make_unique<TileBuffer>());
    return owned_.back().get();
  }
  void release(TileBuffer* buffer) { free_.push(buffer); }

 private:
  std::vector<std::unique_ptr<TileBuffer>> owned_;
  tbb::concurrent_queue<TileBuffer*> free_;
};

void write_raster(const FarmPlan& plan, const GeoFrame& frame, const std::string& path, int threads,
                  bool show_progress) {
  const FarmSpec& spec = plan.spec;
  const bool integer = spec.sample_type == SampleType::uint16;
  const GDALDataType type = integer ? GDT_UInt16 : GDT_Float32;
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("BLOCKXSIZE", std::to_string(kBlockPx).c_str());
  options.SetNameValue("BLOCKYSIZE", std::to_string(kBlockPx).c_str());
  options.SetNameValue("INTERLEAVE", "PIXEL");  // as drone mosaics (ODM, Pix4D, Metashape) ship
  options.SetNameValue("PHOTOMETRIC", "MINISBLACK");
  options.SetNameValue("BIGTIFF", "IF_SAFER");
  if (spec.compression == Compression::deflate) {
    options.SetNameValue("COMPRESS", "DEFLATE");
    options.SetNameValue("PREDICTOR", integer ? "2" : "3");
    options.SetNameValue("NUM_THREADS", std::to_string(threads).c_str());
  }
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (gtiff == nullptr) throw IoError("GDAL has no GTiff driver; reinstall libgdal");
  CPLErrorReset();
  DatasetPtr ds(gtiff->Create(path.c_str(), spec.size_px, spec.size_px, kBandCount, type, options.List()));
  if (!ds) throw IoError(path + ": cannot create the GeoTIFF: " + last_gdal_error());
  double gt[6];
  std::copy(frame.geotransform, frame.geotransform + 6, gt);
  check_gdal(ds->SetGeoTransform(gt), path + ": setting the geotransform");
  check_gdal(ds->SetSpatialRef(&frame.utm), path + ": setting the CRS");
  std::ostringstream description;
  description << "fieldrx synth: synthetic farm, seed " << spec.seed << ", " << spec.fields << " fields, "
              << spec.pixel_size_m << " m pixels, reflectance" << (integer ? " x 65535" : "");
  ds->SetMetadataItem("TIFFTAG_IMAGEDESCRIPTION", description.str().c_str());
  ds->SetMetadataItem("TIFFTAG_SOFTWARE", "fieldrx synth");
  for (int b = 0; b < kBandCount; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b + 1);
    band->SetDescription(kBandNames[static_cast<std::size_t>(b)]);
    band->SetMetadataItem("wavelength_nm", std::to_string(static_cast<int>(kBandWavelengthsNm[static_cast<std::size_t>(b)])).c_str());
    if (integer) {
      check_gdal(band->SetNoDataValue(0), path + ": setting nodata");
      // readers.orthomosaic (and QGIS, rasterio) apply this to get reflectance back.
      check_gdal(band->SetScale(1.0 / 65535.0), path + ": setting the band scale");
      check_gdal(band->SetOffset(0), path + ": setting the band offset");
    } else {
      check_gdal(band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN()), path + ": setting nodata");
    }
  }

  const std::vector<PixelWindow> windows = tile_windows(spec.size_px, spec.size_px, kBlockPx);
  const int tokens = 2 * threads;
  const long long token_bytes = static_cast<long long>(kBlockPx) * kBlockPx * kBandCount * (4 + (integer ? 2 : 0));
  log_info("farm.tif: " + std::to_string(spec.size_px) + "x" + std::to_string(spec.size_px) + " px, " +
           std::to_string(windows.size()) + " tiles of " + std::to_string(kBlockPx) + " px, " +
           std::to_string(threads) + " threads, " + std::to_string(tokens) + " tiles in flight (" +
           std::to_string((tokens * token_bytes) >> 20) + " MiB + " + std::to_string(kGdalCacheBytes >> 20) +
           " MiB GDAL cache)");
  BufferPool pool;
  ProgressBar progress("synth", static_cast<long long>(windows.size()), show_progress && stderr_is_terminal());
  std::size_t next = 0;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_pipeline(
        static_cast<std::size_t>(tokens),
        tbb::make_filter<void, TileBuffer*>(tbb::filter_mode::serial_in_order,
                                            [&](tbb::flow_control& control) -> TileBuffer* {
                                              if (next == windows.size()) {
                                                control.stop();
                                                return nullptr;
                                              }
                                              TileBuffer* buffer = pool.acquire();
                                              buffer->window = windows[next++];
                                              return buffer;
                                            }) &
            tbb::make_filter<TileBuffer*, TileBuffer*>(
                tbb::filter_mode::parallel,
                [&](TileBuffer* buffer) {
                  const PixelWindow& w = buffer->window;
                  render_window(plan, w.col, w.row, w.width, w.height, buffer->reflectance);
                  if (integer) {
                    const std::size_t n = static_cast<std::size_t>(w.pixel_count()) * kBandCount;
                    buffer->digital.resize(buffer->reflectance.size());
                    for (std::size_t i = 0; i < n; ++i) buffer->digital[i] = to_digital_number(buffer->reflectance[i]);
                  }
                  return buffer;
                }) &
            tbb::make_filter<TileBuffer*, void>(tbb::filter_mode::serial_in_order, [&](TileBuffer* buffer) {
              const PixelWindow& w = buffer->window;
              void* data = integer ? static_cast<void*>(buffer->digital.data()) : static_cast<void*>(buffer->reflectance.data());
              check_gdal(ds->RasterIO(GF_Write, w.col, w.row, w.width, w.height, data, w.width, w.height, type,
                                      kBandCount, nullptr, 0, 0, 0, nullptr),
                         path + ": writing " + w.describe());
              pool.release(buffer);
              progress.advance(1);
            }));
  });
  progress.finish();
  CPLErrorReset();
  ds->FlushCache(false);
  if (CPLGetLastErrorType() == CE_Failure) throw IoError(path + ": writing the last blocks: " + last_gdal_error());
  ds.reset();
  if (CPLGetLastErrorType() == CE_Failure) throw IoError(path + ": closing: " + last_gdal_error());
}

void write_fields(const FarmPlan& plan, const GeoFrame& frame, const std::string& path) {
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GeoJSON");
  if (driver == nullptr) throw IoError("GDAL has no GeoJSON driver; reinstall libgdal");
  CPLErrorReset();
  DatasetPtr ds(driver->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  if (!ds) throw IoError(path + ": cannot create: " + last_gdal_error());
  CPLStringList layer_options;
  // RFC 7946: OGR reprojects to WGS 84 lon/lat and winds rings counter-clockwise (holes
  // clockwise). 9 decimals of a degree = ~0.1 mm, so areas survive the round trip.
  layer_options.SetNameValue("RFC7946", "YES");
  layer_options.SetNameValue("COORDINATE_PRECISION", "9");
  OGRLayer* layer = ds->CreateLayer("fields", const_cast<OGRSpatialReference*>(&frame.utm), wkbPolygon, layer_options.List());
  if (layer == nullptr) throw IoError(path + ": cannot create the layer: " + last_gdal_error());
  OGRFieldDefn id_field("field_id", OFTString), crop_field("crop", OFTString), area_field("area_ha", OFTReal);
  for (OGRFieldDefn* defn : {&id_field, &crop_field, &area_field}) {
    if (layer->CreateField(defn) != OGRERR_NONE) throw IoError(path + ": cannot add field '" + defn->GetNameRef() + "'");
  }
  const double* gt = frame.geotransform;
  for (const Field& field : plan.fields) {
    OGRPolygon polygon;
    for (const Ring& ring : field_boundary(plan, field)) {
      OGRLinearRing linear;
      for (const Point& p : ring) linear.addPoint(gt[0] + p.x * gt[1], gt[3] + p.y * gt[5]);
      linear.closeRings();
      polygon.addRing(&linear);
    }
    // Area in the UTM plane, holes excluded, to 1 m2.
    const double area_ha = std::round(polygon.get_Area()) / 1e4;
    OGRFeature feature(layer->GetLayerDefn());
    feature.SetField("field_id", field.id.c_str());
    feature.SetField("crop", crop_name(field.crop));
    feature.SetField("area_ha", area_ha);
    feature.SetGeometry(&polygon);
    if (layer->CreateFeature(&feature) != OGRERR_NONE) {
      throw IoError(path + ": cannot write field " + field.id + ": " + last_gdal_error());
    }
  }
  ds.reset();
  if (CPLGetLastErrorType() == CE_Failure) throw IoError(path + ": closing: " + last_gdal_error());
}

}  // namespace

SynthOutputs write_farm(const FarmSpec& spec, const std::string& out_dir, bool show_progress) {
  const auto start = std::chrono::steady_clock::now();
  const FarmPlan plan = plan_farm(spec);
  configure_gdal(kGdalCacheBytes);
  const GeoFrame frame = geo_frame(plan.spec);
  make_directories(out_dir);
  const int threads = resolve_threads(plan.spec.threads);
  AtomicOutput raster(out_dir + "/farm.tif"), fields(out_dir + "/fields.geojson");
  write_raster(plan, frame, raster.temp_path(), threads, show_progress);
  write_fields(plan, frame, fields.temp_path());
  raster.commit();
  fields.commit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ostringstream summary;
  summary << "farm of " << plan.fields.size() << " fields at " << plan.spec.origin_lat << "N " << plan.spec.origin_lon
          << "E, EPSG:" << 32600 + plan.spec.utm_zone << ", done in " << seconds << " s";
  log_info(summary.str());
  return {raster.final_path(), fields.final_path()};
}

}  // namespace fieldrx::synth
