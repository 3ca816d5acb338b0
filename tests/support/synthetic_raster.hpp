// SPDX-License-Identifier: Apache-2.0
#pragma once
// Builds small GeoTIFFs for tests: any size, band count and data type, values from a function.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fieldrx::test {

struct SyntheticRaster {
  int width = 64, height = 48, bands = 5;
  std::string data_type = "UInt16";  // GDAL type name: Byte, UInt16, Float32
  std::vector<std::string> descriptions;  // band descriptions, optional
  std::optional<double> nodata;
  bool alpha = false;                     // add an alpha band (0 = transparent)
  int block = 0;                          // 0: striped; else tiled with this block edge
  std::string compress = "NONE";
  int epsg = 32652;
  double origin_x = 500000, origin_y = 5230000, pixel_x = 0.5, pixel_y = 0.5;
  // Value of band b (0-based) at column x, row y. For the alpha band, opacity(x, y).
  std::function<double(int b, int x, int y)> value = [](int b, int x, int y) { return 1000 + b * 500 + (x * 7 + y * 13) % 300; };
  std::function<int(int x, int y)> opacity = [](int, int) { return 255; };
};

// Writes the raster to `path` as a GeoTIFF.
void write_synthetic_raster(const SyntheticRaster& spec, const std::string& path);

// Reads band 1 of a raster as doubles (row-major), with the raster's size.
std::vector<double> read_band(const std::string& path, int band, int* width = nullptr, int* height = nullptr);

}  // namespace fieldrx::test
