// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs one tile pass (oneTBB parallel_pipeline, the shape of oneTBB's `square` example):
//   serial_in_order: hand out the next tile window and a recycled tile buffer
//   parallel:        read the tile, run every filter fused
//   serial_in_order: every writer writes the tile, the buffer goes back to the pool
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

// Tile windows in raster order (row of tiles by row of tiles), partial tiles at the edges.
std::vector<PixelWindow> tile_windows(int width, int height, int tile_px);

// How many tiles may be in flight for `budget_bytes`; at least 1, at most 4 per thread.
int tokens_for_budget(long long budget_bytes, long long bytes_per_tile, int threads);

RunReport run_pipeline(Pipeline& pipeline);

// Thread count after resolving 0 to all cores.
int resolve_threads(int requested);

}  // namespace fieldrx
