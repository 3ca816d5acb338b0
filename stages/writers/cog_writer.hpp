// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers.cog — one Cloud-Optimized GeoTIFF per layer: <directory>/<layer>.tif, Float32,
// NaN nodata, band description = layer name, internal overviews (average), compressed.
//   Options: directory, layers (default: every derived layer, i.e. the indices), compress
//   (zstd|deflate|lzw|none), level, overviews, block_px, bigtiff.
// The file is written in one streaming pass, with no second copy of the raster and no re-read
// of the full resolution (the old way, a scratch GeoTIFF copied by GDAL's COG driver, wrote
// every pixel twice and read it all back to build the overviews):
//  - tiles are cut into COG blocks; a block completes when every pixel of it has arrived;
//  - each complete block is averaged 2x2 (NaN-aware, GDAL's AVERAGE arithmetic) into its
//    quarter of a block of the next overview level, which completes in turn, and so on;
//  - uncompressed, every block goes straight to its final place in the file (the layout is
//    known from the start); compressed, blocks are encoded in parallel batches (TBB) and
//    appended to a scratch file, and finish() writes the header and IFDs, then copies the
//    encoded tiles in COG order (a sequential copy of compressed bytes, in the kernel);
//  - the GeoTIFF keys and GDAL tags (CRS, geotransform, nodata, description) come from a tiny
//    GeoTIFF GDAL writes in memory, so they are exactly what GDAL would write.
// Overview sizes are ceil(size / 2) per level until both sides fit one block (as gdaladdo),
// each pixel the mean of its 2x2 window one level down (a partial window at odd edges). GDAL's
// COG driver rounds odd sizes down instead and spreads the level below over them with
// fractional weights, so at odd sizes its overview values differ slightly from ours across that
// level (both average the same ground to within one overview pixel); at even sizes they are
// GDAL's to the bit (tested). The output bytes do not depend on tile size or threads.
// Memory: blocks still being filled, about width x block_px x 4 bytes per layer for the
// overviews, plus a row of full-resolution blocks per layer when the processing tile is not a
// multiple of block_px (logged); a batch of 2 x threads blocks being encoded.
#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/io/gdal_io.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class CogWriter : public Writer {
 public:
  CogWriter();
  ~CogWriter() override;
  std::vector<std::string> outputs() const override;

 private:
  void declare_options(OptionSet& options) override;
  void do_open(const RasterLayout& layout, const ExecutionSettings& settings) override;
  void do_write(const Tile& tile) override;
  void do_finish() override;
  void do_abort() noexcept override;
  LayersRead do_layers_read() const override;

  std::string directory_;
  StringList layer_names_;
  std::string compress_;
  int level_ = 0;
  bool overviews_ = true;
  int block_px_ = 512;
  std::string bigtiff_;

  struct Codec;    // predictor + compression of one tile
  struct Stream;   // one output file being written
  struct Job;      // one complete block on its way to the file
  struct Pending;  // a block still being filled
  // Copies width x height pixels at (col, row) of `level` into `block`; queues it when complete.
  void add_piece(Stream& stream, int level, int block, const float* source, int source_stride,
                 int col, int row, int width, int height);
  Job take_job(Stream& stream, int level, int block, bool fill_nan);
  void run_batch();  // encodes + averages the queued blocks in parallel, then stores them in order
  void store(Job& job);

  std::unique_ptr<Codec> codec_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<Job> batch_;
  std::vector<std::vector<float>> spare_pixels_, spare_halves_;  // reused block buffers
  std::vector<std::vector<std::uint8_t>> spare_bytes_;
  std::size_t batch_limit_ = 4;
  int threads_ = 1;
  std::vector<std::string> written_;
};

}  // namespace fieldrx
