// SPDX-License-Identifier: Apache-2.0
#include "pipeline/runner.hpp"

#include <tbb/concurrent_queue.h>
#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"

namespace fieldrx {
namespace {

// Tiles are created lazily up to the token count and recycled, so a pass touches fresh
// memory only for its first few tiles. The pool owns every tile: tokens in flight are
// borrowed pointers, so a cancelled pass (an exception in any step) leaks nothing.
class TilePool {
 public:
  TilePool(std::size_t layers, std::size_t max_pixels) : layers_(layers), max_pixels_(max_pixels) {}
  Tile* acquire() {  // serial input step only
    Tile* tile = nullptr;
    if (free_.try_pop(tile)) return tile;
    owned_.push_back(std::make_unique<Tile>(layers_, max_pixels_));
    return owned_.back().get();
  }
  void release(Tile* tile) { free_.push(tile); }

 private:
  std::size_t layers_, max_pixels_;
  std::vector<std::unique_ptr<Tile>> owned_;
  tbb::concurrent_queue<Tile*> free_;
};

}  // namespace

int resolve_threads(int requested) {
  return requested > 0 ? requested : tbb::info::default_concurrency();
}

std::vector<PixelWindow> tile_windows(int width, int height, int tile_px) {
  std::vector<PixelWindow> windows;
  for (int row = 0; row < height; row += tile_px) {
    for (int col = 0; col < width; col += tile_px) {
      windows.push_back({col, row, std::min(tile_px, width - col), std::min(tile_px, height - row)});
    }
  }
  return windows;
}

int tokens_for_budget(long long budget_bytes, long long bytes_per_tile, int threads) {
  const long long fit = bytes_per_tile > 0 ? budget_bytes / bytes_per_tile : 1;
  return static_cast<int>(std::clamp<long long>(fit, 1, 4LL * threads));
}

RunReport run_pipeline(Pipeline& pipeline) {
  const auto start = std::chrono::steady_clock::now();
  const ExecutionSettings& settings = pipeline.execution;
  const int threads = resolve_threads(settings.threads);
  const long long budget = static_cast<long long>(settings.memory_mb) << 20;
  const long long gdal_cache = gdal_cache_for_budget(budget);
  configure_gdal(gdal_cache);

  RasterLayout layout = pipeline.reader->open();
  for (auto& filter : pipeline.filters) filter->prepare(layout);

  const int tile_px = std::min({settings.tile_px, std::max(layout.width, 16), std::max(layout.height, 16)});
  const long long max_pixels = static_cast<long long>(tile_px) * tile_px;
  // Each tile holds every layer as float, plus the reader's raw read buffer (<= same size).
  const long long bytes_per_tile = max_pixels * static_cast<long long>(sizeof(float)) *
                                   static_cast<long long>(layout.layers().size() + 2);
  if (bytes_per_tile > budget - gdal_cache) {
    throw ConfigError("one " + std::to_string(tile_px) + " px tile of " + std::to_string(layout.layers().size()) +
                      " layers needs " + std::to_string(bytes_per_tile >> 20) + " MiB, more than the memory budget of " +
                      std::to_string(settings.memory_mb) + " MiB allows; use a smaller --tile or a larger --memory-mb");
  }
  const int tokens = tokens_for_budget(budget - gdal_cache, bytes_per_tile, threads);
  if (!settings.quiet) log_info(pipeline.reader->describe() + ": " + std::to_string(threads) + " threads, " +
           std::to_string(tokens) + " tiles of " + std::to_string(tile_px) + " px in flight (" +
           std::to_string((tokens * bytes_per_tile) >> 20) + " MiB + " + std::to_string(gdal_cache >> 20) +
           " MiB GDAL cache, budget " + std::to_string(settings.memory_mb) + " MiB)");

  for (auto& writer : pipeline.writers) writer->open(layout, settings);
  const std::vector<PixelWindow> windows = tile_windows(layout.width, layout.height, tile_px);
  TilePool pool(layout.layers().size(), static_cast<std::size_t>(max_pixels));
  ProgressBar progress("tiles", static_cast<long long>(windows.size()),
                       !settings.quiet && (settings.force_progress || stderr_is_terminal()));
  try {
    std::size_t next = 0;
    tbb::task_arena arena(threads);
    arena.execute([&] {
      tbb::parallel_pipeline(
          static_cast<std::size_t>(tokens),
          tbb::make_filter<void, Tile*>(tbb::filter_mode::serial_in_order,
                                        [&](tbb::flow_control& control) -> Tile* {
                                          if (next == windows.size()) {
                                            control.stop();
                                            return nullptr;
                                          }
                                          Tile* tile = pool.acquire();
                                          tile->reset(windows[next++], layout.georef);
                                          return tile;
                                        }) &
              tbb::make_filter<Tile*, Tile*>(tbb::filter_mode::parallel,
                                             [&](Tile* tile) {
                                               try {
                                                 pipeline.reader->read(*tile);
                                                 for (const auto& filter : pipeline.filters) filter->process(*tile);
                                               } catch (...) {
                                                 rethrow_with_context(tile->window().describe());
                                               }
                                               return tile;
                                             }) &
              tbb::make_filter<Tile*, void>(tbb::filter_mode::serial_in_order, [&](Tile* tile) {
                for (auto& writer : pipeline.writers) writer->write(*tile);
                pool.release(tile);
                progress.advance(1);
              }));
    });
    progress.finish();
    for (auto& writer : pipeline.writers) writer->finish();
  } catch (...) {
    for (auto& writer : pipeline.writers) writer->abort();
    throw;
  }

  RunReport report;
  report.tiles = static_cast<long long>(windows.size());
  report.tokens = tokens;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& writer : pipeline.writers) {
    for (const auto& path : writer->outputs()) report.outputs.push_back(path);
  }
  return report;
}

}  // namespace fieldrx
