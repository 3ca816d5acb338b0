// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers.cog — one Cloud-Optimized GeoTIFF per layer: <directory>/<layer>.tif, Float32,
// NaN nodata, band description = layer name, internal overviews (average), compressed.
//   Options: directory, layers (default: every derived layer, i.e. the indices), compress
//   (zstd|deflate|lzw|none), level, overviews, block_px.
// Tiles stream into an uncompressed tiled scratch GeoTIFF; finish() has GDAL's COG driver
// lay out the final file (overviews first, as COG requires) under a temporary name and
// renames it into place. Memory stays bounded: both steps go through GDAL's block cache.
#include <memory>
#include <vector>

#include "pipeline/io/gdal_io.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class CogWriter : public Writer {
 public:
  CogWriter();
  std::vector<std::string> outputs() const override;

 private:
  void declare_options(OptionSet& options) override;
  void do_open(const RasterLayout& layout, const ExecutionSettings& settings) override;
  void do_write(const Tile& tile) override;
  void do_finish() override;
  void do_abort() noexcept override;

  std::string directory_;
  StringList layer_names_;
  std::string compress_;
  int level_ = 0;
  bool overviews_ = true;
  int block_px_ = 512;

  struct Output {
    std::string name;
    int layer = -1;
    std::unique_ptr<AtomicOutput> scratch;  // never committed: removed when done
    DatasetPtr scratch_dataset;
    std::unique_ptr<AtomicOutput> final_file;
  };
  std::vector<Output> outputs_;
  std::vector<std::string> written_;
  int threads_ = 1;
};

}  // namespace fieldrx
