// SPDX-License-Identifier: Apache-2.0
#pragma once
// filters.indices — vegetation indices per pixel, all requested ones fused into one pass
// over each tile (as OTB's RadiometricIndices application).
//   Input band roles: whatever the requested indices need (blue, green, red, red_edge, nir).
//   Output layers: one Float32 layer per index, named after it; NaN where undefined.
//   Options: indices (list of catalogue names, see `fieldrx stages`), expressions (map of
//   output name -> band-math expression over the band roles).
//   Sources: each index cites its paper in stages/filters/index_kernels.cpp.
// An index whose name the reader already provides as a band (a ready NDVI map) is passed
// through, not recomputed.
#include <tbb/enumerable_thread_specific.h>

#include <memory>

#include "pipeline/stage.hpp"
#include "stages/filters/band_math.hpp"
#include "stages/filters/index_kernels.hpp"

namespace fieldrx {

class IndicesFilter : public Filter {
 public:
  IndicesFilter();

 private:
  void declare_options(OptionSet& options) override;
  void do_prepare(RasterLayout& layout) override;
  void do_process(Tile& tile) const override;
  LayersRead do_layers_read() const override { return layers_read_; }

  struct Output {
    const IndexDefinition* index = nullptr;  // catalogue index, or
    std::size_t expression = 0;              // position in expression_texts_
    int layer = -1;
  };

  StringList index_names_;
  StringMap expressions_;
  int band_layers_[std::size(kAllBandRoles)] = {-1, -1, -1, -1, -1};
  std::vector<Output> outputs_;
  std::vector<int> layers_read_;  // band layers of the roles the outputs need
  std::vector<std::string> expression_texts_;
  // muparser objects are not reentrant: one set per thread, built on first use.
  mutable tbb::enumerable_thread_specific<std::vector<BandMathExpression>> thread_expressions_;
};

}  // namespace fieldrx
