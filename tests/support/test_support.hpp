// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers: paths to the repo and ../shared data, scratch folders, running the CLI.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fieldrx::test {

// <repo>/<relative>, and <repo>/../shared/<relative>.
std::string source_path(const std::string& relative);
std::string shared_path(const std::string& relative);

// A fresh folder under the build's temp area, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command_line);
// Runs the built fieldrx binary with `arguments` (a shell-quoted string).
CommandResult run_fieldrx(const std::string& arguments);

// Rows of a CSV file with a header line (RFC 4180 quoting), as column -> value; columns a row
// lacks are empty.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path);

// Byte-for-byte equality of two files.
bool files_identical(const std::string& a, const std::string& b);

}  // namespace fieldrx::test
