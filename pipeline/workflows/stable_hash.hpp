// SPDX-License-Identifier: Apache-2.0
#pragma once
// A content hash for "is this output up to date?" checks (batch done-markers, flight mosaics).
#include <cstdio>
#include <string>

namespace fieldrx {

// 64-bit FNV-1a, twice with different offsets: a stable 128-bit content hash (no crypto
// needed, only "did anything change"), the same on every machine and build.
class StableHash {
 public:
  void add(const std::string& text) {
    for (unsigned char c : text) {
      a_ = (a_ ^ c) * 1099511628211ULL;
      b_ = (b_ ^ c) * 1099511628211ULL;
    }
    // A separator, so ("ab", "c") and ("a", "bc") differ.
    a_ = (a_ ^ 0xffU) * 1099511628211ULL;
    b_ = (b_ ^ 0xfeU) * 1099511628211ULL;
  }
  std::string hex() const {
    char buffer[33];
    std::snprintf(buffer, sizeof buffer, "%016llx%016llx", static_cast<unsigned long long>(a_),
                  static_cast<unsigned long long>(b_));
    return buffer;
  }

 private:
  unsigned long long a_ = 14695981039346656037ULL, b_ = 0x6c62272e07bb0142ULL;
};

}  // namespace fieldrx
