// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/indices_filter.hpp"

#include <algorithm>

#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"

namespace fieldrx {
namespace {

StringList catalog_names() {
  StringList names;
  for (const auto& index : index_catalog()) names.emplace_back(index.name);
  return names;
}

std::string provided_roles(const int (&layers)[std::size(kAllBandRoles)]) {
  std::string text;
  for (BandRole role : kAllBandRoles) {
    if (layers[static_cast<int>(role)] >= 0) text += (text.empty() ? "" : ", ") + std::string(band_role_name(role));
  }
  return "[" + text + "]";
}

}  // namespace

IndicesFilter::IndicesFilter()
    : Filter({"filters.indices",
              "vegetation indices (NDVI, NDRE, GNDVI, SAVI, ... and band math) in one fused pass",
              "https://doi.org/10.1038/s41597-023-02096-0"}) {}

void IndicesFilter::declare_options(OptionSet& options) {
  options.add("indices", index_names_, "indices to compute, by catalogue name", StringList{"ndvi"})
      .choices(catalog_names());
  options.add("expressions", expressions_,
              "extra outputs as band math over blue, green, red, red_edge, nir, "
              "e.g. {wdrvi: \"(0.1*nir - red) / (0.1*nir + red)\"}",
              StringMap{});
}

void IndicesFilter::do_prepare(RasterLayout& layout) {
  for (BandRole role : kAllBandRoles) {
    band_layers_[static_cast<int>(role)] = layout.find_layer(std::string(band_role_name(role)));
  }
  auto require = [&](const std::string& what, const std::vector<BandRole>& needs) {
    for (BandRole role : needs) {
      const int layer = band_layers_[static_cast<int>(role)];
      if (layer < 0) {
        throw StageError(what + " needs band role '" + std::string(band_role_name(role)) +
                         "', but the image provides " + provided_roles(band_layers_) +
                         "; name the bands with --bands or the reader's 'bands' option");
      }
      if (std::find(layers_read_.begin(), layers_read_.end(), layer) == layers_read_.end()) {
        layers_read_.push_back(layer);
      }
    }
  };
  if (index_names_.empty() && expressions_.empty()) {
    throw ConfigError("nothing to compute: set 'indices' and/or 'expressions'");
  }
  bool warned_scale = false;
  for (const auto& name : index_names_) {
    const int existing = layout.find_layer(name);
    if (existing >= 0 && layout.layers()[static_cast<std::size_t>(existing)].kind == RasterLayout::LayerKind::band) {
      continue;  // the image is already this index map
    }
    const IndexDefinition* index = find_index(name);
    require("index '" + name + "'", index->needs);
    if (index->needs_reflectance && !layout.reflectance && !warned_scale) {
      log_warning("index '" + name + "' has additive constants and expects reflectance in [0, 1], "
                  "but the image is read as raw digital numbers; give the reflectance scale (--scale, e.g. 1/65535)");
      warned_scale = true;
    }
    Output output;
    output.index = index;
    output.layer = layout.add_layer(name, RasterLayout::LayerKind::derived, std::string(index->long_name));
    outputs_.push_back(output);
  }
  for (const auto& [name, text] : expressions_) {
    if (find_index(name) != nullptr) {
      throw ConfigError("expression '" + name + "' has the name of a built-in index; choose another name");
    }
    try {
      BandMathExpression parsed(text);
      require("expression '" + name + "'", parsed.needs());
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("option 'expressions': ") + e.what());
    }
    Output output;
    output.expression = expression_texts_.size();
    output.layer = layout.add_layer(name, RasterLayout::LayerKind::derived, text);
    expression_texts_.push_back(text);
    outputs_.push_back(output);
  }
}

void IndicesFilter::do_process(Tile& tile) const {
  const std::size_t n = static_cast<std::size_t>(tile.window().pixel_count());
  auto row_of = [&](BandRole role) -> const float* {
    const int layer = band_layers_[static_cast<int>(role)];
    return layer >= 0 ? tile.layer(layer).ptr<float>() : nullptr;
  };
  const BandRows rows{row_of(BandRole::blue), row_of(BandRole::green), row_of(BandRole::red),
                      row_of(BandRole::red_edge), row_of(BandRole::nir)};
  for (const auto& output : outputs_) {
    float* out = tile.layer(output.layer).ptr<float>();  // tile layers are continuous
    if (output.index != nullptr) {
      output.index->compute(rows, out, n);
      continue;
    }
    auto& expressions = thread_expressions_.local();
    if (expressions.empty()) {
      for (const auto& text : expression_texts_) expressions.emplace_back(text);
    }
    expressions[output.expression].evaluate(rows, out, n);
  }
}

}  // namespace fieldrx
