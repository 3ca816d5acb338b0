// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers.preview — a PNG map per layer: <directory>/<layer>.png, RdYlGn ramp stretched
// over the 2-98 % range of the layer (or a fixed range), with legend, scale bar, north arrow.
//   Options: directory, layers (default: every computed index), max_px, range.
// Streaming: each tile is block-averaged (NaN-aware) into a preview grid of at most max_px
// a side as it passes, so the full-resolution raster is never held or re-read.
#include <vector>

#include "pipeline/stage.hpp"

namespace fieldrx {

class PreviewWriter : public Writer {
 public:
  PreviewWriter();
  std::vector<std::string> outputs() const override;

 private:
  void declare_options(OptionSet& options) override;
  void do_open(const RasterLayout& layout, const ExecutionSettings& settings) override;
  LayersRead do_layers_read() const override;
  void do_write(const Tile& tile) override;
  void do_finish() override;
  void do_abort() noexcept override {}

  std::string directory_;
  StringList layer_names_;
  int max_px_ = 1024;
  NumberList range_;

  struct Preview {
    std::string name, long_name;
    int layer = -1;
    cv::Mat sums;    // CV_64F
    cv::Mat counts;  // CV_32S
  };
  std::vector<Preview> previews_;
  int factor_ = 1;
  double metres_per_preview_pixel_ = 0;
  std::vector<std::string> written_;
};

}  // namespace fieldrx
