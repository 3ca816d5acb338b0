// SPDX-License-Identifier: Apache-2.0
#pragma once
// GDAL RAII and error translation. Only I/O code (readers, writers, pipeline/io) includes this.
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <memory>
#include <string>

namespace fieldrx {

struct GdalDatasetCloser {
  void operator()(GDALDataset* dataset) const noexcept;
};
using DatasetPtr = std::unique_ptr<GDALDataset, GdalDatasetCloser>;

// Registers drivers once, routes GDAL warnings to our log and sets the block cache.
void configure_gdal(long long cache_bytes);
// The cache size fieldrx uses for a memory budget: small on purpose (see docs/performance).
long long gdal_cache_for_budget(long long budget_bytes);

DatasetPtr open_raster(const std::string& path, bool update = false);
DatasetPtr open_vector(const std::string& path);
// Throws IoError "<what>: <GDAL's last error message>" when `status` is CE_Failure.
void check_gdal(CPLErr status, const std::string& what);
std::string last_gdal_error();

// A file written under a temporary name in the same folder and renamed when complete, so
// no half-written output is ever seen under the final name. Removed if never committed.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  void commit();    // rename temp -> final (and side-car files with the same stem)
  void discard() noexcept;

 private:
  std::string final_path_, temp_path_;
  bool done_ = false;
};

void make_directories(const std::string& path);

}  // namespace fieldrx
