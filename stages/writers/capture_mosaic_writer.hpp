// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers (captures): what `fieldrx calibrate` leaves in its output folder.
//   <capture>_reflectance.tif  one Float32 band per camera band on the reference band's
//       undistorted grid, NaN nodata, band descriptions = canonical band names (Blue, Green,
//       Red, RedEdge, NIR) so readers.orthomosaic recognises the roles; no georeference (a
//       single frame; see mosaic.tif for a georeferenced product). An Altum's thermal band
//       follows as the last band, in degrees Celsius, described `lwir_celsius` (unit degC).
//   captures.csv  one row per capture: capture, time, lat, lon, alt, irradiance per band,
//       irradiance source and unit, alignment residual, converged.
//   mosaic.tif  quick direct-georeferenced mosaic (capture_mosaic.hpp).
// Every file is written under a temporary name and renamed when complete (AtomicOutput).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace fieldrx {

struct CaptureRow {
  std::string capture, time;  // ISO 8601 UTC, empty when unknown
  double lat = 0, lon = 0, alt = 0;
  std::vector<std::string> band_names;
  std::vector<double> irradiance;  // per band, in irradiance_unit
  std::string irradiance_source;   // "panel", "sun sensor", "panel x sun sensor"
  std::string irradiance_unit;     // "W/m2/nm" (MicaSense), "DJI relative", "Sequoia relative"
  double residual_px = 0;          // worst band residual (NaN: not measured)
  std::string converged;           // "yes", "no", "skipped", or "error: ..."
};

// Multi-band Float32 GeoTIFF (tiled, DEFLATE). `geotransform`/`crs_wkt` may be empty; `units`
// (GDAL unit type per band, e.g. "degC") may be shorter than `bands`.
void write_float_stack(const std::string& path, const std::vector<cv::Mat>& bands,
                       const std::vector<std::string>& descriptions,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {},
                       const double* geotransform = nullptr, const std::string& crs_wkt = "",
                       bool cog = false, const std::vector<std::string>& units = {});

void write_captures_csv(const std::string& path, const std::vector<CaptureRow>& rows);

}  // namespace fieldrx
