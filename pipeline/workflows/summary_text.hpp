// SPDX-License-Identifier: Apache-2.0
#pragma once
// Text helpers shared by the per-run and the farm summaries (summary.csv).
#include <cmath>
#include <sstream>
#include <string>

namespace fieldrx {

// A CSV cell: quoted (with doubled quotes) when it holds a comma, quote or line break (RFC 4180).
inline std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// `value` with `decimals` fixed decimals; empty for NaN or infinity (an empty CSV cell).
inline std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << value;
  return out.str();
}

}  // namespace fieldrx
