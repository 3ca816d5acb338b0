// SPDX-License-Identifier: Apache-2.0
#include "pipeline/tile.hpp"

#include "pipeline/errors.hpp"

namespace fieldrx {

std::string PixelWindow::describe() const {
  return "tile at pixel (" + std::to_string(col) + "," + std::to_string(row) + ") size " +
         std::to_string(width) + "x" + std::to_string(height);
}

int RasterLayout::add_layer(const std::string& name, LayerKind kind,
                            const std::string& description) {
  if (find_layer(name) >= 0) {
    throw StageError("layer '" + name + "' is produced twice; give each output a unique name");
  }
  layers_.push_back({name, kind, description});
  return static_cast<int>(layers_.size()) - 1;
}

int RasterLayout::find_layer(const std::string& name) const {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> RasterLayout::layer_names(LayerKind kind) const {
  std::vector<std::string> names;
  for (const auto& layer : layers_) {
    if (layer.kind == kind) names.push_back(layer.name);
  }
  return names;
}

Tile::Tile(std::size_t layer_count, std::size_t max_pixels)
    : storage_(layer_count, std::vector<float>(max_pixels)), layers_(layer_count) {}

void Tile::reset(const PixelWindow& window, const GeoReference& raster_georef) {
  window_ = window;
  georef_ = raster_georef.window(window.col, window.row);
  partials_.clear();
  for (std::size_t i = 0; i < storage_.size(); ++i) {
    layers_[i] = cv::Mat(window.height, window.width, CV_32F, storage_[i].data());
  }
}

}  // namespace fieldrx
