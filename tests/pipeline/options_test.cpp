// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "pipeline/errors.hpp"
#include "pipeline/options.hpp"

using namespace fieldrx;

namespace {
struct Bound {
  int count = 0;
  double cell_size_m = 0;
  std::string method;
  StringList indices;
  NumberList rates;
  bool smooth = false;
  OptionSet options;
  Bound() {
    options.add("count", count, "zones", 3).range(2, 7);
    options.add("cell_size_m", cell_size_m, "grid cell", 10.0).unit("m").range(0.5, 100);
    options.add("method", method, "breaks", "jenks").choices({"jenks", "quantile"});
    options.add("indices", indices, "indices", StringList{"ndvi"}).choices({"ndvi", "ndre"});
    options.add("rates", rates, "rates", NumberList{});
    options.add("smooth", smooth, "smooth", true);
  }
};

std::string error_of(Bound& b, const std::string& key, const std::string& text) {
  try {
    b.options.set_text(key, text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("options start at their declared defaults", "[pipeline][options]") {
  // Guards 'declared once': the default lives in the declaration and reaches the member.
  Bound b;
  CHECK(b.count == 3);
  CHECK(b.cell_size_m == 10.0);
  CHECK(b.method == "jenks");
  CHECK(b.indices == StringList{"ndvi"});
  CHECK(b.smooth);
  CHECK(b.options.specs()[1].summary() == "cell_size_m (number, m, default 10, range [0.5, 100])");
}

TEST_CASE("options parse typed values from YAML and CLI text", "[pipeline][options]") {
  // Guards the value forms users type: lists as YAML or comma text, fractions for scales.
  Bound b;
  b.options.set_text("count", "5");
  b.options.set_text("cell_size_m", "1/2");
  b.options.set_text("indices", "ndvi, ndre");
  b.options.set_text("rates", "[12, 15.5, 18]");
  b.options.set_text("smooth", "false");
  CHECK(b.count == 5);
  CHECK(b.cell_size_m == 0.5);
  CHECK(b.indices == StringList{"ndvi", "ndre"});
  CHECK(b.rates == NumberList{12, 15.5, 18});
  CHECK_FALSE(b.smooth);
  CHECK(b.options.was_set("count"));
  CHECK_FALSE(b.options.was_set("method"));
}

TEST_CASE("bad option values are errors that name the option and what is right", "[pipeline][options]") {
  // Guards the error contract: where -> what is wrong -> what would be right.
  Bound b;
  CHECK_THAT(error_of(b, "count", "9"), Catch::Contains("'count' is 9, outside its range [2, 7]"));
  CHECK_THAT(error_of(b, "count", "2.5"), Catch::Contains("expects a whole number"));
  CHECK_THAT(error_of(b, "cell_size_m", "ten"), Catch::Contains("expects a number in m, got 'ten'"));
  CHECK_THAT(error_of(b, "method", "kmeans"), Catch::Contains("not one of [jenks, quantile]"));
  CHECK_THAT(error_of(b, "indices", "ndvi,evi"), Catch::Contains("'evi' is not one of [ndvi, ndre]"));
  CHECK_THAT(error_of(b, "smooth", "maybe"), Catch::Contains("expects true or false"));
  CHECK_THAT(error_of(b, "colour", "red"), Catch::Contains("unknown option 'colour'; this stage takes [count,"));
}

TEST_CASE("required options must be set", "[pipeline][options]") {
  // Guards a stage from running with a missing input file.
  std::string path;
  OptionSet options;
  options.add("path", path, "the input", "").required();
  CHECK_THROWS_WITH(options.check_required(), Catch::Contains("option 'path' is required"));
  options.set_text("path", "a.tif");
  CHECK_NOTHROW(options.check_required());
}

TEST_CASE("numbers parse as decimals, exponents and fractions", "[pipeline][options]") {
  // Guards the reflectance-scale forms of the CLI (--scale 1/65535).
  CHECK(parse_number("1/65535") == Approx(1.0 / 65535));
  CHECK(parse_number("1e-4") == Approx(1e-4));
  CHECK(parse_number("-10000") == -10000);
  CHECK_THROWS_AS(parse_number("1/0"), std::invalid_argument);
  CHECK_THROWS_AS(parse_number("12abc"), std::invalid_argument);
  CHECK_THROWS_AS(parse_number(""), std::invalid_argument);
}
