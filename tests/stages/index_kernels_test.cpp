// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "stages/filters/band_math.hpp"
#include "stages/filters/index_kernels.hpp"

using namespace fieldrx;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// blue, green, red, red_edge, nir of one pixel through one catalogue index.
float index_value(const char* name, float b, float g, float r, float re, float n) {
  const IndexDefinition* index = find_index(name);
  REQUIRE(index != nullptr);
  return index_of_values(*index, b, g, r, re, n);
}
}  // namespace

TEST_CASE("index kernels give hand-worked values on a healthy-canopy pixel", "[kernel][indices]") {
  // Guards every formula against a typo: values worked by hand for B,G,R,RE,NIR = .04,.08,.05,.20,.50.
  const float b = 0.04f, g = 0.08f, r = 0.05f, re = 0.20f, n = 0.50f;
  CHECK(index_value("ndvi", b, g, r, re, n) == Approx(0.45 / 0.55));
  CHECK(index_value("ndre", b, g, r, re, n) == Approx(0.30 / 0.70));
  CHECK(index_value("gndvi", b, g, r, re, n) == Approx(0.42 / 0.58));
  CHECK(index_value("savi", b, g, r, re, n) == Approx(1.5 * 0.45 / 1.05));
  CHECK(index_value("osavi", b, g, r, re, n) == Approx(0.45 / 0.71));
  // MSAVI2: (2*0.5+1 - sqrt(2^2 - 8*0.45)) / 2 = (2 - sqrt(0.4)) / 2
  CHECK(index_value("msavi2", b, g, r, re, n) == Approx((2.0 - std::sqrt(0.4)) / 2));
  CHECK(index_value("evi", b, g, r, re, n) == Approx(2.5 * 0.45 / (0.5 + 0.3 - 0.3 + 1)));
  CHECK(index_value("evi2", b, g, r, re, n) == Approx(2.5 * 0.45 / (0.5 + 0.12 + 1)));
  CHECK(index_value("cigreen", b, g, r, re, n) == Approx(0.5 / 0.08 - 1));
  CHECK(index_value("cirededge", b, g, r, re, n) == Approx(0.5 / 0.2 - 1));
  CHECK(index_value("ndwi", b, g, r, re, n) == Approx(-0.42 / 0.58));
  CHECK(index_value("vari", b, g, r, re, n) == Approx(0.03 / 0.09));
  CHECK(index_value("exg", b, g, r, re, n) == Approx(0.07));
  CHECK(index_value("gli", b, g, r, re, n) == Approx(0.07 / 0.25));
  CHECK(index_value("ngrdi", b, g, r, re, n) == Approx(0.03 / 0.13));
  CHECK(index_value("tgi", b, g, r, re, n) == Approx(-0.5 * (190 * -0.03 - 120 * 0.01)));
}

TEST_CASE("a zero denominator gives nodata, never 0", "[kernel][indices]") {
  // Guards the sprayer rule: 0/0 or x/0 must not read as bare soil (NDVI 0).
  CHECK(std::isnan(index_value("ndvi", 0, 0, 0, 0, 0)));
  CHECK(std::isnan(index_value("ndre", 0, 0, 0, 0, 0)));
  CHECK(std::isnan(index_value("cigreen", 0, 0, 0, 0, 0.3f)));   // x/0
  CHECK(std::isnan(index_value("vari", 0.1f, 0.05f, 0.05f, 0, 0)));  // g + r - b = 0
  CHECK(std::isnan(index_value("ndvi", 0, 0, 0.2f, 0, -0.2f)));  // nir = -red
}

TEST_CASE("NaN bands propagate to every index that uses them and only those", "[kernel][indices]") {
  // Guards nodata propagation: a missing red pixel is missing NDVI but still has a NDRE.
  CHECK(std::isnan(index_value("ndvi", 0.04f, 0.08f, kNaN, 0.2f, 0.5f)));
  CHECK(index_value("ndre", 0.04f, 0.08f, kNaN, 0.2f, 0.5f) == Approx(0.3 / 0.7));
  for (const auto& index : index_catalog()) {
    CHECK(std::isnan(index_of_values(index, kNaN, kNaN, kNaN, kNaN, kNaN)));
  }
}

TEST_CASE("negative and saturated reflectance are computed, not hidden", "[kernel][indices]") {
  // Guards against silently clamping: slightly negative red after calibration is a real value.
  CHECK(index_value("ndvi", 0, 0, -0.01f, 0, 0.5f) == Approx(0.51 / 0.49));
  CHECK(index_value("ndvi", 0, 0, 1.0f, 0, 1.0f) == Approx(0.0));
  // MSAVI2 has no real value when the root's argument is negative (far outside [0,1]).
  CHECK(std::isnan(index_value("msavi2", 0, 0, -2.0f, 0, 0.5f)));
}

TEST_CASE("every catalogue index cites a source and names its bands", "[kernel][indices]") {
  // Guards the catalogue contract the reader and README rely on.
  REQUIRE(index_catalog().size() >= 16);
  for (const auto& index : index_catalog()) {
    CHECK_FALSE(index.source.empty());
    CHECK_FALSE(index.needs.empty());
    CHECK(find_index(index.name) == &index);
  }
  CHECK(find_index("nope") == nullptr);
}

TEST_CASE("band math evaluates a user expression over whole rows", "[kernel][bandmath]") {
  // Guards the expression path: OSAVI written as band math equals the catalogue OSAVI.
  BandMathExpression expression("(nir - red) / (nir + red + 0.16)");
  REQUIRE(expression.needs() == std::vector<BandRole>{BandRole::red, BandRole::nir});
  std::vector<float> red = {0.05f, 0.1f, kNaN, 0.25f}, nir = {0.5f, 0.3f, 0.4f, -0.05f}, out(4);
  BandRows rows;
  rows.red = red.data();
  rows.nir = nir.data();
  expression.evaluate(rows, out.data(), out.size());
  CHECK(out[0] == Approx(0.45 / 0.71));
  CHECK(out[1] == Approx(0.2 / 0.56));
  CHECK(std::isnan(out[2]));  // NaN input
  CHECK(out[3] == Approx(-0.30 / 0.36));  // negative reflectance is a value, not nodata
  // A denominator that is exactly 0 gives nodata, not infinity.
  BandMathExpression ratio("nir / (nir + red)");
  std::vector<float> r2 = {-0.5f, 0.0f}, n2 = {0.5f, 0.0f}, out2(2);
  BandRows rows2;
  rows2.red = r2.data();
  rows2.nir = n2.data();
  ratio.evaluate(rows2, out2.data(), out2.size());
  CHECK(std::isnan(out2[0]));  // x/0
  CHECK(std::isnan(out2[1]));  // 0/0
}

TEST_CASE("band math rejects unknown names with the names it knows", "[kernel][bandmath]") {
  // Guards the error a user sees for a typo in a config expression.
  try {
    BandMathExpression bad("(nir - rd) / (nir + rd)");
    FAIL("expected an error");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK(message.find("rd") != std::string::npos);
    CHECK(message.find("red_edge") != std::string::npos);
  }
}
