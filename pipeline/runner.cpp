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
  TilePool(std::size_t layers, std::size_t max_pixels, std::vector<bool> used)
      : layers_(layers), max_pixels_(max_pixels), used_(std::move(used)) {}
  Tile* acquire() {  // serial input step only
    Tile* tile = nullptr;
    if (free_.try_pop(tile)) return tile;
    owned_.push_back(std::make_unique<Tile>(layers_, max_pixels_));
    owned_.back()->set_layers_used(used_);
    return owned_.back().get();
  }
  void release(Tile* tile) { free_.push(tile); }

 private:
  std::size_t layers_, max_pixels_;
  std::vector<bool> used_;
  std::vector<std::unique_ptr<Tile>> owned_;
  tbb::concurrent_queue<Tile*> free_;
};

// Layers some stage of the pass reads; empty (all) when an aggregator runs (whole-field
// statistics read every band) or a stage does not say.
std::vector<bool> layers_used(const TilePass& pass, std::size_t layer_count) {
  if (!pass.aggregators.empty()) return {};
  std::vector<bool> used(layer_count, false);
  auto add = [&](const LayersRead& layers) {
    if (!layers) return false;
    for (int id : *layers) used.at(static_cast<std::size_t>(id)) = true;
    return true;
  };
  for (const Filter* filter : pass.filters) {
    if (!add(filter->layers_read())) return {};
  }
  for (const Writer* writer : pass.writers) {
    if (!add(writer->layers_read())) return {};
  }
  return used;
}

}  // namespace

int resolve_threads(int requested) {
  return requested > 0 ? requested : tbb::info::default_concurrency();
}

std::vector<PixelWindow> tile_windows(const PixelWindow& region, int tile_px) {
  std::vector<PixelWindow> windows;
  const int col_end = region.col + region.width, row_end = region.row + region.height;
  for (int row = region.row; row < row_end; row += tile_px) {
    for (int col = region.col; col < col_end; col += tile_px) {
      windows.push_back({col, row, std::min(tile_px, col_end - col), std::min(tile_px, row_end - row)});
    }
  }
  return windows;
}

std::vector<PixelWindow> tile_windows(int width, int height, int tile_px) {
  return tile_windows(PixelWindow{0, 0, width, height}, tile_px);
}

int tokens_for_budget(long long budget_bytes, long long bytes_per_tile, int threads) {
  const long long fit = bytes_per_tile > 0 ? budget_bytes / bytes_per_tile : 1;
  return static_cast<int>(std::clamp<long long>(fit, 1, 4LL * threads));
}

long long run_tile_pass(const TilePass& pass, const RasterLayout& layout, const ExecutionSettings& settings) {
  const int threads = resolve_threads(settings.threads);
  const long long budget = static_cast<long long>(settings.memory_mb) << 20;
  const long long gdal_cache = gdal_cache_for_budget(budget);
  configure_gdal(gdal_cache);
  const int tile_px = std::max(16, std::min({settings.tile_px, std::max(pass.region.width, 16), std::max(pass.region.height, 16)}));
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
  if (!settings.quiet) {
    log_info(pass.reader->describe() + ": " + std::to_string(threads) + " threads, " + std::to_string(tokens) +
             " tiles of " + std::to_string(tile_px) + " px in flight (" +
             std::to_string((tokens * bytes_per_tile) >> 20) + " MiB + " + std::to_string(gdal_cache >> 20) +
             " MiB GDAL cache, budget " + std::to_string(settings.memory_mb) + " MiB)");
  }
  const std::vector<PixelWindow> windows = tile_windows(pass.region, tile_px);
  TilePool pool(layout.layers().size(), static_cast<std::size_t>(max_pixels), layers_used(pass, layout.layers().size()));
  ProgressBar progress(pass.progress_label, static_cast<long long>(windows.size()),
                       !settings.quiet && (settings.force_progress || stderr_is_terminal()));
  std::size_t next = 0;
  auto run = [&] {
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
                                               pass.reader->read(*tile);
                                               for (const Filter* filter : pass.filters) filter->process(*tile);
                                               for (const Aggregator* aggregator : pass.aggregators) {
                                                 tile->partials().push_back(aggregator->accumulate(*tile));
                                               }
                                             } catch (...) {
                                               rethrow_with_context(tile->window().describe());
                                             }
                                             return tile;
                                           }) &
            tbb::make_filter<Tile*, void>(tbb::filter_mode::serial_in_order, [&](Tile* tile) {
              for (std::size_t i = 0; i < pass.aggregators.size(); ++i) {
                pass.aggregators[i]->merge(std::move(tile->partials()[i]));
              }
              for (Writer* writer : pass.writers) writer->write(*tile);
              pool.release(tile);
              progress.advance(1);
            }));
  };
  // A batch calls this once per field from inside its own arena of `threads` slots: there the
  // pass runs isolated in that arena (a waiting thread takes no other field's work, so no more
  // fields are in flight than threads). A new task_arena per field costs its setup each time
  // and, with oneTBB 2021.8, memory from TBB's allocator that it does not give back (a few KiB
  // per arena, cf. uxlfoundation/oneTBB#967): +16 MiB peak RSS at 2000 fields (bench/README.md).
  if (tbb::this_task_arena::current_thread_index() != tbb::task_arena::not_initialized &&
      tbb::this_task_arena::max_concurrency() == threads) {
    tbb::this_task_arena::isolate(run);
  } else {
    tbb::task_arena arena(threads);
    arena.execute(run);
  }
  progress.finish();
  return static_cast<long long>(windows.size());
}

RunReport run_pipeline(Pipeline& pipeline) {
  const auto start = std::chrono::steady_clock::now();
  configure_gdal(gdal_cache_for_budget(static_cast<long long>(pipeline.execution.memory_mb) << 20));
  RasterLayout layout = pipeline.reader->open();
  TilePass pass;
  pass.reader = pipeline.reader.get();
  for (auto& filter : pipeline.filters) {
    filter->prepare(layout);
    pass.filters.push_back(filter.get());
  }
  for (auto& writer : pipeline.writers) {
    writer->open(layout, pipeline.execution);
    pass.writers.push_back(writer.get());
  }
  pass.region = {0, 0, layout.width, layout.height};
  RunReport report;
  try {
    report.tiles = run_tile_pass(pass, layout, pipeline.execution);
    for (auto& writer : pipeline.writers) writer->finish();
  } catch (...) {
    for (auto& writer : pipeline.writers) writer->abort();
    throw;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& writer : pipeline.writers) {
    for (const auto& path : writer->outputs()) report.outputs.push_back(path);
  }
  return report;
}

}  // namespace fieldrx
