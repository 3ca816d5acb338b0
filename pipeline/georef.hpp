// SPDX-License-Identifier: Apache-2.0
#pragma once
// The small georeference that filters and kernels may see instead of GDAL: an affine
// pixel->map transform and the CRS as WKT. Pixel (col,row) corner maps to
//   x = gt[0] + col*gt[1] + row*gt[2],  y = gt[3] + col*gt[4] + row*gt[5]  (GDAL's convention).
#include <array>
#include <string>

namespace fieldrx {

struct GeoReference {
  std::array<double, 6> geotransform{0, 1, 0, 0, 0, 1};
  std::string crs_wkt;  // empty when the raster has no CRS

  // Georeference of a window starting at pixel (col, row) of this raster.
  GeoReference window(int col, int row) const {
    GeoReference out = *this;
    const auto& g = geotransform;
    out.geotransform[0] = g[0] + col * g[1] + row * g[2];
    out.geotransform[3] = g[3] + col * g[4] + row * g[5];
    return out;
  }
  double pixel_width() const { return geotransform[1]; }
  double pixel_height() const { return -geotransform[5]; }
};

}  // namespace fieldrx
