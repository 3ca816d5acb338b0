// SPDX-License-Identifier: Apache-2.0
#include "pipeline/io/gdal_io.hpp"

#include <cpl_conv.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>

#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"

namespace fieldrx {
namespace {

void CPL_STDCALL forward_gdal_message(CPLErr level, CPLErrorNum, const char* message) {
  // Failures are raised as exceptions by the caller from CPLGetLastErrorMsg; warnings are
  // worth showing (e.g. a TIFF tag GDAL could not read).
  if (level == CE_Warning) log_warning(std::string("GDAL: ") + message);
}

}  // namespace

void GdalDatasetCloser::operator()(GDALDataset* dataset) const noexcept { GDALClose(dataset); }

long long gdal_cache_for_budget(long long budget_bytes) {
  return std::clamp(budget_bytes / 8, 16LL << 20, 64LL << 20);
}

void configure_gdal(long long cache_bytes) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    GDALAllRegister();
    CPLSetErrorHandler(forward_gdal_message);
  });
  GDALSetCacheMax64(cache_bytes);
}

std::string last_gdal_error() {
  const char* message = CPLGetLastErrorMsg();
  return message && *message ? message : "GDAL gave no reason";
}

void check_gdal(CPLErr status, const std::string& what) {
  if (status == CE_Failure) throw IoError(what + ": " + last_gdal_error());
}

DatasetPtr open_raster(const std::string& path, bool update) {
  CPLErrorReset();
  DatasetPtr dataset(GDALDataset::Open(
      path.c_str(), GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR | (update ? GDAL_OF_UPDATE : 0)));
  if (!dataset) {
    throw IoError(path + ": cannot open as a raster: " + last_gdal_error());
  }
  return dataset;
}

DatasetPtr open_vector(const std::string& path) {
  CPLErrorReset();
  DatasetPtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_VERBOSE_ERROR));
  if (!dataset) throw IoError(path + ": cannot open as vector data: " + last_gdal_error());
  return dataset;
}

AtomicOutput::AtomicOutput(std::string final_path) : final_path_(std::move(final_path)) {
  static std::atomic<int> counter{0};
  const std::filesystem::path final_fs(final_path_);
  // Same folder (rename stays atomic), same extension (GDAL picks drivers and side-cars by it).
  temp_path_ = (final_fs.parent_path() /
                (".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
                 final_fs.filename().string()))
                   .string();
}

AtomicOutput::~AtomicOutput() { discard(); }

void AtomicOutput::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_path_, final_path_, ec);
  if (ec) throw IoError(final_path_ + ": cannot move the finished file into place: " + ec.message());
  done_ = true;
}

void AtomicOutput::discard() noexcept {
  if (done_) return;
  std::error_code ec;
  std::filesystem::remove(temp_path_, ec);
  std::filesystem::remove(temp_path_ + ".aux.xml", ec);
  done_ = true;
}

void make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw IoError(path + ": cannot create the folder: " + ec.message());
}

}  // namespace fieldrx
