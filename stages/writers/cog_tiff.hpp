// SPDX-License-Identifier: Apache-2.0
#pragma once
// The byte-level kernels of writers.cog: pure functions, no GDAL, no files, no threads.
//  - average_2x2: the NaN-aware 2x2 mean that makes each overview level from the one below;
//  - float_predictor_row and lzw_encode: TIFF's floating-point predictor (Predictor = 3) and
//    LZW (Compression = 5) exactly as libtiff writes them, so every TIFF reader decodes them;
//  - cog_header: the header and IFDs of a Cloud Optimized GeoTIFF, laid out as GDAL's COG
//    driver does (a "ghost" structural-metadata area, every IFD before any pixel data, then the
//    tiles of the smallest overview first and of the full resolution last, each tile with a
//    4-byte size leader and its last 4 bytes repeated), so GDAL reports LAYOUT=COG.
// Sources: TIFF 6.0 (Adobe, 1992) sections 2 (structure), 13 (LZW), 15 (tiles); Adobe
// Photoshop TIFF Technical Note 3 (floating-point predictor); BigTIFF (libtiff.org/bigtiff);
// GDAL COG layout: https://gdal.org/drivers/raster/cog.html#file-format-details
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fieldrx::cog {

// dst(r, c) = mean of the non-NaN values among src rows 2r..2r+1, cols 2c..2c+1, NaN when all
// four are NaN. Summed as GDAL's AVERAGE resampling sums a factor-2 window with a nodata mask,
// ((a + b) + (c + d)) in double divided by the count, so for even sizes the result is the same
// float. src: size x size floats (size even, row stride size); dst: size/2 rows of size/2
// floats, row stride dst_stride.
void average_2x2(const float* src, int size, float* dst, int dst_stride);

// One row of n Float32 samples through TIFF's floating-point predictor: the bytes of the row
// regrouped most significant byte first (all first bytes, then all second bytes, ...), then each
// byte minus the one before it. out receives 4 n bytes; n <= 4096.
void float_predictor_row(const float* row, int n, std::uint8_t* out);

// TIFF LZW of `size` bytes (9- to 12-bit codes, MSB first, the early code-width change TIFF
// readers expect, a clear code when the table is full). Replaces the contents of out.
void lzw_encode(const std::uint8_t* data, std::size_t size, std::vector<std::uint8_t>& out);

// One IFD entry: tag, TIFF field type, value count and the values' little-endian bytes.
struct TiffTag {
  std::uint16_t tag = 0;
  std::uint16_t type = 0;
  std::uint64_t count = 0;
  std::vector<std::uint8_t> value;
};
// The entries of the first IFD of a classic little-endian TIFF in memory (to reuse the GeoTIFF
// and GDAL tags of a file GDAL wrote). Throws std::runtime_error on anything else.
std::vector<TiffTag> read_first_ifd(const std::uint8_t* file, std::size_t size);

// One resolution of a COG: its size and, per tile in row-major order, the offset of the tile's
// first byte in the file and its byte count.
struct CogLevel {
  int width = 0, height = 0;
  std::vector<std::uint64_t> offsets, byte_counts;
};
struct CogHeaderSpec {
  int block = 512;                // tile edge, px (multiple of 16)
  std::uint16_t compression = 1;  // TIFF code: 1 none, 5 LZW, 8 deflate, 50000 ZSTD
  bool predictor = false;         // Predictor = 3 (floating point)
  bool bigtiff = false;
  std::vector<CogLevel> levels;        // [0] full resolution, then overviews, largest first
  std::vector<TiffTag> main_tags;      // extra tags of the full-resolution IFD (GeoTIFF, GDAL)
  std::vector<TiffTag> overview_tags;  // extra tags of each overview IFD (GDAL_NODATA)
};
// Header + structural metadata + every IFD with its values. Its size depends on the spec's
// counts, never on the offset values, so it can be sized before the tiles are placed.
std::vector<std::uint8_t> cog_header(const CogHeaderSpec& spec);
// Tiles per level for a size and tile edge.
inline int tiles_across(int pixels, int block) {
  return (pixels + block - 1) / block;
}
// Places the tiles after a header of `header_size` bytes: smallest overview first, full
// resolution last, row-major within a level, each tile behind its 4-byte leader and followed by
// its 4-byte trailer. Fills every level's offsets from its byte_counts; returns the file size.
std::uint64_t place_tiles(std::vector<CogLevel>& levels, std::uint64_t header_size);
// Largest file offset a classic (32-bit) TIFF can address.
constexpr std::uint64_t kClassicTiffLimit = 0xFFFFFFFFull;

}  // namespace fieldrx::cog
