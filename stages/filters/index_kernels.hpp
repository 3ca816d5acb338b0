// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vegetation index kernels: pure functions over rows of reflectance (no GDAL, no TBB).
// Each index names the band roles it needs and cites its source; formulas follow the
// Awesome Spectral Indices catalogue (Montero et al. 2023, doi:10.1038/s41597-023-02096-0)
// unless noted. Nodata is NaN and propagates. A zero, NaN or infinite denominator gives NaN,
// never 0 (unlike OTB's functors): for a sprayer an index of 0 means bare soil.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldrx {

enum class BandRole { blue, green, red, red_edge, nir };

constexpr BandRole kAllBandRoles[] = {BandRole::blue, BandRole::green, BandRole::red,
                                      BandRole::red_edge, BandRole::nir};
std::string_view band_role_name(BandRole role);
std::optional<BandRole> band_role_from_name(std::string_view name);

// Pointers to n reflectance values per role; nullptr where the raster lacks the role.
struct BandRows {
  const float* blue = nullptr;
  const float* green = nullptr;
  const float* red = nullptr;
  const float* red_edge = nullptr;
  const float* nir = nullptr;
  const float* of(BandRole role) const;
};

struct IndexDefinition {
  std::string_view name;       // lower-case key used in configs and file names
  std::string_view long_name;  // "Normalized Difference Vegetation Index"
  std::string_view formula;    // as written in the source
  std::string_view source;     // citation
  std::vector<BandRole> needs;
  // True when the formula has additive constants (soil-line L, EVI's C1/C2), so it is only
  // meaningful on reflectance in [0, 1], not on raw digital numbers.
  bool needs_reflectance;
  void (*compute)(const BandRows& bands, float* out, std::size_t n);
};

const std::vector<IndexDefinition>& index_catalog();
const IndexDefinition* find_index(std::string_view name);

// One value of an index from one reflectance per role (e.g. a plot's mean reflectance).
float index_of_values(const IndexDefinition& index, float blue, float green, float red,
                      float red_edge, float nir);

}  // namespace fieldrx
