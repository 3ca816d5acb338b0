// SPDX-License-Identifier: Apache-2.0
#include "tests/support/synthetic_raster.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <stdexcept>

#include "pipeline/io/gdal_io.hpp"

namespace fieldrx::test {

void write_synthetic_raster(const SyntheticRaster& spec, const std::string& path) {
  configure_gdal(64 << 20);
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  CPLStringList options;
  if (spec.block > 0) {
    options.SetNameValue("TILED", "YES");
    options.SetNameValue("BLOCKXSIZE", std::to_string(spec.block).c_str());
    options.SetNameValue("BLOCKYSIZE", std::to_string(spec.block).c_str());
  }
  options.SetNameValue("COMPRESS", spec.compress.c_str());
  const GDALDataType type = GDALGetDataTypeByName(spec.data_type.c_str());
  const int total = spec.bands + (spec.alpha ? 1 : 0);
  DatasetPtr ds(driver->Create(path.c_str(), spec.width, spec.height, total, type, options.List()));
  if (!ds) throw std::runtime_error("cannot create " + path);
  double gt[6] = {spec.origin_x, spec.pixel_x, 0, spec.origin_y, 0, -spec.pixel_y};
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(spec.epsg);
  ds->SetSpatialRef(&srs);
  std::vector<double> row(static_cast<std::size_t>(spec.width));
  for (int b = 0; b < total; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b + 1);
    const bool is_alpha = spec.alpha && b == spec.bands;
    // The alpha band is tagged as ODM and GDAL's ALPHA option do for RGBA: last band, alpha colour.
    if (is_alpha) band->SetColorInterpretation(GCI_AlphaBand);
    if (!is_alpha && spec.nodata) band->SetNoDataValue(*spec.nodata);
    if (!is_alpha && b < static_cast<int>(spec.descriptions.size())) band->SetDescription(spec.descriptions[b].c_str());
    for (int y = 0; y < spec.height; ++y) {
      for (int x = 0; x < spec.width; ++x) row[x] = is_alpha ? spec.opacity(x, y) : spec.value(b, x, y);
      if (band->RasterIO(GF_Write, 0, y, spec.width, 1, row.data(), spec.width, 1, GDT_Float64, 0, 0, nullptr) != CE_None) {
        throw std::runtime_error("cannot write " + path);
      }
    }
  }
}

std::vector<double> read_band(const std::string& path, int band, int* width, int* height) {
  configure_gdal(64 << 20);
  DatasetPtr ds = open_raster(path);
  const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
  std::vector<double> values(static_cast<std::size_t>(w) * h);
  if (ds->GetRasterBand(band)->RasterIO(GF_Read, 0, 0, w, h, values.data(), w, h, GDT_Float64, 0, 0, nullptr) != CE_None) {
    throw std::runtime_error("cannot read " + path);
  }
  if (width) *width = w;
  if (height) *height = h;
  return values;
}

}  // namespace fieldrx::test
