// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/preview_writer.hpp"

#include <ogr_spatialref.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "stages/writers/map_render.hpp"

namespace fieldrx {

PreviewWriter::PreviewWriter()
    : Writer({"writers.preview", "PNG preview per index layer with colour ramp, legend, scale bar, north arrow",
              "https://colorbrewer2.org/#type=diverging&scheme=RdYlGn&n=11"}) {}

void PreviewWriter::declare_options(OptionSet& options) {
  options.add("directory", directory_, "folder for <layer>.png files (created if missing)", "").required();
  options.add("layers", layer_names_, "layers to draw (default: every computed index)", StringList{});
  options.add("max_px", max_px_, "longest side of the map in the PNG", 1024).unit("px").range(64, 8192);
  options.add("range", range_, "fixed colour range lo,hi (default: the 2-98 % range of each layer)", NumberList{});
}

std::vector<std::string> PreviewWriter::outputs() const { return written_; }

LayersRead PreviewWriter::do_layers_read() const {
  std::vector<int> layers;
  for (const auto& preview : previews_) layers.push_back(preview.layer);
  return layers;
}

void PreviewWriter::do_open(const RasterLayout& layout, const ExecutionSettings&) {
  if (!range_.empty() && (range_.size() != 2 || !(range_[0] < range_[1]))) {
    throw ConfigError("option 'range' expects two numbers lo,hi with lo < hi");
  }
  StringList names = layer_names_.empty() ? layout.layer_names(RasterLayout::LayerKind::derived) : layer_names_;
  if (names.empty()) throw ConfigError("there is no computed layer to draw; add filters.indices or name layers in 'layers'");
  make_directories(directory_);
  factor_ = std::max(1, static_cast<int>(std::ceil(std::max(layout.width, layout.height) / double(max_px_))));
  const int rows = (layout.height + factor_ - 1) / factor_, cols = (layout.width + factor_ - 1) / factor_;
  for (const auto& name : names) {
    const int layer = layout.find_layer(name);
    if (layer < 0) throw ConfigError("option 'layers': no layer '" + name + "' in this pipeline");
    previews_.push_back({name, layout.layers()[static_cast<std::size_t>(layer)].description, layer,
                         cv::Mat::zeros(rows, cols, CV_64F), cv::Mat::zeros(rows, cols, CV_32S)});
  }
  // A scale bar only where map units are metres along both axes (projected CRS, square-ish pixels).
  OGRSpatialReference srs;
  if (!layout.georef.crs_wkt.empty() && srs.importFromWkt(layout.georef.crs_wkt.c_str()) == OGRERR_NONE &&
      srs.IsProjected()) {
    metres_per_preview_pixel_ = std::abs(layout.georef.pixel_width()) * srs.GetLinearUnits() * factor_;
  }
}

void PreviewWriter::do_write(const Tile& tile) {
  const PixelWindow& w = tile.window();
  for (auto& preview : previews_) {
    const cv::Mat& values = tile.layer(preview.layer);
    for (int r = 0; r < w.height; ++r) {
      const float* v = values.ptr<float>(r);
      const int pr = (w.row + r) / factor_;
      auto* sums = preview.sums.ptr<double>(pr);
      auto* counts = preview.counts.ptr<int>(pr);
      // One preview cell's run of the row at a time: no division per pixel, one update per run.
      for (int c = 0; c < w.width;) {
        const int pc = (w.col + c) / factor_;
        const int run_end = std::min(w.width, (pc + 1) * factor_ - w.col);
        double sum = 0;
        int count = 0;
        for (; c < run_end; ++c) {
          if (std::isfinite(v[c])) sum += v[c], ++count;
        }
        sums[pc] += sum;
        counts[pc] += count;
      }
    }
  }
}

void PreviewWriter::do_finish() {
  for (auto& preview : previews_) {
    cv::Mat mean(preview.sums.size(), CV_32F);
    for (int r = 0; r < mean.rows; ++r) {
      for (int c = 0; c < mean.cols; ++c) {
        const int n = preview.counts.at<int>(r, c);
        mean.at<float>(r, c) = n > 0 ? static_cast<float>(preview.sums.at<double>(r, c) / n) : NAN;
      }
    }
    double lo = range_.empty() ? finite_percentile(mean, 2) : range_[0];
    double hi = range_.empty() ? finite_percentile(mean, 98) : range_[1];
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;  // an all-nodata layer: empty map
    if (hi <= lo) hi = lo + 1e-6;
    MapFigure figure;
    figure.map_bgra = colorize(mean, lo, hi);
    figure.title = preview.name + (preview.long_name.empty() ? "" : " - " + preview.long_name);
    figure.ramp_lo = lo;
    figure.ramp_hi = hi;
    figure.ramp_unit = range_.empty() ? "2-98 % stretch" : "";
    figure.metres_per_pixel = metres_per_preview_pixel_;
    AtomicOutput output(directory_ + "/" + preview.name + ".png");
    if (!cv::imwrite(output.temp_path(), render_figure(figure))) {
      throw IoError(output.final_path() + ": cannot write the PNG (folder writable? disk full?)");
    }
    output.commit();
    written_.push_back(output.final_path());
  }
}

}  // namespace fieldrx
