// SPDX-License-Identifier: Apache-2.0
#include "pipeline/stage.hpp"

#include "pipeline/errors.hpp"

namespace fieldrx {

StageKind stage_kind_of(const std::string& stage_name) {
  auto starts = [&](const char* prefix) { return stage_name.rfind(prefix, 0) == 0; };
  if (starts("readers.")) return StageKind::reader;
  if (starts("filters.")) return StageKind::filter;
  if (starts("aggregators.")) return StageKind::aggregator;
  if (starts("writers.")) return StageKind::writer;
  throw ConfigError("stage name '" + stage_name +
                    "' must start with readers., filters., aggregators. or writers.");
}

RasterLayout Reader::open() {
  return in_context([&] {
    options().check_required();
    return do_open();
  });
}

void Reader::read(Tile& tile) const {
  in_context([&] { do_read(tile); });
}

void Filter::prepare(RasterLayout& layout) {
  in_context([&] {
    options().check_required();
    do_prepare(layout);
  });
}

void Filter::process(Tile& tile) const {
  in_context([&] { do_process(tile); });
}

void Aggregator::prepare(const RasterLayout& layout) {
  in_context([&] {
    options().check_required();
    do_prepare(layout);
  });
}

std::unique_ptr<AggregatePartial> Aggregator::accumulate(const Tile& tile) const {
  return in_context([&] { return do_accumulate(tile); });
}

void Aggregator::merge(std::unique_ptr<AggregatePartial> partial) {
  in_context([&] { do_merge(std::move(partial)); });
}

void Writer::open(const RasterLayout& layout, const ExecutionSettings& settings) {
  in_context([&] {
    options().check_required();
    do_open(layout, settings);
  });
}

void Writer::write(const Tile& tile) {
  in_context([&] { do_write(tile); });
}

void Writer::finish() {
  in_context([&] { do_finish(); });
}

void Writer::abort() noexcept { do_abort(); }

}  // namespace fieldrx
