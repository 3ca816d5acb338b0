// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/capture_mosaic_writer.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {

void write_float_stack(const std::string& path, const std::vector<cv::Mat>& bands,
                       const std::vector<std::string>& descriptions,
                       const std::vector<std::pair<std::string, std::string>>& metadata,
                       const double* geotransform, const std::string& crs_wkt, bool cog,
                       const std::vector<std::string>& units) {
  if (bands.empty()) throw StageError(path + ": nothing to write (no bands)");
  configure_gdal(gdal_cache_for_budget(256LL << 20));
  AtomicOutput output(path);
  const std::string scratch_path = cog ? output.temp_path() + ".scratch.tif" : output.temp_path();
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (!gtiff) throw IoError(path + ": GDAL has no GTiff driver");
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("COMPRESS", cog ? "NONE" : "DEFLATE");
  options.SetNameValue("PREDICTOR", cog ? "1" : "3");
  options.SetNameValue("INTERLEAVE", "BAND");
  options.SetNameValue("BIGTIFF", "IF_SAFER");
  const int width = bands.front().cols, height = bands.front().rows;
  {
    DatasetPtr ds(gtiff->Create(scratch_path.c_str(), width, height, static_cast<int>(bands.size()),
                                GDT_Float32, options.List()));
    if (!ds) throw IoError(path + ": cannot create the file: " + last_gdal_error());
    if (geotransform) {
      double gt[6];
      std::copy(geotransform, geotransform + 6, gt);
      check_gdal(ds->SetGeoTransform(gt), path + ": setting the geotransform");
    }
    if (!crs_wkt.empty())
      check_gdal(ds->SetProjection(crs_wkt.c_str()), path + ": setting the CRS");
    for (const auto& [key, value] : metadata) ds->SetMetadataItem(key.c_str(), value.c_str());
    for (std::size_t b = 0; b < bands.size(); ++b) {
      GDALRasterBand* band = ds->GetRasterBand(static_cast<int>(b) + 1);
      band->SetDescription(b < descriptions.size() ? descriptions[b].c_str() : "");
      band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN());
      if (b < units.size() && !units[b].empty()) band->SetUnitType(units[b].c_str());
      cv::Mat data;
      bands[b].convertTo(data, CV_32F);
      if (!data.isContinuous()) data = data.clone();
      check_gdal(band->RasterIO(GF_Write, 0, 0, width, height, data.data, width, height,
                                GDT_Float32, 0, 0),
                 path + ": writing band " + std::to_string(b + 1));
    }
    if (cog)
      check_gdal(ds->BuildOverviews("AVERAGE", 0, nullptr, 0, nullptr, nullptr, nullptr),
                 path + ": overviews");
  }
  if (cog) {
    // Overviews first, then the COG driver lays the file out as COG requires.
    DatasetPtr scratch = open_raster(scratch_path);
    GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("COG");
    if (!driver) throw IoError(path + ": GDAL has no COG driver");
    CPLStringList cog_options;
    cog_options.SetNameValue("COMPRESS", "DEFLATE");
    cog_options.SetNameValue("PREDICTOR", "YES");
    cog_options.SetNameValue("OVERVIEW_RESAMPLING", "AVERAGE");
    cog_options.SetNameValue("BIGTIFF", "IF_SAFER");
    DatasetPtr result(driver->CreateCopy(output.temp_path().c_str(), scratch.get(), false,
                                         cog_options.List(), nullptr, nullptr));
    if (!result) throw IoError(path + ": cannot write the COG: " + last_gdal_error());
    result.reset();
    scratch.reset();
    std::remove(scratch_path.c_str());
  }
  output.commit();
}

namespace {

std::string number(double v, int precision = 8) {
  if (!std::isfinite(v)) return "";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
  return buffer;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

void write_captures_csv(const std::string& path, const std::vector<CaptureRow>& rows) {
  // Irradiance columns: every band name in first-seen order (a flight may mix rigs).
  std::vector<std::string> names;
  for (const auto& row : rows) {
    for (const auto& name : row.band_names) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  AtomicOutput output(path);
  {
    std::ofstream out(output.temp_path());
    if (!out) throw IoError(path + ": cannot create the file");
    out << "capture,time,lat,lon,alt";
    for (const auto& name : names) out << ",irradiance_" << name;
    out << ",irradiance_source,irradiance_unit,alignment_residual_px,converged\n";
    for (const auto& row : rows) {
      out << csv_field(row.capture) << ',' << row.time << ',' << number(row.lat, 10) << ','
          << number(row.lon, 11) << ',' << number(row.alt, 7);
      for (const auto& name : names) {
        out << ',';
        for (std::size_t i = 0; i < row.band_names.size(); ++i) {
          if (row.band_names[i] == name && i < row.irradiance.size()) {
            out << number(row.irradiance[i]);
            break;
          }
        }
      }
      out << ',' << csv_field(row.irradiance_source) << ',' << csv_field(row.irradiance_unit) << ','
          << number(row.residual_px, 4) << ',' << csv_field(row.converged) << '\n';
    }
    out.flush();
    if (!out) throw IoError(path + ": writing failed (disk full?)");
  }
  output.commit();
}

}  // namespace fieldrx
