// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs tile passes (oneTBB parallel_pipeline, the shape of oneTBB's `square` example):
//   serial_in_order: hand out the next tile window and a recycled tile buffer
//   parallel:        read the tile, run every filter fused, let each aggregator summarise it
//   serial_in_order: merge the aggregators' partials and write the tile, in raster order;
//                    the buffer goes back to the pool
// Tiles in flight are derived from the memory budget, which is the memory bound.
#include <string>
#include <vector>

#include "pipeline/config.hpp"

namespace fieldrx {

struct RunReport {
  long long tiles = 0;
  int tokens = 0;
  double seconds = 0;
  std::vector<std::string> outputs;
};

// One visit of a region of the raster. The stages are opened/prepared by the caller.
struct TilePass {
  const Reader* reader = nullptr;
  std::vector<const Filter*> filters;
  std::vector<Aggregator*> aggregators;
  std::vector<Writer*> writers;
  PixelWindow region;           // pixels to visit (the whole raster, or a field's window)
  std::string progress_label = "tiles";
};

// Tile windows over `region` in raster order (row of tiles by row of tiles), partial tiles at
// the edges.
std::vector<PixelWindow> tile_windows(const PixelWindow& region, int tile_px);
std::vector<PixelWindow> tile_windows(int width, int height, int tile_px);

// How many tiles may be in flight for `budget_bytes`; at least 1, at most 4 per thread.
int tokens_for_budget(long long budget_bytes, long long bytes_per_tile, int threads);

// Thread count after resolving 0 to all cores.
int resolve_threads(int requested);

// Runs one pass; returns the number of tiles visited. Logs the memory plan unless quiet.
long long run_tile_pass(const TilePass& pass, const RasterLayout& layout, const ExecutionSettings& settings);

// A raster pipeline from a config: open, prepare, one pass over the whole raster, finish.
RunReport run_pipeline(Pipeline& pipeline);

}  // namespace fieldrx
