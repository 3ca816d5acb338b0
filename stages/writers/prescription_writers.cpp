// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/prescription_writers.hpp"

#include <cpl_string.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <filesystem>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "stages/writers/isoxml_taskdata.hpp"

namespace fieldrx {
namespace {

TaskDataRing ring_of(const OGRLinearRing& ring) {
  TaskDataRing out;
  for (const OGRPoint& point : ring) out.push_back({point.getX(), point.getY()});
  return out;
}

std::vector<TaskDataPolygon> polygons_of(const OGRGeometry& geometry) {
  std::vector<TaskDataPolygon> out;
  auto add = [&](const OGRPolygon& polygon) {
    TaskDataPolygon part;
    part.exterior = ring_of(*polygon.getExteriorRing());
    for (int i = 0; i < polygon.getNumInteriorRings(); ++i) part.holes.push_back(ring_of(*polygon.getInteriorRing(i)));
    out.push_back(std::move(part));
  };
  const auto type = wkbFlatten(geometry.getGeometryType());
  if (type == wkbPolygon) add(*geometry.toPolygon());
  if (type == wkbMultiPolygon) {
    for (const OGRPolygon* polygon : *geometry.toMultiPolygon()) add(*polygon);
  }
  return out;
}

OGRSpatialReference wgs84() {
  OGRSpatialReference srs;
  srs.importFromEPSG(4326);
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

}  // namespace

IsoxmlWriter::IsoxmlWriter()
    : FieldWriter({"writers.isoxml", "ISO 11783-10 TASKDATA (grid type 2 or 1, v4.3 or v3.3) as a folder and a zip",
                   "https://www.isobus.net/isobus/ (ISO 11783-10 schemas)"}) {}

void IsoxmlWriter::declare_options(OptionSet& options) {
  options.add("version", version_, "ISOXML version: 4 (v4.3) or 3 (v3.3)", 4).range(3, 4);
  options.add("grid_type", grid_type_, "grid type: 2 (rate per cell) or 1 (zone code per cell)", 2).range(1, 2);
  options.add("customer", customer_, "customer designator", "");
  options.add("farm", farm_, "farm designator", "");
}

std::vector<std::string> IsoxmlWriter::do_write_field(const FieldPrescription& rx, const std::string& field_dir) const {
  TaskDataSpec spec;
  spec.version_major = version_;
  spec.grid_type = grid_type_;
  spec.customer = customer_;
  spec.farm = farm_;
  spec.crop = rx.crop;
  spec.field_name = rx.field->id;
  spec.task_name = "VRA " + rx.field->id;
  spec.product_name = rx.product_name;
  spec.rate_unit = rx.rate_unit == "kg/ha" ? "kg/ha" : "l/ha";
  spec.boundary = polygons_of(*rx.field->boundary.wgs84);
  spec.field_area_m2 = rx.field->boundary.area_m2;
  spec.grid.south_lat = rx.grid.south_lat();
  spec.grid.west_lon = rx.grid.west_lon();
  spec.grid.cell_lat_deg = rx.grid.cell_lat_deg();
  spec.grid.cell_lon_deg = rx.grid.cell_lon_deg();
  spec.grid.columns = rx.grid.columns;
  spec.grid.rows = rx.grid.rows;
  spec.grid.zone_of_cell.resize(static_cast<std::size_t>(rx.grid.columns) * rx.grid.rows);
  // ISOXML rows run south to north: grid row 0 is the image's last row.
  for (int row = 0; row < rx.grid.rows; ++row) {
    const int image_row = rx.grid.rows - 1 - row;
    for (int col = 0; col < rx.grid.columns; ++col) {
      const bool treated = rx.cell_in_field.at<unsigned char>(image_row, col) != 0;
      spec.grid.zone_of_cell[static_cast<std::size_t>(row) * rx.grid.columns + col] =
          treated ? rx.zones.at<unsigned char>(image_row, col) : 0;
    }
  }
  if (rx.zoning_grid && !rx.zoning_grid->north_aligned()) {
    const CellGridGeometry& ab = *rx.zoning_grid;
    TaskDataGuidance line;
    line.a = {ab.anchor_lon, ab.anchor_lat};
    line.b = {ab.line_b_lon, ab.line_b_lat};
    line.heading_deg = ab.heading_deg;
    line.pass_width_m = ab.cell_width_m;
    line.name = "A-B " + rx.field->id;
    spec.guidance = line;
  }
  for (const auto& zone : rx.zone_rows) spec.zones.push_back({zone.zone, zone.rate});
  spec.position_lost_rate = rx.position_lost_rate;
  spec.out_of_field_rate = 0;
  return write_taskdata(spec, field_dir);
}

ZonesVectorWriter::ZonesVectorWriter()
    : FieldWriter({"writers.zones", "zone polygons with ZONE and RATE: zones.shp (+.prj), zones.geojson, zones.kml (WGS84)",
                   "https://gdal.org/drivers/vector/shapefile.html"}) {}

void ZonesVectorWriter::declare_options(OptionSet&) {}

std::vector<std::string> ZonesVectorWriter::do_write_field(const FieldPrescription& rx, const std::string& field_dir) const {
  struct Format {
    const char* export_name;
    const char* driver;
    const char* file;
  };
  const Format formats[] = {{"shapefile", "ESRI Shapefile", "zones.shp"},
                            {"geojson", "GeoJSON", "zones.geojson"},
                            {"kml", "KML", "zones.kml"}};
  std::vector<std::string> written;
  OGRSpatialReference srs = wgs84();
  const std::string zone_name = rx.machine.zone_attribute, rate_name = rx.machine.rate_attribute;
  for (const auto& format : formats) {
    // Each format is written in a scratch folder (a Shapefile is several files), then every
    // file is moved into place complete.
    const std::string scratch = field_dir + "/.tmp-" + std::string(format.export_name);
    std::filesystem::remove_all(scratch);
    make_directories(scratch);
    {
      GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(format.driver);
      if (!driver) throw IoError(std::string("GDAL has no '") + format.driver + "' driver");
      DatasetPtr ds(driver->Create((scratch + "/" + format.file).c_str(), 0, 0, 0, GDT_Unknown, nullptr));
      if (!ds) throw IoError(field_dir + "/" + format.file + ": cannot create: " + last_gdal_error());
      CPLStringList layer_options;
      if (std::string(format.export_name) == "geojson") {
        layer_options.SetNameValue("RFC7946", "YES");
        layer_options.SetNameValue("COORDINATE_PRECISION", "9");
      }
      OGRLayer* layer = ds->CreateLayer("zones", &srs, wkbMultiPolygon, layer_options.List());
      if (!layer) throw IoError(field_dir + "/" + format.file + ": cannot create the layer: " + last_gdal_error());
      OGRFieldDefn zone_field(zone_name.c_str(), OFTInteger), rate_field(rate_name.c_str(), OFTReal),
          area_field("AREA_HA", OFTReal), index_field("MEAN_IDX", OFTReal), unit_field("UNIT", OFTString),
          field_field("FIELD", OFTString);
      rate_field.SetWidth(12);
      rate_field.SetPrecision(4);
      area_field.SetWidth(14);
      area_field.SetPrecision(6);
      index_field.SetWidth(10);
      index_field.SetPrecision(5);
      unit_field.SetWidth(8);
      field_field.SetWidth(64);
      for (OGRFieldDefn* field : {&zone_field, &rate_field, &area_field, &index_field, &unit_field, &field_field}) {
        if (layer->CreateField(field) != OGRERR_NONE) throw IoError(field_dir + "/" + format.file + ": cannot add attribute: " + last_gdal_error());
      }
      for (const auto& row : rx.zone_rows) {
        auto polygon = rx.zone_polygons_wgs84.find(row.zone);
        if (polygon == rx.zone_polygons_wgs84.end()) continue;
        OGRFeatureUniquePtr feature(OGRFeature::CreateFeature(layer->GetLayerDefn()));
        feature->SetField(zone_name.c_str(), row.zone);
        feature->SetField(rate_name.c_str(), row.rate);
        feature->SetField("AREA_HA", row.area_m2 / 10000.0);
        feature->SetField("MEAN_IDX", row.mean_index);
        feature->SetField("UNIT", rx.rate_unit.c_str());
        feature->SetField("FIELD", rx.field->id.c_str());
        feature->SetGeometry(polygon->second.get());
        if (layer->CreateFeature(feature.get()) != OGRERR_NONE) throw IoError(field_dir + "/" + format.file + ": cannot write zone " + std::to_string(row.zone) + ": " + last_gdal_error());
      }
    }  // closed: complete on disk
    for (const auto& entry : std::filesystem::directory_iterator(scratch)) {
      const auto target = std::filesystem::path(field_dir) / entry.path().filename();
      std::filesystem::rename(entry.path(), target);
      written.push_back(target.string());
    }
    std::filesystem::remove_all(scratch);
  }
  return written;
}

RxRasterWriter::RxRasterWriter()
    : FieldWriter({"writers.rx_raster", "drone rate raster rx_wgs84.tif (Float32, EPSG:4326, nodata 0) with rx_wgs84.tfw",
                   "https://gdal.org/drivers/raster/gtiff.html"}) {}

void RxRasterWriter::declare_options(OptionSet&) {}

std::vector<std::string> RxRasterWriter::do_write_field(const FieldPrescription& rx, const std::string& field_dir) const {
  AtomicOutput tif(field_dir + "/rx_wgs84.tif");
  const std::string temp_tfw = std::filesystem::path(tif.temp_path()).replace_extension(".tfw").string();
  {
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    CPLStringList options;
    options.SetNameValue("TFW", "YES");
    options.SetNameValue("COMPRESS", "DEFLATE");
    DatasetPtr ds(gtiff->Create(tif.temp_path().c_str(), rx.grid.columns, rx.grid.rows, 1, GDT_Float32, options.List()));
    if (!ds) throw IoError(tif.final_path() + ": cannot create: " + last_gdal_error());
    auto gt = rx.grid.geotransform();
    ds->SetGeoTransform(gt.data());
    OGRSpatialReference srs = wgs84();
    ds->SetSpatialRef(&srs);
    GDALRasterBand* band = ds->GetRasterBand(1);
    band->SetNoDataValue(0);
    band->SetDescription(("rate " + rx.rate_unit).c_str());
    band->SetUnitType(rx.rate_unit.c_str());
    cv::Mat rates = rx.rates.clone();  // 0 outside the treated cells already (aggregators.prescription)
    check_gdal(band->RasterIO(GF_Write, 0, 0, rates.cols, rates.rows, rates.data, rates.cols, rates.rows, GDT_Float32, 0, 0, nullptr),
               tif.final_path() + ": writing");
  }
  // The world file first: once the GeoTIFF appears under its name, its side-car is there.
  const std::string final_tfw = field_dir + "/rx_wgs84.tfw";
  std::filesystem::rename(temp_tfw, final_tfw);
  tif.commit();
  return {tif.final_path(), final_tfw};
}

}  // namespace fieldrx
