// SPDX-License-Identifier: Apache-2.0
#pragma once
// readers.orthomosaic — an orthomosaic as band layers named by role.
//   Input: one multi-band GeoTIFF, or several single-band GeoTIFFs (one per band, as DJI
//   Terra and Pix4D export them); files on other grids are resampled onto the first file's.
//   Output layers: one Float32 reflectance layer per band role (blue, green, red, red_edge,
//   nir, or a ready index such as ndvi). Nodata values, alpha bands and GDAL masks become NaN.
//   Options: files, bands (roles in file/band order; 'skip' and 'alpha' allowed; default from
//   the band descriptions), nodata, scale (reflectance per digital number, e.g. 1/65535),
//   offset, resampling.
//   Roles from descriptions (roles_from_descriptions): a colour that appears once gets its plain
//   role whatever its wavelength ("Red 650" -> red). When a colour appears several times (the
//   RedEdge-MX Dual's 10 bands), the band nearest the reference wavelength -- blue 475, green
//   560, red 668, red_edge 717, nir 842 nm; a name without a wavelength counts as the reference --
//   gets the plain role and the others <role>_<nm>: Blue-444 -> blue_444, Green-531 ->
//   green_531, Red-650 -> red_650, RedEdge-705 -> red_edge_705, RedEdge-740 -> red_edge_740.
//   The result does not depend on band order. `lwir_celsius` (a temperature written by
//   `fieldrx calibrate`) is skipped: it is not reflectance.
// Reads go through one GDAL dataset handle per thread (GDAL 3.6 datasets are not thread-safe)
// with all needed bands of a file in one RasterIO call per tile: only the band layers some
// stage of the pass reads (Tile::layer_used), in the file's own type when that is Byte, UInt16
// or Int16, converted to float by one branch-free loop per band.
#include <tbb/enumerable_thread_specific.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "pipeline/io/gdal_io.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class OrthomosaicReader : public Reader {
 public:
  OrthomosaicReader();
  std::string describe() const override;

  // Role names a band may have ("blue" ... "nir", ready index names, "skip", "alpha").
  static StringList known_roles();
  // Role guessed from a band description ("NIR", "Red edge", "RedEdge", "B", "nir_842nm"), or "".
  static std::string role_from_description(const std::string& description);
  // Roles of all bands of an image from their descriptions, by the rule above ("" where a
  // description is not recognised). Throws ConfigError when two bands claim one role.
  static StringList roles_from_descriptions(const StringList& descriptions);

 private:
  void declare_options(OptionSet& options) override;
  RasterLayout do_open() override;
  void do_read(Tile& tile) const override;

  struct SourceBand {
    std::size_t file = 0;  // index into paths_
    int band = 0;          // 1-based band number in that file
    int layer = -1;        // -1: skip or alpha
    bool is_alpha = false;
    double nodata = std::numeric_limits<double>::quiet_NaN();  // NaN: none
    bool has_nodata = false;
    bool use_mask_band = false;  // read GDAL's mask (alpha / per-dataset / external mask)
  };

  StringList files_;
  StringList band_roles_;
  double nodata_ = std::numeric_limits<double>::quiet_NaN();
  double scale_ = std::numeric_limits<double>::quiet_NaN();
  double offset_ = 0;
  std::string resampling_;

  std::vector<std::string> paths_;  // files, or /vsimem/ VRTs that warp them onto one grid
  std::vector<SourceBand> bands_;
  double applied_scale_ = 1, applied_offset_ = 0;
  int width_ = 0, height_ = 0;
  std::string summary_;

  struct ThreadState {
    std::vector<DatasetPtr> datasets;
    std::vector<std::uint64_t> raw;  // the wanted bands in their own type (8-byte aligned)
    std::vector<unsigned char> mask, band_mask;
  };
  mutable tbb::enumerable_thread_specific<ThreadState> thread_state_;
};

}  // namespace fieldrx
