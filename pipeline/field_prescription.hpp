// SPDX-License-Identifier: Apache-2.0
#pragma once
// Everything worked out for one field, handed from the prescription workflow to the writers
// (ISOXML, zone polygons, drone raster, report, summary). Plain data: writers read it only.
//
// The prescription grid is north-aligned in WGS84 degrees (ISOXML grids and drone rasters are
// lat/lon grids), anchored on the field's south-west corner, with cells of `cell_size_m` turned
// into degrees at the field's latitude. Row 0 is the NORTHERN row (image order); the ISOXML
// writer flips it. A cell belongs to the field when its centre lies inside the treatable area
// (as ISO 11783 FMIS and the golden reference in shared/data/prescriptions do).
#include <ogr_geometry.h>

#include <array>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "pipeline/io/fields.hpp"
#include "stages/aggregators/field_statistics.hpp"
#include "pipeline/machine_profile.hpp"
#include "stages/aggregators/zone_kernels.hpp"

namespace fieldrx {

struct CellGridGeometry {
  double west_lon = 0, north_lat = 0;        // outer corner of cell (row 0, col 0)
  double cell_lon_deg = 0, cell_lat_deg = 0;  // > 0
  int columns = 0, rows = 0;
  double cell_size_m = 10;  // nominal edge the degrees were derived from
  double south_lat() const { return north_lat - rows * cell_lat_deg; }
  // GDAL geotransform of the grid in EPSG:4326 (x = lon, y = lat, north-up).
  std::array<double, 6> geotransform() const {
    return {west_lon, cell_lon_deg, 0, north_lat, 0, -cell_lat_deg};
  }
};

struct ZoneRow {
  int zone = 0;
  int cells = 0;            // grid cells of the zone
  double area_m2 = 0;       // exact area of the zone polygons clipped to the treatable area (UTM)
  double mean_index = 0;    // mean of the zoning index over the zone's cells
  double rate = 0;          // after clamping, in the prescription unit
  double product = 0;       // rate x area (L or kg)
};

struct LayerStatistics {
  std::string name;          // index or band role
  StatisticsSummary summary;
};

struct FieldPrescription {
  const Field* field = nullptr;  // id, boundary / treatable geometry in raster CRS, WGS84, UTM
  std::string crop;              // from the boundary file's crop attribute, if any

  // Pixel statistics inside the treatable area.
  std::vector<LayerStatistics> index_statistics;
  std::vector<LayerStatistics> band_statistics;
  std::map<std::string, double> index_of_mean_reflectance;  // index -> value of the mean bands
  long long valid_pixels = 0;
  // The main index block-averaged to at most ~800 px a side over the field's pixel window (raster
  // CRS, north-up for north-up rasters), NaN outside the treatable area: the report's index map.
  cv::Mat index_preview;
  double preview_metres_per_pixel = 0;  // 0 when the raster CRS is not in metres

  // Prescription grid and zones.
  CellGridGeometry grid;
  std::vector<std::string> zoning_layers;  // indices the zones were made from (first = main)
  std::vector<cv::Mat> cell_means;         // CV_32F per zoning layer, NaN where no pixel
  // CV_8U, 1 for the cells the grid exports (ISOXML, drone raster) treat: the cell centre lies in
  // the treatable area (default), or any part of the cell does (edge_cells: touching).
  cv::Mat cell_in_field;
  cv::Mat zones;                           // CV_8U, 0 = none (outside / no data)
  cv::Mat rates;                           // CV_32F rate per cell, 0 outside the field
  std::string method;
  int zones_requested = 0;
  double gvf = 0;                          // goodness of variance fit of the final zones
  std::vector<ZoneCountFit> fit_by_zone_count;
  std::vector<ZoneRow> zone_rows;          // one per zone present, ascending
  std::map<int, OGRGeometryUniquePtr> zone_polygons_wgs84;  // zone -> clipped (multi)polygon

  // Rates and totals.
  std::string rate_unit;         // "L/ha" or "kg/ha" (SI, as applied)
  std::string product_name;
  double total_product = 0;      // L or kg over the treatable area
  double treated_area_m2 = 0;    // sum of zone areas
  double position_lost_rate = 0;
  int tank_loads = 0;
  MachineProfile machine;
  std::vector<std::string> warnings;  // clamps, repairs, isolated patches: shown in the report
};

}  // namespace fieldrx
