// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/cog_writer.hpp"

#include <cpl_compressor.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <utility>

#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "stages/writers/cog_tiff.hpp"

namespace fieldrx {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Buffers are reused rather than allocated per block: fresh memory is expensive on these
// machines (docs/performance.md).
template <typename Buffer>
Buffer reuse(std::vector<Buffer>& spares) {
  if (spares.empty()) return {};
  Buffer buffer = std::move(spares.back());
  spares.pop_back();
  return buffer;
}

// A file opened for positioned reads and writes; errors name the file and the system's reason.
class File {
 public:
  File() = default;
  explicit File(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(File&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  File& operator=(File&& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(fd_, other.fd_);
    return *this;
  }
  const std::string& path() const { return path_; }

  // One tile: its 4-byte size leader before `offset`, the bytes, their last 4 bytes again.
  void write_tile(std::uint64_t offset, const std::uint8_t* data, std::size_t size) {
    const std::uint32_t leader = static_cast<std::uint32_t>(size);
    std::uint8_t trailer[4] = {0, 0, 0, 0};
    if (size >= 4) std::memcpy(trailer, data + size - 4, 4);
    iovec parts[3] = {{const_cast<std::uint32_t*>(&leader), 4},
                      {const_cast<std::uint8_t*>(data), size},
                      {trailer, 4}};
    ssize_t done = ::pwritev(fd_, parts, 3, static_cast<off_t>(offset - 4));
    if (done < 0 && errno != EINTR) fail("cannot write");
    // A short write (rare, e.g. a signal): the rest part by part.
    std::uint64_t at = offset - 4;
    std::size_t skip = done > 0 ? static_cast<std::size_t>(done) : 0;
    for (const iovec& part : parts) {
      if (skip < part.iov_len) {
        write_at(at + skip, static_cast<const std::uint8_t*>(part.iov_base) + skip,
                 part.iov_len - skip);
      }
      at += part.iov_len;
      skip -= std::min(skip, part.iov_len);
    }
  }
  void write_at(std::uint64_t offset, const std::uint8_t* data, std::size_t size) {
    while (size > 0) {
      const ssize_t done = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) fail("cannot write");
      data += done, offset += static_cast<std::uint64_t>(done),
          size -= static_cast<std::size_t>(done);
    }
  }
  // Copies `size` bytes at `from` in `source` to `to` in this file: in the kernel where the
  // file system allows it (no pass through user memory), else through a buffer.
  void copy_from(File& source, std::uint64_t from, std::uint64_t to, std::uint64_t size) {
    while (size > 0) {
      off_t in = static_cast<off_t>(from), out = static_cast<off_t>(to);
      const ssize_t done = ::copy_file_range(source.fd_, &in, fd_, &out, size, 0);
      if (done > 0) {
        from += static_cast<std::uint64_t>(done), to += static_cast<std::uint64_t>(done),
            size -= static_cast<std::uint64_t>(done);
        continue;
      }
      if (done < 0 && errno == EINTR) continue;
      if (done == 0 || errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)
        break;
      fail("cannot copy tiles from " + source.path() + " into");
    }
    std::vector<std::uint8_t> buffer(std::min<std::uint64_t>(size, 4u << 20));
    while (size > 0) {
      const std::size_t chunk =
          static_cast<std::size_t>(std::min<std::uint64_t>(size, buffer.size()));
      const ssize_t got = ::pread(source.fd_, buffer.data(), chunk, static_cast<off_t>(from));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) source.fail("cannot read");
      write_at(to, buffer.data(), static_cast<std::size_t>(got));
      from += static_cast<std::uint64_t>(got), to += static_cast<std::uint64_t>(got),
          size -= static_cast<std::uint64_t>(got);
    }
  }
  void close() {
    const int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) fail("cannot close (disk full?)");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(path_ + ": " + what + ": " + std::strerror(errno));
  }
  std::string path_;
  int fd_ = -1;
};

// The GeoTIFF keys and GDAL tags (geotransform, CRS, NaN nodata, band description) of a 1x1
// GeoTIFF that GDAL writes in memory with this layout's georeference: GDAL's own encoding,
// without re-implementing its CRS -> GeoKey translation. Structural tags are left out.
std::vector<cog::TiffTag> gdal_georeference_tags(const RasterLayout& layout,
                                                 const std::string& description) {
  static std::atomic<int> counter{0};
  const std::string path = "/vsimem/fieldrx-cog-tags-" + std::to_string(getpid()) + "-" +
                           std::to_string(counter++) + ".tif";
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  CPLErrorReset();
  DatasetPtr ds(gtiff->Create(path.c_str(), 1, 1, 1, GDT_Float32, nullptr));
  if (!ds)
    throw IoError("writers.cog: GDAL cannot create its in-memory GeoTIFF: " + last_gdal_error());
  double gt[6];
  std::copy(layout.georef.geotransform.begin(), layout.georef.geotransform.end(), gt);
  ds->SetGeoTransform(gt);
  if (!layout.georef.crs_wkt.empty()) {
    OGRSpatialReference srs;
    srs.importFromWkt(layout.georef.crs_wkt.c_str());
    ds->SetSpatialRef(&srs);
  }
  GDALRasterBand* band = ds->GetRasterBand(1);
  band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN());
  band->SetDescription(description.c_str());
  ds.reset();
  vsi_l_offset length = 0;
  const GByte* bytes = VSIGetMemFileBuffer(path.c_str(), &length, FALSE);
  std::vector<cog::TiffTag> tags;
  try {
    if (!bytes) throw std::runtime_error("empty");
    tags = cog::read_first_ifd(bytes, static_cast<std::size_t>(length));
  } catch (const std::exception& e) {
    VSIUnlink(path.c_str());
    throw IoError(std::string("writers.cog: cannot read the tags of GDAL's in-memory GeoTIFF: ") +
                  e.what());
  }
  VSIUnlink(path.c_str());
  static const std::uint16_t kStructural[] = {254, 256, 257, 258, 259, 262, 273, 277, 278,
                                              279, 284, 317, 322, 323, 324, 325, 338, 339};
  std::erase_if(tags, [](const cog::TiffTag& t) {
    return std::find(std::begin(kStructural), std::end(kStructural), t.tag) !=
           std::end(kStructural);
  });
  return tags;
}

}  // namespace

// The tile codec: floating-point predictor, then ZSTD or DEFLATE through GDAL's compressor
// registry (the same libraries GDAL's GeoTIFF driver uses), or TIFF LZW.
struct CogWriter::Codec {
  std::uint16_t tiff_code = 1;  // none
  const CPLCompressor* compressor = nullptr;
  CPLStringList options;
  std::size_t bound = 0;  // largest encoded size of one tile
  tbb::enumerable_thread_specific<std::vector<std::uint8_t>> staging;  // predictor output

  void encode(const float* pixels, int block, std::vector<std::uint8_t>& out) {
    std::vector<std::uint8_t>& bytes = staging.local();
    const std::size_t row_bytes = static_cast<std::size_t>(block) * sizeof(float);
    bytes.resize(row_bytes * static_cast<std::size_t>(block));
    for (int r = 0; r < block; ++r) {
      cog::float_predictor_row(pixels + static_cast<std::ptrdiff_t>(r) * block, block,
                               bytes.data() + row_bytes * static_cast<std::size_t>(r));
    }
    if (!compressor) {
      cog::lzw_encode(bytes.data(), bytes.size(), out);
      return;
    }
    out.resize(bound);
    void* destination = out.data();
    std::size_t size = bound;
    if (!compressor->pfnFunc(bytes.data(), bytes.size(), &destination, &size, options.List(),
                             compressor->user_data)) {
      throw IoError(std::string("writers.cog: ") + compressor->pszId +
                    " compression of a tile failed: " + last_gdal_error());
    }
    out.resize(size);
  }
};

struct CogWriter::Job {
  Stream* stream = nullptr;
  int level = 0, block = 0;
  std::vector<float> pixels;          // block_px x block_px, NaN outside the raster
  std::vector<std::uint8_t> encoded;  // compressed tile
  std::vector<float> half;            // its 2x2 average: a quarter of a block one level up
};

struct CogWriter::Pending {
  Job job;
  long long filled = 0;  // pixels received
};

struct CogWriter::Stream {
  struct Level {
    int width = 0, height = 0, across = 0, down = 0;
    // Per block: where its bytes start (in the final file; in the scratch file when
    // compressed) and how many there are.
    std::vector<std::uint64_t> where, bytes;
    std::map<int, Pending> pending;  // blocks that have not received every pixel yet
    long long done = 0;
  };
  std::string name;
  int layer = -1;
  std::vector<Level> levels;  // [0] full resolution, then each overview
  std::vector<cog::TiffTag> main_tags, overview_tags;
  std::unique_ptr<AtomicOutput> final_file, scratch_file;
  File out, scratch;
  std::uint64_t scratch_end = 0;
  bool bigtiff = false;
  std::size_t header_size = 0;

  cog::CogHeaderSpec header_spec(const Codec& codec, int block) const {
    cog::CogHeaderSpec spec;
    spec.block = block;
    spec.compression = codec.tiff_code;
    spec.predictor = codec.tiff_code != 1;
    spec.bigtiff = bigtiff;
    for (const Level& l : levels) spec.levels.push_back({l.width, l.height, {}, l.bytes});
    spec.main_tags = main_tags;
    spec.overview_tags = overview_tags;
    return spec;
  }
};

CogWriter::CogWriter()
    : Writer({"writers.cog",
              "one Cloud-Optimized GeoTIFF per index layer (Float32, NaN nodata, overviews)",
              "https://gdal.org/drivers/raster/cog.html"}) {}

CogWriter::~CogWriter() = default;

void CogWriter::declare_options(OptionSet& options) {
  options.add("directory", directory_, "folder for <layer>.tif files (created if missing)", "")
      .required();
  options.add("layers", layer_names_, "layers to write (default: every computed index)",
              StringList{});
  options.add("compress", compress_, "compression of the COG", "zstd")
      .choices({"zstd", "deflate", "lzw", "none"});
  options.add("level", level_, "compression level (0 = GDAL's default: ZSTD 9, DEFLATE 6)", 1)
      .range(0, 22);
  options.add("overviews", overviews_, "write internal overviews (averaged)", true);
  options.add("block_px", block_px_, "COG tile edge", 512).unit("px").range(64, 4096);
  options
      .add("bigtiff", bigtiff_, "BigTIFF (64-bit offsets): only when the file needs it, or always",
           "if_needed")
      .choices({"if_needed", "yes"});
}

LayersRead CogWriter::do_layers_read() const {
  std::vector<int> layers;
  for (const auto& stream : streams_) layers.push_back(stream->layer);
  return layers;
}

std::vector<std::string> CogWriter::outputs() const {
  return written_;
}

void CogWriter::do_open(const RasterLayout& layout, const ExecutionSettings& settings) {
  if (block_px_ % 16 != 0)
    throw ConfigError("option 'block_px' must be a multiple of 16, got " +
                      std::to_string(block_px_));
  if (compress_ == "deflate" && level_ > 9) {
    throw ConfigError("option 'level': DEFLATE levels are 1-9 (or 0 for the default 6), got " +
                      std::to_string(level_));
  }
  threads_ = settings.threads > 0 ? settings.threads : tbb::info::default_concurrency();
  StringList names = layer_names_;
  if (names.empty()) names = layout.layer_names(RasterLayout::LayerKind::derived);
  if (names.empty()) {
    throw ConfigError(
        "there is no computed layer to write; add filters.indices or name band layers in 'layers'");
  }
  codec_ = std::make_unique<Codec>();
  if (compress_ != "none") {
    codec_->tiff_code = compress_ == "zstd" ? 50000 : compress_ == "deflate" ? 8 : 5;
    if (compress_ != "lzw") {
      codec_->compressor = CPLGetCompressor(compress_ == "zstd" ? "zstd" : "zlib");
      if (!codec_->compressor)
        throw IoError("writers.cog: this GDAL build has no " + compress_ +
                      " compressor; use another 'compress'");
      const int level = level_ > 0 ? level_ : compress_ == "zstd" ? 9 : 6;  // GDAL GeoTIFF defaults
      codec_->options.SetNameValue("LEVEL", std::to_string(level).c_str());
      const std::size_t raw = static_cast<std::size_t>(block_px_) * block_px_ * sizeof(float);
      std::vector<std::uint8_t> probe(raw);
      if (!codec_->compressor->pfnFunc(probe.data(), raw, nullptr, &codec_->bound,
                                       codec_->options.List(), codec_->compressor->user_data)) {
        throw IoError("writers.cog: GDAL's " + compress_ +
                      " compressor gives no size bound: " + last_gdal_error());
      }
      // Never below the codecs' documented worst cases (zlib built without libdeflate
      // reports the size of this probe instead of a bound).
      codec_->bound = std::max(codec_->bound, raw + raw / 128 + 1024);
    }
  }
  make_directories(directory_);

  // Levels: full resolution, then halves (rounded up) until both sides fit one block.
  std::vector<std::pair<int, int>> sizes{{layout.width, layout.height}};
  while (overviews_ && (sizes.back().first > block_px_ || sizes.back().second > block_px_)) {
    sizes.push_back({(sizes.back().first + 1) / 2, (sizes.back().second + 1) / 2});
  }
  for (const auto& name : names) {
    const int layer = layout.find_layer(name);
    if (layer < 0) {
      std::string known;
      for (const auto& l : layout.layers()) known += (known.empty() ? "" : ", ") + l.name;
      throw ConfigError("option 'layers': no layer '" + name + "'; the pipeline has [" + known +
                        "]");
    }
    auto stream = std::make_unique<Stream>();
    stream->name = name;
    stream->layer = layer;
    for (const auto& [w, h] : sizes) {
      Stream::Level level;
      level.width = w, level.height = h;
      level.across = cog::tiles_across(w, block_px_), level.down = cog::tiles_across(h, block_px_);
      const std::size_t blocks =
          static_cast<std::size_t>(level.across) * static_cast<std::size_t>(level.down);
      level.where.assign(blocks, 0);
      level.bytes.assign(blocks, codec_->tiff_code == 1 ? static_cast<std::uint64_t>(block_px_) *
                                                              block_px_ * sizeof(float)
                                                        : 0);
      stream->levels.push_back(std::move(level));
    }
    stream->main_tags = gdal_georeference_tags(layout, name);
    for (const auto& t : stream->main_tags) {
      if (t.tag == 42113)
        stream->overview_tags.push_back(t);  // GDAL_NODATA on every level, as GDAL does
    }
    stream->bigtiff = bigtiff_ == "yes";
    stream->final_file = std::make_unique<AtomicOutput>(directory_ + "/" + name + ".tif");
    stream->out = File(stream->final_file->temp_path());
    if (codec_->tiff_code == 1) {
      // Uncompressed: every tile's place is known now, so tiles go straight where they belong.
      cog::CogHeaderSpec spec = stream->header_spec(*codec_, block_px_);
      std::uint64_t end = cog::place_tiles(spec.levels, cog::cog_header(spec).size());
      if (end > cog::kClassicTiffLimit && !stream->bigtiff) {
        stream->bigtiff = spec.bigtiff = true;
        end = cog::place_tiles(spec.levels, cog::cog_header(spec).size());
      }
      stream->header_size = cog::cog_header(spec).size();
      for (std::size_t l = 0; l < spec.levels.size(); ++l)
        stream->levels[l].where = spec.levels[l].offsets;
    } else {
      stream->scratch_file = std::make_unique<AtomicOutput>(directory_ + "/" + name + ".tiles");
      stream->scratch = File(stream->scratch_file->temp_path());
    }
    streams_.push_back(std::move(stream));
  }
  // Blocks are encoded and averaged in parallel batches; with nothing to compute, each goes
  // to the file as soon as it is complete.
  const bool compute = codec_->tiff_code != 1 || sizes.size() > 1;
  batch_limit_ = compute ? static_cast<std::size_t>(std::max(2, 2 * threads_)) : 1;
  if (settings.tile_px % block_px_ != 0 && layout.width > settings.tile_px && !settings.quiet) {
    const long long held = static_cast<long long>(layout.width) * block_px_ *
                           static_cast<long long>(sizeof(float) * names.size());
    log_info("writers.cog: " + std::to_string(settings.tile_px) + " px tiles do not fill whole " +
             std::to_string(block_px_) + " px COG blocks: up to " + std::to_string(held >> 20) +
             " MiB of partial blocks are held (a tile size that is a multiple of " +
             std::to_string(block_px_) + " avoids it)");
  }
}

void CogWriter::add_piece(Stream& stream, int level, int block, const float* source,
                          int source_stride, int col, int row, int width, int height) {
  Stream::Level& l = stream.levels[static_cast<std::size_t>(level)];
  const int x0 = (block % l.across) * block_px_, y0 = (block / l.across) * block_px_;
  const int block_width = std::min(block_px_, l.width - x0),
            block_height = std::min(block_px_, l.height - y0);
  const long long expected = static_cast<long long>(block_width) * block_height;
  const bool edge = block_width < block_px_ || block_height < block_px_;
  const auto copy = [&](Job& job) {
    for (int r = 0; r < height; ++r) {
      std::memcpy(
          job.pixels.data() + static_cast<std::ptrdiff_t>(row - y0 + r) * block_px_ + (col - x0),
          source + static_cast<std::ptrdiff_t>(r) * source_stride,
          static_cast<std::size_t>(width) * sizeof(float));
    }
  };
  const long long piece = static_cast<long long>(width) * height;
  if (piece == expected) {  // the whole block at once
    Job job = take_job(stream, level, block, edge);
    copy(job);
    batch_.push_back(std::move(job));
    return;
  }
  auto [it, fresh] = l.pending.try_emplace(block);
  Pending& pending = it->second;
  if (fresh) pending.job = take_job(stream, level, block, true);
  copy(pending.job);
  pending.filled += piece;
  if (pending.filled < expected) return;
  batch_.push_back(std::move(pending.job));
  l.pending.erase(it);
}

CogWriter::Job CogWriter::take_job(Stream& stream, int level, int block, bool fill_nan) {
  Job job;
  job.stream = &stream, job.level = level, job.block = block;
  job.pixels = reuse(spare_pixels_);
  job.pixels.resize(static_cast<std::size_t>(block_px_) * block_px_);
  if (fill_nan) std::fill(job.pixels.begin(), job.pixels.end(), kNaN);
  return job;
}

void CogWriter::do_write(const Tile& tile) {
  const PixelWindow& w = tile.window();
  for (auto& stream : streams_) {
    const cv::Mat& values = tile.layer(stream->layer);
    const Stream::Level& full = stream->levels.front();
    for (int by = w.row / block_px_; by <= (w.row + w.height - 1) / block_px_; ++by) {
      for (int bx = w.col / block_px_; bx <= (w.col + w.width - 1) / block_px_; ++bx) {
        const int col = std::max(w.col, bx * block_px_), row = std::max(w.row, by * block_px_);
        const int col_end = std::min({w.col + w.width, (bx + 1) * block_px_, full.width});
        const int row_end = std::min({w.row + w.height, (by + 1) * block_px_, full.height});
        add_piece(*stream, 0, by * full.across + bx, values.ptr<float>(row - w.row) + (col - w.col),
                  static_cast<int>(values.step1()), col, row, col_end - col, row_end - row);
      }
    }
  }
  if (batch_.size() >= batch_limit_) run_batch();
}

void CogWriter::run_batch() {
  const int half = block_px_ / 2;
  while (!batch_.empty()) {
    std::vector<Job> jobs = std::move(batch_);
    batch_.clear();
    for (Job& job : jobs) {
      if (codec_->tiff_code != 1) job.encoded = reuse(spare_bytes_);
      if (static_cast<std::size_t>(job.level + 1) < job.stream->levels.size()) {
        job.half = reuse(spare_halves_);
      }
    }
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, jobs.size(), 1),
                      [&](const tbb::blocked_range<std::size_t>& range) {
                        for (std::size_t i = range.begin(); i != range.end(); ++i) {
                          Job& job = jobs[i];
                          if (codec_->tiff_code != 1)
                            codec_->encode(job.pixels.data(), block_px_, job.encoded);
                          if (static_cast<std::size_t>(job.level + 1) < job.stream->levels.size()) {
                            job.half.resize(static_cast<std::size_t>(half) * half);
                            cog::average_2x2(job.pixels.data(), block_px_, job.half.data(), half);
                          }
                        }
                      });
    // In order: each store may complete a block one level up, which joins the next batch.
    for (Job& job : jobs) store(job);
    if (batch_.size() < batch_limit_) return;
  }
}

void CogWriter::store(Job& job) {
  Stream& stream = *job.stream;
  Stream::Level& l = stream.levels[static_cast<std::size_t>(job.level)];
  const auto block = static_cast<std::size_t>(job.block);
  if (codec_->tiff_code == 1) {
    stream.out.write_tile(l.where[block], reinterpret_cast<const std::uint8_t*>(job.pixels.data()),
                          job.pixels.size() * sizeof(float));
  } else {
    stream.scratch.write_tile(stream.scratch_end + 4, job.encoded.data(), job.encoded.size());
    l.where[block] = stream.scratch_end + 4;
    l.bytes[block] = job.encoded.size();
    stream.scratch_end += job.encoded.size() + 8;
  }
  ++l.done;
  if (!job.half.empty()) {
    // The 2x2 average is the quarter of the block above that this block covers.
    const Stream::Level& up = stream.levels[static_cast<std::size_t>(job.level) + 1];
    const int half = block_px_ / 2;
    const int bx = job.block % l.across, by = job.block / l.across;
    const int col = bx * half, row = by * half;
    add_piece(stream, job.level + 1, (by / 2) * up.across + bx / 2, job.half.data(), half, col, row,
              std::min(half, up.width - col), std::min(half, up.height - row));
  }
  spare_pixels_.push_back(std::move(job.pixels));
  if (job.encoded.capacity() > 0) spare_bytes_.push_back(std::move(job.encoded));
  if (job.half.capacity() > 0) spare_halves_.push_back(std::move(job.half));
}

void CogWriter::do_finish() {
  // The last blocks (and the overview blocks they complete) in parallel: in the caller's arena
  // when there is one (a batch of fields), isolated from its other work; else in one of our own.
  const auto drain = [&] {
    batch_limit_ = std::numeric_limits<std::size_t>::max();
    while (!batch_.empty()) run_batch();
  };
  if (tbb::this_task_arena::current_thread_index() != tbb::task_arena::not_initialized) {
    tbb::this_task_arena::isolate(drain);
  } else {
    tbb::task_arena arena(threads_);
    arena.execute(drain);
  }
  spare_pixels_.clear(), spare_bytes_.clear(), spare_halves_.clear();
  for (auto& stream : streams_) {
    for (std::size_t i = 0; i < stream->levels.size(); ++i) {
      const Stream::Level& l = stream->levels[i];
      if (l.done != static_cast<long long>(l.where.size()) || !l.pending.empty()) {
        throw StageError(stream->final_file->final_path() + ": level " + std::to_string(i) +
                         " received " + std::to_string(l.done) + " of " +
                         std::to_string(l.where.size()) +
                         " blocks (the tiles did not cover the raster)");
      }
    }
    cog::CogHeaderSpec spec = stream->header_spec(*codec_, block_px_);
    if (codec_->tiff_code == 1) {
      for (std::size_t i = 0; i < spec.levels.size(); ++i)
        spec.levels[i].offsets = stream->levels[i].where;
      const std::vector<std::uint8_t> header = cog::cog_header(spec);
      if (header.size() != stream->header_size)
        throw std::logic_error("writers.cog: the COG header changed size");
      stream->out.write_at(0, header.data(), header.size());
    } else {
      // Tiles now have sizes: place them, then copy each from the scratch file in COG order.
      std::uint64_t end = cog::place_tiles(spec.levels, cog::cog_header(spec).size());
      if (end > cog::kClassicTiffLimit && !spec.bigtiff) {
        spec.bigtiff = true;
        end = cog::place_tiles(spec.levels, cog::cog_header(spec).size());
      }
      const std::vector<std::uint8_t> header = cog::cog_header(spec);
      stream->out.write_at(0, header.data(), header.size());
      // Runs of tiles that are adjacent in both files go in one copy.
      std::uint64_t run_from = 0, run_to = 0, run_size = 0;
      for (std::size_t i = spec.levels.size(); i-- > 0;) {
        const Stream::Level& l = stream->levels[i];
        for (std::size_t b = 0; b < l.where.size(); ++b) {
          const std::uint64_t from = l.where[b] - 4, to = spec.levels[i].offsets[b] - 4,
                              size = l.bytes[b] + 8;
          if (run_size > 0 && run_from + run_size == from && run_to + run_size == to) {
            run_size += size;
            continue;
          }
          if (run_size > 0) stream->out.copy_from(stream->scratch, run_from, run_to, run_size);
          run_from = from, run_to = to, run_size = size;
        }
      }
      if (run_size > 0) stream->out.copy_from(stream->scratch, run_from, run_to, run_size);
      stream->scratch.close();
      stream->scratch_file->discard();
    }
    stream->out.close();
    stream->final_file->commit();
    written_.push_back(stream->final_file->final_path());
  }
}

void CogWriter::do_abort() noexcept {
  batch_.clear();
  for (auto& stream : streams_) {
    stream->out = File();
    stream->scratch = File();
    stream->final_file->discard();
    if (stream->scratch_file) stream->scratch_file->discard();
  }
}

}  // namespace fieldrx
