// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/cog_writer.hpp"

#include <cpl_string.h>

#include <cmath>
#include <limits>

#include "pipeline/errors.hpp"

namespace fieldrx {

CogWriter::CogWriter()
    : Writer({"writers.cog", "one Cloud-Optimized GeoTIFF per index layer (Float32, NaN nodata, overviews)",
              "https://gdal.org/drivers/raster/cog.html"}) {}

void CogWriter::declare_options(OptionSet& options) {
  options.add("directory", directory_, "folder for <layer>.tif files (created if missing)", "").required();
  options.add("layers", layer_names_, "layers to write (default: every computed index)", StringList{});
  options.add("compress", compress_, "compression of the COG", "zstd").choices({"zstd", "deflate", "lzw", "none"});
  options.add("level", level_, "compression level (0 = the codec's fast default)", 1).range(0, 22);
  options.add("overviews", overviews_, "write internal overviews (averaged)", true);
  options.add("block_px", block_px_, "COG tile edge", 512).unit("px").range(64, 4096);
}

std::vector<std::string> CogWriter::outputs() const { return written_; }

void CogWriter::do_open(const RasterLayout& layout, const ExecutionSettings& settings) {
  if (block_px_ % 16 != 0) throw ConfigError("option 'block_px' must be a multiple of 16, got " + std::to_string(block_px_));
  threads_ = settings.threads > 0 ? settings.threads : 0;
  StringList names = layer_names_;
  if (names.empty()) names = layout.layer_names(RasterLayout::LayerKind::derived);
  if (names.empty()) {
    throw ConfigError("there is no computed layer to write; add filters.indices or name band layers in 'layers'");
  }
  make_directories(directory_);
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  // Scratch blocks match the processing tile when GeoTIFF allows it (multiples of 16), so
  // each tile write completes whole blocks instead of re-reading partial ones.
  const int scratch_block = settings.tile_px % 16 == 0 ? std::min(settings.tile_px, 4096) : 256;
  for (const auto& name : names) {
    const int layer = layout.find_layer(name);
    if (layer < 0) {
      std::string known;
      for (const auto& l : layout.layers()) known += (known.empty() ? "" : ", ") + l.name;
      throw ConfigError("option 'layers': no layer '" + name + "'; the pipeline has [" + known + "]");
    }
    Output output;
    output.name = name;
    output.layer = layer;
    output.final_file = std::make_unique<AtomicOutput>(directory_ + "/" + name + ".tif");
    output.scratch = std::make_unique<AtomicOutput>(directory_ + "/" + name + ".scratch.tif");
    CPLStringList create_options;
    create_options.SetNameValue("TILED", "YES");
    create_options.SetNameValue("BLOCKXSIZE", std::to_string(scratch_block).c_str());
    create_options.SetNameValue("BLOCKYSIZE", std::to_string(scratch_block).c_str());
    create_options.SetNameValue("BIGTIFF", "IF_SAFER");
    CPLErrorReset();
    output.scratch_dataset.reset(gtiff->Create(output.scratch->temp_path().c_str(), layout.width, layout.height, 1,
                                               GDT_Float32, create_options.List()));
    if (!output.scratch_dataset) throw IoError(output.scratch->temp_path() + ": cannot create: " + last_gdal_error());
    GDALDataset& ds = *output.scratch_dataset;
    double gt[6];
    std::copy(layout.georef.geotransform.begin(), layout.georef.geotransform.end(), gt);
    ds.SetGeoTransform(gt);
    if (!layout.georef.crs_wkt.empty()) {
      OGRSpatialReference srs;
      srs.importFromWkt(layout.georef.crs_wkt.c_str());
      ds.SetSpatialRef(&srs);
    }
    GDALRasterBand* band = ds.GetRasterBand(1);
    band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN());
    band->SetDescription(name.c_str());
    outputs_.push_back(std::move(output));
  }
}

void CogWriter::do_write(const Tile& tile) {
  const PixelWindow& w = tile.window();
  for (auto& output : outputs_) {
    const cv::Mat& values = tile.layer(output.layer);
    check_gdal(output.scratch_dataset->GetRasterBand(1)->RasterIO(
                   GF_Write, w.col, w.row, w.width, w.height, const_cast<float*>(values.ptr<float>()), w.width,
                   w.height, GDT_Float32, 0, 0, nullptr),
               output.scratch->temp_path() + ": writing " + w.describe());
  }
}

void CogWriter::do_finish() {
  GDALDriver* cog = GetGDALDriverManager()->GetDriverByName("COG");
  for (auto& output : outputs_) {
    CPLErrorReset();
    output.scratch_dataset->FlushCache(false);
    if (CPLGetLastErrorType() == CE_Failure) throw IoError(output.scratch->temp_path() + ": flushing: " + last_gdal_error());
    CPLStringList options;
    options.SetNameValue("COMPRESS", compress_ == "none" ? "NONE" : CPLString(compress_).toupper().c_str());
    if (compress_ != "none") {
      options.SetNameValue("PREDICTOR", "YES");  // floating-point predictor for Float32
      if (level_ > 0 && compress_ != "lzw") options.SetNameValue("LEVEL", std::to_string(level_).c_str());
    }
    options.SetNameValue("BLOCKSIZE", std::to_string(block_px_).c_str());
    options.SetNameValue("OVERVIEWS", overviews_ ? "AUTO" : "NONE");
    options.SetNameValue("OVERVIEW_RESAMPLING", "AVERAGE");
    options.SetNameValue("NUM_THREADS", threads_ > 0 ? std::to_string(threads_).c_str() : "ALL_CPUS");
    options.SetNameValue("BIGTIFF", "IF_SAFER");
    CPLErrorReset();
    DatasetPtr result(cog->CreateCopy(output.final_file->temp_path().c_str(), output.scratch_dataset.get(), false,
                                      options.List(), nullptr, nullptr));
    if (!result) throw IoError(output.final_file->final_path() + ": cannot write the COG: " + last_gdal_error());
    result.reset();  // close before the rename: the file is complete only once closed
    output.scratch_dataset.reset();
    output.scratch->discard();
    output.final_file->commit();
    written_.push_back(output.final_file->final_path());
  }
}

void CogWriter::do_abort() noexcept {
  for (auto& output : outputs_) {
    output.scratch_dataset.reset();
    output.scratch->discard();
    output.final_file->discard();
  }
}

}  // namespace fieldrx
