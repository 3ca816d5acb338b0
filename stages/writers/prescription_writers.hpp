// SPDX-License-Identifier: Apache-2.0
#pragma once
// Prescription exports of one field (coordinates in WGS84, EPSG:4326 — never GCJ-02/BD-09):
//   writers.isoxml      ISO 11783-10 TASKDATA folder + TASKDATA.zip (grid type 2 or 1, v4.3/v3.3)
//   writers.zones       zone polygons with ZONE and RATE attributes: zones.shp (+.prj),
//                       zones.geojson, zones.kml (attribute names from the machine profile)
//   writers.rx_raster   rx_wgs84.tif: single-band Float32 rate raster in EPSG:4326, nodata 0,
//                       with rx_wgs84.tfw, as DJI Agras / XAG tools take it
#include "pipeline/field_writer.hpp"

namespace fieldrx {

class IsoxmlWriter : public FieldWriter {
 public:
  IsoxmlWriter();
  std::vector<std::string> export_names() const override { return {"isoxml"}; }

 private:
  void declare_options(OptionSet& options) override;
  std::vector<std::string> do_write_field(const FieldPrescription& rx, const std::string& field_dir) const override;
  int version_ = 4;
  int grid_type_ = 2;
  std::string customer_, farm_;
};

class ZonesVectorWriter : public FieldWriter {
 public:
  ZonesVectorWriter();
  std::vector<std::string> export_names() const override { return {"shapefile", "geojson", "kml"}; }

 private:
  void declare_options(OptionSet& options) override;
  std::vector<std::string> do_write_field(const FieldPrescription& rx, const std::string& field_dir) const override;
};

class RxRasterWriter : public FieldWriter {
 public:
  RxRasterWriter();
  std::vector<std::string> export_names() const override { return {"geotiff"}; }

 private:
  void declare_options(OptionSet& options) override;
  std::vector<std::string> do_write_field(const FieldPrescription& rx, const std::string& field_dir) const override;
};

}  // namespace fieldrx
