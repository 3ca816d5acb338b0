// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/band_math.hpp"

#include <muParser.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace fieldrx {

struct BandMathExpression::Parser {
  mu::Parser parser;
  std::vector<std::vector<double>> columns;  // one per band role, bulk-mode variables
};

BandMathExpression::BandMathExpression(std::string expression)
    : expression_(std::move(expression)), parser_(std::make_shared<Parser>()) {
  auto& p = parser_->parser;
  parser_->columns.resize(std::size(kAllBandRoles));
  try {
    p.SetExpr(expression_);
    // Probe which roles the expression uses: muparser reports them after a parse.
    double probe[std::size(kAllBandRoles)] = {};
    for (std::size_t r = 0; r < std::size(kAllBandRoles); ++r) {
      p.DefineVar(std::string(band_role_name(kAllBandRoles[r])), &probe[r]);
    }
    const auto used = p.GetUsedVar();
    for (BandRole role : kAllBandRoles) {
      if (used.count(std::string(band_role_name(role)))) needs_.push_back(role);
    }
    p.Eval();
  } catch (const mu::Parser::exception_type& e) {
    throw std::invalid_argument("expression '" + expression_ + "': " + e.GetMsg() +
                                " (at position " + std::to_string(e.GetPos()) +
                                "); names available: blue, green, red, red_edge, nir");
  }
}

void BandMathExpression::evaluate(const BandRows& bands, float* out, std::size_t n) {
  auto& p = parser_->parser;
  if (scratch_.size() < n) {
    scratch_.resize(n);
    for (auto& column : parser_->columns) column.resize(n);
    // Bulk mode reads each variable as an array; rebinding invalidates muparser's bytecode,
    // so bind only when the buffers grow.
    for (std::size_t r = 0; r < std::size(kAllBandRoles); ++r) {
      p.DefineVar(std::string(band_role_name(kAllBandRoles[r])), parser_->columns[r].data());
    }
  }
  for (BandRole role : needs_) {
    const float* source = bands.of(role);
    auto& column = parser_->columns[static_cast<std::size_t>(role)];
    for (std::size_t i = 0; i < n; ++i) column[i] = source[i];
  }
  p.Eval(scratch_.data(), static_cast<int>(n));
  for (std::size_t i = 0; i < n; ++i) {
    const auto v = static_cast<float>(scratch_[i]);  // a double beyond float range is inf here
    out[i] = std::isfinite(v) ? v : std::numeric_limits<float>::quiet_NaN();
  }
}

}  // namespace fieldrx
