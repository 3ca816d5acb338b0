// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/index_kernels.hpp"

#include <cmath>
#include <limits>

namespace fieldrx {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// num/den, or NaN when den is 0 (the ratio is undefined, not zero) or the result is not
// finite. NaN inputs propagate through the arithmetic.
inline float ratio(float num, float den) {
  const float r = num / den;
  return (den != 0.0f && std::isfinite(r)) ? r : kNaN;
}
inline float normalized_difference(float a, float b) { return ratio(a - b, a + b); }

template <typename PixelFormula>
void apply(const BandRows& bands, float* out, std::size_t n, PixelFormula formula) {
  for (std::size_t i = 0; i < n; ++i) out[i] = formula(bands, i);
}

#define FIELDRX_INDEX(body)                                              \
  [](const BandRows& b, float* out, std::size_t n) {                     \
    apply(b, out, n, [](const BandRows& b, std::size_t i) { return body; }); \
  }

using R = BandRole;

}  // namespace

std::string_view band_role_name(BandRole role) {
  switch (role) {
    case BandRole::blue: return "blue";
    case BandRole::green: return "green";
    case BandRole::red: return "red";
    case BandRole::red_edge: return "red_edge";
    case BandRole::nir: return "nir";
  }
  return "?";
}

std::optional<BandRole> band_role_from_name(std::string_view name) {
  for (BandRole role : kAllBandRoles) {
    if (band_role_name(role) == name) return role;
  }
  return std::nullopt;
}

const float* BandRows::of(BandRole role) const {
  switch (role) {
    case BandRole::blue: return blue;
    case BandRole::green: return green;
    case BandRole::red: return red;
    case BandRole::red_edge: return red_edge;
    case BandRole::nir: return nir;
  }
  return nullptr;
}

const std::vector<IndexDefinition>& index_catalog() {
  static const std::vector<IndexDefinition> catalog = {
      {"ndvi", "Normalized Difference Vegetation Index", "(nir - red) / (nir + red)",
       "Rouse, Haas, Schell, Deering 1974, NASA SP-351", {R::nir, R::red}, false,
       FIELDRX_INDEX(normalized_difference(b.nir[i], b.red[i]))},
      {"ndre", "Normalized Difference Red Edge", "(nir - red_edge) / (nir + red_edge)",
       "Gitelson & Merzlyak 1994, J. Plant Physiol. 143:286", {R::nir, R::red_edge}, false,
       FIELDRX_INDEX(normalized_difference(b.nir[i], b.red_edge[i]))},
      {"gndvi", "Green Normalized Difference Vegetation Index", "(nir - green) / (nir + green)",
       "Gitelson, Kaufman, Merzlyak 1996, Remote Sens. Environ. 58:289", {R::nir, R::green}, false,
       FIELDRX_INDEX(normalized_difference(b.nir[i], b.green[i]))},
      {"savi", "Soil-Adjusted Vegetation Index", "1.5 * (nir - red) / (nir + red + 0.5)",
       "Huete 1988, Remote Sens. Environ. 25:295 (L = 0.5)", {R::nir, R::red}, true,
       FIELDRX_INDEX(ratio(1.5f * (b.nir[i] - b.red[i]), b.nir[i] + b.red[i] + 0.5f))},
      {"osavi", "Optimized Soil-Adjusted Vegetation Index", "(nir - red) / (nir + red + 0.16)",
       "Rondeaux, Steven, Baret 1996, Remote Sens. Environ. 55:95", {R::nir, R::red}, true,
       FIELDRX_INDEX(ratio(b.nir[i] - b.red[i], b.nir[i] + b.red[i] + 0.16f))},
      {"msavi2", "Modified Soil-Adjusted Vegetation Index 2",
       "(2 * nir + 1 - sqrt((2 * nir + 1)^2 - 8 * (nir - red))) / 2",
       "Qi, Chehbouni, Huete, Kerr, Sorooshian 1994, Remote Sens. Environ. 48:119", {R::nir, R::red}, true,
       FIELDRX_INDEX([&] {
         const float t = 2.0f * b.nir[i] + 1.0f;
         const float d = t * t - 8.0f * (b.nir[i] - b.red[i]);
         return d >= 0.0f ? 0.5f * (t - std::sqrt(d)) : kNaN;  // d < 0 only off [0,1] reflectance
       }())},
      {"evi", "Enhanced Vegetation Index", "2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)",
       "Huete et al. 2002, Remote Sens. Environ. 83:195", {R::nir, R::red, R::blue}, true,
       FIELDRX_INDEX(ratio(2.5f * (b.nir[i] - b.red[i]), b.nir[i] + 6.0f * b.red[i] - 7.5f * b.blue[i] + 1.0f))},
      {"evi2", "Two-band Enhanced Vegetation Index", "2.5 * (nir - red) / (nir + 2.4 * red + 1)",
       "Jiang, Huete, Didan, Miura 2008, Remote Sens. Environ. 112:3833", {R::nir, R::red}, true,
       FIELDRX_INDEX(ratio(2.5f * (b.nir[i] - b.red[i]), b.nir[i] + 2.4f * b.red[i] + 1.0f))},
      {"cigreen", "Chlorophyll Index Green", "nir / green - 1",
       "Gitelson, Gritz, Merzlyak 2003, J. Plant Physiol. 160:271", {R::nir, R::green}, false,
       FIELDRX_INDEX(ratio(b.nir[i], b.green[i]) - 1.0f)},
      {"cirededge", "Chlorophyll Index Red Edge", "nir / red_edge - 1",
       "Gitelson, Gritz, Merzlyak 2003, J. Plant Physiol. 160:271", {R::nir, R::red_edge}, false,
       FIELDRX_INDEX(ratio(b.nir[i], b.red_edge[i]) - 1.0f)},
      {"ndwi", "Normalized Difference Water Index", "(green - nir) / (green + nir)",
       "McFeeters 1996, Int. J. Remote Sens. 17:1425", {R::green, R::nir}, false,
       FIELDRX_INDEX(normalized_difference(b.green[i], b.nir[i]))},
      {"vari", "Visible Atmospherically Resistant Index", "(green - red) / (green + red - blue)",
       "Gitelson, Kaufman, Stark, Rundquist 2002, Remote Sens. Environ. 80:76", {R::green, R::red, R::blue}, false,
       FIELDRX_INDEX(ratio(b.green[i] - b.red[i], b.green[i] + b.red[i] - b.blue[i]))},
      {"exg", "Excess Green", "2 * green - red - blue",
       "Woebbecke, Meyer, Von Bargen, Mortensen 1995, Trans. ASAE 38:259", {R::green, R::red, R::blue}, false,
       FIELDRX_INDEX(2.0f * b.green[i] - b.red[i] - b.blue[i])},
      {"gli", "Green Leaf Index", "(2 * green - red - blue) / (2 * green + red + blue)",
       "Louhaichi, Borman, Johnson 2001, Geocarto Int. 16:65", {R::green, R::red, R::blue}, false,
       FIELDRX_INDEX(ratio(2.0f * b.green[i] - b.red[i] - b.blue[i], 2.0f * b.green[i] + b.red[i] + b.blue[i]))},
      {"ngrdi", "Normalized Green Red Difference Index", "(green - red) / (green + red)",
       "Tucker 1979, Remote Sens. Environ. 8:127", {R::green, R::red}, false,
       FIELDRX_INDEX(normalized_difference(b.green[i], b.red[i]))},
      {"tgi", "Triangular Greenness Index", "-0.5 * (190 * (red - green) - 120 * (red - blue))",
       "Hunt et al. 2013, Int. J. Appl. Earth Obs. Geoinf. 21:103 (670/550/480 nm)", {R::red, R::green, R::blue}, false,
       FIELDRX_INDEX(-0.5f * (190.0f * (b.red[i] - b.green[i]) - 120.0f * (b.red[i] - b.blue[i])))},
  };
  return catalog;
}

const IndexDefinition* find_index(std::string_view name) {
  for (const auto& index : index_catalog()) {
    if (index.name == name) return &index;
  }
  return nullptr;
}

float index_of_values(const IndexDefinition& index, float blue, float green, float red,
                      float red_edge, float nir) {
  BandRows rows{&blue, &green, &red, &red_edge, &nir};
  float out = kNaN;
  index.compute(rows, &out, 1);
  return out;
}

}  // namespace fieldrx
