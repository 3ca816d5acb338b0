// SPDX-License-Identifier: Apache-2.0
#pragma once
// User-defined band math, e.g. "(nir - red) / (nir + red + 0.16)", over the band roles
// blue, green, red, red_edge, nir. Parsed by muparser (a well-kept expression library) in
// bulk mode over a whole tile. A non-finite result (x/0, 0/0, sqrt(-1), NaN input) is NaN.
#include <memory>
#include <string>
#include <vector>

#include "stages/filters/index_kernels.hpp"

namespace fieldrx {

class BandMathExpression {
 public:
  // Throws std::invalid_argument with muparser's message and position if it does not parse
  // or uses a name that is not a band role.
  explicit BandMathExpression(std::string expression);
  const std::string& text() const { return expression_; }
  const std::vector<BandRole>& needs() const { return needs_; }
  // Evaluates over n pixels. Not reentrant on one object: use one per thread.
  void evaluate(const BandRows& bands, float* out, std::size_t n);

 private:
  struct Parser;
  std::string expression_;
  std::vector<BandRole> needs_;
  std::shared_ptr<Parser> parser_;
  std::vector<double> scratch_;  // muparser evaluates in double
};

}  // namespace fieldrx
