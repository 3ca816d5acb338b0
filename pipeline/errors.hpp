// SPDX-License-Identifier: Apache-2.0
#pragma once
// One small exception hierarchy. Messages read: where -> what is wrong -> what would be right.
// Each layer that knows more context (stage name, tile window, config file) prepends it.
#include <stdexcept>
#include <string>

namespace fieldrx {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // Process exit code that tells a script which kind of thing failed.
  virtual int exit_code() const noexcept { return 1; }
};

// A config file, command-line option or stage option is wrong: fix the invocation.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 2; }
};

// Input data does not fit what the stage needs (missing band role, bad geometry, all nodata...).
class StageError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 3; }
};

// Reading or writing a file failed (GDAL/OGR/PROJ failure, disk full, permission).
class IoError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 4; }
};

// Re-throws `error` as the same kind with `context` prepended ("context: message").
[[noreturn]] void rethrow_with_context(const std::string& context);

}  // namespace fieldrx
