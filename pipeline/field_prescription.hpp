// SPDX-License-Identifier: Apache-2.0
#pragma once
// Everything worked out for one field, handed from the prescription workflow to the writers
// (ISOXML, zone polygons, drone raster, report, summary). Plain data: writers read it only.
//
// The prescription grid is north-aligned in WGS84 degrees (ISOXML grids and drone rasters are
// lat/lon grids), anchored on the field's south-west corner, with cells of `cell_size_m` turned
// into degrees at the field's latitude. Row 0 is the NORTHERN row (image order); the ISOXML
// writer flips it. Zones may instead be made on a grid along an A-B line (cells follow the
// sprayer's passes); the workflow then samples them onto a north-aligned delivery grid, so the
// writers always see a north-aligned `grid` and the A-B grid stays in `zoning_grid`. A cell belongs to the field when its centre lies inside the treatable area
// (as ISO 11783 FMIS and the golden reference in shared/data/prescriptions do).
#include <ogr_geometry.h>

#include <array>
#include <map>
#include <optional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "pipeline/io/fields.hpp"
#include "stages/aggregators/field_statistics.hpp"
#include "pipeline/machine_profile.hpp"
#include "stages/aggregators/zone_kernels.hpp"

namespace fieldrx {

struct CellGridGeometry {
  // Cell corner (col, row) -> WGS84 (lon, lat), in GDAL geotransform order:
  //   lon = transform[0] + col * transform[1] + row * transform[2]
  //   lat = transform[3] + col * transform[4] + row * transform[5]
  // North-aligned (every grid the writers see: ISOXML and drone rasters are lat/lon grids):
  // transform[2] = transform[4] = 0, row 0 is the northern row. Along an A-B line, columns step
  // across the line (to the right of A->B) and rows step back along it, so each column is one
  // pass of the sprayer; at heading 0 that is the north-aligned layout.
  std::array<double, 6> transform{};
  int columns = 0, rows = 0;
  double cell_size_m = 10;   // cell edge along the rows' direction (along the A-B line)
  double cell_width_m = 10;  // cell edge across it (east-west when north-aligned)
  double heading_deg = 0;    // bearing of the A-B line, degrees clockwise from true north
  double anchor_lon = 0, anchor_lat = 0;  // point A of the line the column edges run along
  double line_b_lon = 0, line_b_lat = 0;  // its point B (A-B grids only)

  bool north_aligned() const { return transform[2] == 0 && transform[4] == 0 && transform[1] > 0 && transform[5] < 0; }
  // North-aligned grids only: the outer edges and the cell size in degrees.
  double west_lon() const { return transform[0]; }
  double north_lat() const { return transform[3]; }
  double cell_lon_deg() const { return transform[1]; }
  double cell_lat_deg() const { return -transform[5]; }
  double south_lat() const { return transform[3] + rows * transform[5]; }
  // GDAL geotransform of the grid in EPSG:4326 (x = lon, y = lat).
  std::array<double, 6> geotransform() const { return transform; }
  // (lon, lat) of the point at fractional cell coordinates (col, row); cell corners are integers.
  std::array<double, 2> lonlat_at(double col, double row) const {
    return {transform[0] + col * transform[1] + row * transform[2], transform[3] + col * transform[4] + row * transform[5]};
  }
  // Fractional (col, row) of a WGS84 point: floor() gives the cell that holds it.
  std::array<double, 2> cell_coordinates(double lon, double lat) const {
    const double dx = lon - transform[0], dy = lat - transform[3];
    if (transform[2] == 0 && transform[4] == 0) return {dx / transform[1], dy / transform[5]};
    const double det = transform[1] * transform[5] - transform[2] * transform[4];
    return {(transform[5] * dx - transform[2] * dy) / det, (transform[1] * dy - transform[4] * dx) / det};
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
  // The grid the zones were made on when it is not `grid` (along an A-B line); empty otherwise.
  std::optional<CellGridGeometry> zoning_grid;
  std::vector<std::string> zoning_layers;  // indices the zones were made from (first = main)
  std::vector<cv::Mat> cell_means;         // CV_32F per zoning layer, NaN where no pixel; on zoning_grid when set
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
