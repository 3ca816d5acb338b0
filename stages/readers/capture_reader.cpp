// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/capture_reader.hpp"

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {

cv::Mat read_raw_band(const std::string& path) {
  configure_gdal(gdal_cache_for_budget(256LL << 20));
  DatasetPtr dataset = open_raster(path);
  if (dataset->GetRasterCount() < 1) throw IoError(path + ": the file holds no raster band");
  GDALRasterBand* band = dataset->GetRasterBand(1);
  const GDALDataType type = band->GetRasterDataType();
  if (type != GDT_UInt16 && type != GDT_Byte) {
    throw IoError(path + ": raw band data must be 16- or 8-bit unsigned, the file holds " +
                  GDALGetDataTypeName(type) + "; give the camera's original files");
  }
  cv::Mat raw(dataset->GetRasterYSize(), dataset->GetRasterXSize(), CV_16U);
  check_gdal(band->RasterIO(GF_Read, 0, 0, raw.cols, raw.rows, raw.data, raw.cols, raw.rows,
                            GDT_UInt16, 0, 0),
             path + ": reading the pixels");
  return raw;
}

std::vector<cv::Mat> read_capture_pixels(const Capture& capture) {
  std::vector<cv::Mat> out;
  for (const auto& band : capture.bands) out.push_back(read_raw_band(band.path));
  return out;
}

}  // namespace fieldrx
