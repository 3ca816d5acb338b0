// SPDX-License-Identifier: Apache-2.0
#pragma once
// Minimal logging to stderr. Info lines are dropped with --quiet; warnings always show.
#include <string>

namespace fieldrx {

void set_log_quiet(bool quiet);
void log_info(const std::string& message);
void log_warning(const std::string& message);

// A one-line progress bar on stderr, drawn only when stderr is a terminal (or forced).
class ProgressBar {
 public:
  ProgressBar(std::string label, long long total, bool enabled);
  ~ProgressBar();
  void advance(long long done_now);  // serial callers only
  void finish();

 private:
  void draw(bool final_line);
  std::string label_;
  long long total_, done_ = 0;
  bool enabled_;
  double start_seconds_;
  double last_draw_ = -1;
};

bool stderr_is_terminal();

}  // namespace fieldrx
