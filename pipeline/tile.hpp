// SPDX-License-Identifier: Apache-2.0
#pragma once
// Tiles are the move-only tokens that flow through a pass. A tile owns reusable float
// storage for every layer of the raster layout (input bands by role, then filter outputs);
// its cv::Mat layers are headers over that storage sized to the current window, so a pass
// allocates each buffer once per token, not once per tile (see docs/performance notes).
#include <opencv2/core.hpp>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/georef.hpp"

namespace fieldrx {

struct PixelWindow {
  int col = 0, row = 0, width = 0, height = 0;
  long long pixel_count() const { return static_cast<long long>(width) * height; }
  std::string describe() const;
};

// Everything known about a raster before its first pixel: size, georeference and the
// layers a tile will carry. Readers declare band layers; filters append their outputs.
class RasterLayout {
 public:
  enum class LayerKind { band, derived };
  struct Layer {
    std::string name;  // band role ("red", "nir") or output name ("ndvi")
    LayerKind kind;
    std::string description;
  };

  int width = 0, height = 0;
  GeoReference georef;
  // False when bands are raw digital numbers (integer input without a reflectance scale).
  bool reflectance = true;

  int add_layer(const std::string& name, LayerKind kind, const std::string& description = {});
  int find_layer(const std::string& name) const;  // -1 when absent
  const std::vector<Layer>& layers() const { return layers_; }
  std::vector<std::string> layer_names(LayerKind kind) const;

 private:
  std::vector<Layer> layers_;
};

// What an aggregator gathered from one tile; merged into the whole in tile order.
class AggregatePartial {
 public:
  virtual ~AggregatePartial() = default;
};

class Tile {
 public:
  explicit Tile(std::size_t layer_count, std::size_t max_pixels);
  Tile(const Tile&) = delete;
  Tile& operator=(const Tile&) = delete;

  // Points every layer header at this tile's storage for `window`. Nodata is NaN.
  void reset(const PixelWindow& window, const GeoReference& raster_georef);

  const PixelWindow& window() const { return window_; }
  const GeoReference& georef() const { return georef_; }
  cv::Mat& layer(int index) { return layers_[static_cast<std::size_t>(index)]; }
  const cv::Mat& layer(int index) const { return layers_[static_cast<std::size_t>(index)]; }
  std::size_t layer_count() const { return layers_.size(); }
  // Layers the pass reads (empty: all). A reader may leave band layers outside it unfilled.
  void set_layers_used(std::vector<bool> used) { used_ = std::move(used); }
  bool layer_used(int index) const { return used_.empty() || used_[static_cast<std::size_t>(index)]; }
  // One entry per aggregator of the pass, filled by the parallel step, taken by the serial one.
  std::vector<std::unique_ptr<AggregatePartial>>& partials() { return partials_; }

 private:
  PixelWindow window_;
  GeoReference georef_;
  std::vector<std::vector<float>> storage_;
  std::vector<cv::Mat> layers_;
  std::vector<bool> used_;
  std::vector<std::unique_ptr<AggregatePartial>> partials_;
};

}  // namespace fieldrx
