// SPDX-License-Identifier: Apache-2.0
#pragma once
// Stage base classes (non-virtual interface, as PDAL's Stage). The pipeline calls the public
// methods; stages override the private hooks in lifecycle order:
//   declare_options -> (options set) -> open/prepare: validate against the raster layout
//   -> read/process/write tiles -> finish.
// After prepare a stage is immutable: per-tile hooks are const (reentrant) for readers and
// filters, and any scratch lives on the stack or in tbb::enumerable_thread_specific.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/errors.hpp"
#include "pipeline/options.hpp"
#include "pipeline/tile.hpp"

namespace fieldrx {

enum class StageKind { reader, filter, aggregator, writer };

struct StageInfo {
  std::string name;         // "filters.indices": the prefix says the kind
  std::string description;  // one line for `fieldrx stages`
  std::string link;         // the method's source (paper, spec or docs page)
};

// Layer ids a stage reads from each tile; std::nullopt: any layer (the reader fills every band).
using LayersRead = std::optional<std::vector<int>>;

// How the pipeline runs: shared by every stage of one run.
struct ExecutionSettings {
  int threads = 0;          // 0 = all cores
  int tile_px = 512;        // square processing tile edge
  int memory_mb = 512;      // budget for tiles in flight (plus GDAL's block cache)
  bool quiet = false;       // no progress bar
  bool force_progress = false;
};

StageKind stage_kind_of(const std::string& stage_name);  // from the name prefix

class Stage {
 public:
  virtual ~Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  const StageInfo& info() const { return info_; }
  const std::string& name() const { return info_.name; }
  StageKind kind() const { return stage_kind_of(info_.name); }
  OptionSet& options() { return options_; }
  const OptionSet& options() const { return options_; }
  // Called once by the registry right after construction.
  void declare() { declare_options(options_); }

 protected:
  explicit Stage(StageInfo info) : info_(std::move(info)) {}
  // Runs `fn`, prefixing any error with this stage's name.
  template <typename Fn>
  decltype(auto) in_context(Fn&& fn) const;

 private:
  virtual void declare_options(OptionSet& options) = 0;
  StageInfo info_;
  OptionSet options_;
};

class Reader : public Stage {
 public:
  RasterLayout open();          // reads the header; declares band layers
  void read(Tile& tile) const;  // fills the band layers of tile.window(); thread-safe
  // Short text for logs: "615.tif (161x177, 5 bands)".
  virtual std::string describe() const = 0;

 protected:
  using Stage::Stage;

 private:
  virtual RasterLayout do_open() = 0;
  virtual void do_read(Tile& tile) const = 0;
};

class Filter : public Stage {
 public:
  void prepare(RasterLayout& layout);  // checks needed layers; adds its outputs
  void process(Tile& tile) const;      // per tile, parallel
  // Layers process() reads, known after prepare: the reader skips bands no stage reads.
  LayersRead layers_read() const { return do_layers_read(); }

 protected:
  using Stage::Stage;

 private:
  virtual void do_prepare(RasterLayout& layout) = 0;
  virtual void do_process(Tile& tile) const = 0;
  virtual LayersRead do_layers_read() const { return std::nullopt; }
};

// Whole-field work (statistics, grids): per-tile partials computed in parallel, merged in
// raster order by the serial step, so the result is the same at any thread count.
class Aggregator : public Stage {
 public:
  void prepare(const RasterLayout& layout);
  std::unique_ptr<AggregatePartial> accumulate(const Tile& tile) const;  // parallel
  void merge(std::unique_ptr<AggregatePartial> partial);                 // serial, tile order

 protected:
  using Stage::Stage;

 private:
  virtual void do_prepare(const RasterLayout& layout) = 0;
  virtual std::unique_ptr<AggregatePartial> do_accumulate(const Tile& tile) const = 0;
  virtual void do_merge(std::unique_ptr<AggregatePartial> partial) = 0;
};

class Writer : public Stage {
 public:
  void open(const RasterLayout& layout, const ExecutionSettings& settings);
  void write(const Tile& tile);  // serial, tiles in raster order
  void finish();                 // completes outputs: temporary names renamed to final ones
  void abort() noexcept;         // removes temporaries after a failure
  // Final paths written by finish(), for logs and the CLI summary.
  virtual std::vector<std::string> outputs() const = 0;
  // Layers write() reads, known after open (as Filter::layers_read).
  LayersRead layers_read() const { return do_layers_read(); }

 protected:
  using Stage::Stage;

 private:
  virtual void do_open(const RasterLayout& layout, const ExecutionSettings& settings) = 0;
  virtual LayersRead do_layers_read() const { return std::nullopt; }
  virtual void do_write(const Tile& tile) = 0;
  virtual void do_finish() = 0;
  virtual void do_abort() noexcept = 0;
};

template <typename Fn>
decltype(auto) Stage::in_context(Fn&& fn) const {
  try {
    return fn();
  } catch (...) {
    rethrow_with_context("stage '" + name() + "'");
  }
}

}  // namespace fieldrx
