// SPDX-License-Identifier: Apache-2.0
#include "pipeline/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace fieldrx {
namespace {
std::atomic<bool> quiet_logging{false};
std::mutex stderr_mutex;

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}
}  // namespace

void set_log_quiet(bool quiet) { quiet_logging = quiet; }

void log_info(const std::string& message) {
  if (quiet_logging) return;
  std::lock_guard<std::mutex> lock(stderr_mutex);
  std::fprintf(stderr, "fieldrx: %s\n", message.c_str());
}

void log_warning(const std::string& message) {
  std::lock_guard<std::mutex> lock(stderr_mutex);
  std::fprintf(stderr, "fieldrx: warning: %s\n", message.c_str());
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, long long total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_seconds_(now_seconds()) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && done_ < total_) {
    std::lock_guard<std::mutex> lock(stderr_mutex);
    std::fputs("\n", stderr);
  }
}

void ProgressBar::advance(long long done_now) {
  done_ += done_now;
  if (!enabled_) return;
  const double t = now_seconds();
  if (t - last_draw_ < 0.1 && done_ < total_) return;  // redraw at most 10 times a second
  last_draw_ = t;
  draw(done_ >= total_);
}

void ProgressBar::finish() {
  if (enabled_ && done_ < total_) {
    done_ = total_;
    draw(true);
  }
}

void ProgressBar::draw(bool final_line) {
  const int width = 30;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  const int filled = static_cast<int>(fraction * width);
  const double elapsed = now_seconds() - start_seconds_;
  const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::lock_guard<std::mutex> lock(stderr_mutex);
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %lld/%lld  %.1fs elapsed, %.1fs left%s", label_.c_str(),
               bar.c_str(), fraction * 100, done_, total_, elapsed, eta, final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace fieldrx
