// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/cog_tiff.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace fieldrx::cog {
namespace {

constexpr std::uint16_t kShort = 3, kLong = 4, kLong8 = 16;

std::size_t type_size(std::uint16_t type) {
  switch (type) {
    case 1:
    case 2:
    case 6:
    case 7:
      return 1;  // BYTE ASCII SBYTE UNDEFINED
    case 3:
    case 8:
      return 2;  // SHORT SSHORT
    case 4:
    case 9:
    case 11:
    case 13:
      return 4;  // LONG SLONG FLOAT IFD
    case 5:
    case 10:
    case 12:
    case 16:
    case 17:
    case 18:
      return 8;  // RATIONAL DOUBLE LONG8 ...
    default:
      throw std::runtime_error("TIFF field type " + std::to_string(type) + " is unknown");
  }
}

template <typename T>
void put_le(std::vector<std::uint8_t>& out, std::size_t at, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[at + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
}
template <typename T>
T get_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return static_cast<T>(v);
}

TiffTag scalar_tag(std::uint16_t tag, std::uint16_t type, std::uint64_t value) {
  TiffTag t{tag, type, 1, std::vector<std::uint8_t>(type_size(type))};
  if (type == kShort)
    put_le<std::uint16_t>(t.value, 0, static_cast<std::uint16_t>(value));
  else if (type == kLong)
    put_le<std::uint32_t>(t.value, 0, static_cast<std::uint32_t>(value));
  else
    put_le<std::uint64_t>(t.value, 0, value);
  return t;
}

TiffTag array_tag(std::uint16_t tag, bool bigtiff, const std::vector<std::uint64_t>& values) {
  TiffTag t{tag, bigtiff ? kLong8 : kLong, values.size(), {}};
  t.value.resize(values.size() * type_size(t.type));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (bigtiff)
      put_le<std::uint64_t>(t.value, 8 * i, values[i]);
    else
      put_le<std::uint32_t>(t.value, 4 * i, static_cast<std::uint32_t>(values[i]));
  }
  return t;
}

// The structural tags of one level, plus `extra`, sorted by tag as TIFF requires.
std::vector<TiffTag> level_tags(const CogHeaderSpec& spec, std::size_t level) {
  const CogLevel& l = spec.levels[level];
  const auto dimension = [](std::uint16_t tag, int v) {
    return scalar_tag(tag, v <= 65535 ? kShort : kLong, static_cast<std::uint64_t>(v));
  };
  std::vector<TiffTag> tags;
  if (level > 0)
    tags.push_back(scalar_tag(254, kLong, 1));  // NewSubfileType: reduced-resolution image
  tags.push_back(dimension(256, l.width));
  tags.push_back(dimension(257, l.height));
  tags.push_back(scalar_tag(258, kShort, 32));                // BitsPerSample
  tags.push_back(scalar_tag(259, kShort, spec.compression));  // Compression
  tags.push_back(scalar_tag(262, kShort, 1));  // PhotometricInterpretation: min is black
  tags.push_back(scalar_tag(277, kShort, 1));  // SamplesPerPixel
  tags.push_back(scalar_tag(284, kShort, 1));  // PlanarConfiguration: contiguous
  if (spec.predictor) tags.push_back(scalar_tag(317, kShort, 3));  // Predictor: floating point
  tags.push_back(scalar_tag(322, kShort, static_cast<std::uint64_t>(spec.block)));  // TileWidth
  tags.push_back(scalar_tag(323, kShort, static_cast<std::uint64_t>(spec.block)));  // TileLength
  // TileOffsets: zeros while the tiles are not placed yet (same size either way).
  tags.push_back(array_tag(324, spec.bigtiff,
                           l.offsets.size() == l.byte_counts.size()
                               ? l.offsets
                               : std::vector<std::uint64_t>(l.byte_counts.size())));
  tags.push_back(array_tag(325, spec.bigtiff, l.byte_counts));  // TileByteCounts
  tags.push_back(scalar_tag(339, kShort, 3));                   // SampleFormat: IEEE float
  const auto& extra = level == 0 ? spec.main_tags : spec.overview_tags;
  for (const TiffTag& t : extra) {
    const bool ours =
        std::any_of(tags.begin(), tags.end(), [&](const TiffTag& o) { return o.tag == t.tag; });
    if (!ours) tags.push_back(t);
  }
  std::sort(tags.begin(), tags.end(),
            [](const TiffTag& a, const TiffTag& b) { return a.tag < b.tag; });
  return tags;
}

// GDAL's structural metadata, byte for byte as its COG driver writes it: GDAL readers find it
// right after the header and then trust the layout (and report LAYOUT=COG).
const std::string& ghost_area() {
  static const std::string text = [] {
    const std::string body =
        "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
        "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ";
    char head[64];
    std::snprintf(head, sizeof head, "GDAL_STRUCTURAL_METADATA_SIZE=%06zu bytes\n", body.size());
    return std::string(head) + body;
  }();
  return text;
}

}  // namespace

void average_2x2(const float* src, int size, float* dst, int dst_stride) {
  const int half = size / 2;
  for (int r = 0; r < half; ++r) {
    const float* top = src + static_cast<std::ptrdiff_t>(2 * r) * size;
    const float* bottom = top + size;
    float* out = dst + static_cast<std::ptrdiff_t>(r) * dst_stride;
    for (int c = 0; c < half; ++c) {
      const float a = top[2 * c], b = top[2 * c + 1], d = bottom[2 * c], e = bottom[2 * c + 1];
      double upper = 0, lower = 0;
      int n = 0;
      if (!std::isnan(a)) upper += a, ++n;
      if (!std::isnan(b)) upper += b, ++n;
      if (!std::isnan(d)) lower += d, ++n;
      if (!std::isnan(e)) lower += e, ++n;
      out[c] =
          n > 0 ? static_cast<float>((upper + lower) / n) : std::numeric_limits<float>::quiet_NaN();
    }
  }
}

void float_predictor_row(const float* row, int n, std::uint8_t* out) {
  // Regroup into a local buffer, then difference into out: two passes the compiler vectorizes
  // (an in-place backward difference does not).
  constexpr int kMaxRow = 4 * 4096;
  std::uint8_t grouped[kMaxRow + 1];
  if (n > 4096) throw std::invalid_argument("float_predictor_row: rows of up to 4096 samples");
  std::uint8_t* const g = grouped + 1;
  grouped[0] = 0;  // so that g[-1] - 0 leaves the first byte as it is
  for (int i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, row + i, sizeof bits);
    g[i] = static_cast<std::uint8_t>(bits >> 24);
    g[n + i] = static_cast<std::uint8_t>(bits >> 16);
    g[2 * n + i] = static_cast<std::uint8_t>(bits >> 8);
    g[3 * n + i] = static_cast<std::uint8_t>(bits);
  }
  for (int i = 0; i < 4 * n; ++i) out[i] = static_cast<std::uint8_t>(g[i] - g[i - 1]);
}

void lzw_encode(const std::uint8_t* data, std::size_t size, std::vector<std::uint8_t>& out) {
  constexpr int kClear = 256, kEnd = 257, kFirst = 258, kLastCode = 4095, kMinBits = 9;
  // String table as an open-addressing hash of (prefix code << 8 | next byte) -> code; a slot
  // is live only when its stamp equals the current table generation (a clear is O(1)).
  constexpr std::size_t kSlots = 1 << 13;
  struct Slot {
    std::uint32_t key = 0, stamp = 0;
    std::uint16_t code = 0;
  };
  std::vector<Slot> table(kSlots);
  std::uint32_t generation = 1;
  out.clear();
  out.reserve(size / 2 + 16);
  std::uint64_t bits = 0;
  int pending = 0, width = kMinBits, next_code = kFirst, max_code = (1 << kMinBits) - 1;
  const auto put = [&](int code) {
    bits = (bits << width) | static_cast<std::uint64_t>(code);
    pending += width;
    while (pending >= 8) {
      out.push_back(static_cast<std::uint8_t>(bits >> (pending - 8)));
      pending -= 8;
    }
  };
  // After a code was added: widen the codes, or clear the table when it is full (as libtiff).
  const auto grow = [&] {
    if (next_code == kLastCode - 1) {
      put(kClear);
      ++generation;
      next_code = kFirst;
      width = kMinBits;
      max_code = (1 << kMinBits) - 1;
    } else if (next_code > max_code) {
      ++width;
      max_code = (1 << width) - 1;
    }
  };
  put(kClear);
  if (size > 0) {
    int prefix = data[0];
    for (std::size_t i = 1; i < size; ++i) {
      const std::uint32_t key =
          (static_cast<std::uint32_t>(prefix) << 8 | data[i]) + 1;  // 0 never used
      std::size_t slot = (key * 2654435761u) >> (32 - 13);
      while (table[slot].stamp == generation && table[slot].key != key)
        slot = (slot + 1) & (kSlots - 1);
      if (table[slot].stamp == generation) {
        prefix = table[slot].code;
        continue;
      }
      put(prefix);
      prefix = data[i];
      table[slot] = {key, generation, static_cast<std::uint16_t>(next_code++)};
      grow();
    }
    put(prefix);
    ++next_code;
    grow();
  }
  put(kEnd);
  if (pending > 0) out.push_back(static_cast<std::uint8_t>(bits << (8 - pending)));
}

std::vector<TiffTag> read_first_ifd(const std::uint8_t* file, std::size_t size) {
  if (size < 8 || file[0] != 'I' || file[1] != 'I' || get_le<std::uint16_t>(file + 2) != 42) {
    throw std::runtime_error("not a classic little-endian TIFF");
  }
  const std::uint64_t ifd = get_le<std::uint32_t>(file + 4);
  if (ifd + 2 > size) throw std::runtime_error("TIFF IFD offset beyond the end of the file");
  const std::size_t count = get_le<std::uint16_t>(file + ifd);
  if (ifd + 2 + 12 * count > size)
    throw std::runtime_error("TIFF IFD runs past the end of the file");
  std::vector<TiffTag> tags;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* e = file + ifd + 2 + 12 * i;
    TiffTag t{
        get_le<std::uint16_t>(e), get_le<std::uint16_t>(e + 2), get_le<std::uint32_t>(e + 4), {}};
    const std::uint64_t bytes = t.count * type_size(t.type);
    const std::uint64_t at =
        bytes <= 4 ? static_cast<std::uint64_t>(e + 8 - file) : get_le<std::uint32_t>(e + 8);
    if (at + bytes > size)
      throw std::runtime_error("TIFF tag " + std::to_string(t.tag) +
                               " runs past the end of the file");
    t.value.assign(file + at, file + at + bytes);
    tags.push_back(std::move(t));
  }
  return tags;
}

std::vector<std::uint8_t> cog_header(const CogHeaderSpec& spec) {
  const bool big = spec.bigtiff;
  const std::size_t inline_bytes = big ? 8 : 4, entry_bytes = big ? 20 : 12;
  std::vector<std::uint8_t> out(big ? 16 : 8);
  out[0] = out[1] = 'I';
  put_le<std::uint16_t>(out, 2, big ? 43 : 42);
  if (big) put_le<std::uint16_t>(out, 4, 8);  // offset size; then 2 zero bytes
  const std::string& ghost = ghost_area();
  out.insert(out.end(), ghost.begin(), ghost.end());
  std::size_t next_pointer = big ? 8 : 4;  // where the offset of the next IFD goes
  for (std::size_t level = 0; level < spec.levels.size(); ++level) {
    if (out.size() % 2) out.push_back(0);  // IFDs and values start on a word boundary
    if (big)
      put_le<std::uint64_t>(out, next_pointer, out.size());
    else
      put_le<std::uint32_t>(out, next_pointer, static_cast<std::uint32_t>(out.size()));
    const std::vector<TiffTag> tags = level_tags(spec, level);
    const std::size_t ifd = out.size();
    const std::size_t ifd_bytes = (big ? 8 : 2) + tags.size() * entry_bytes + (big ? 8 : 4);
    out.resize(ifd + ifd_bytes, 0);
    if (big)
      put_le<std::uint64_t>(out, ifd, tags.size());
    else
      put_le<std::uint16_t>(out, ifd, static_cast<std::uint16_t>(tags.size()));
    std::size_t entry = ifd + (big ? 8 : 2);
    for (const TiffTag& t : tags) {
      put_le<std::uint16_t>(out, entry, t.tag);
      put_le<std::uint16_t>(out, entry + 2, t.type);
      if (big)
        put_le<std::uint64_t>(out, entry + 4, t.count);
      else
        put_le<std::uint32_t>(out, entry + 4, static_cast<std::uint32_t>(t.count));
      const std::size_t field = entry + (big ? 12 : 8);
      if (t.value.size() <= inline_bytes) {
        std::copy(t.value.begin(), t.value.end(), out.begin() + static_cast<std::ptrdiff_t>(field));
      } else {
        if (out.size() % 2) out.push_back(0);
        if (big)
          put_le<std::uint64_t>(out, field, out.size());
        else
          put_le<std::uint32_t>(out, field, static_cast<std::uint32_t>(out.size()));
        out.insert(out.end(), t.value.begin(), t.value.end());
      }
      entry += entry_bytes;
    }
    next_pointer = entry;  // stays 0 for the last IFD
  }
  return out;
}

std::uint64_t place_tiles(std::vector<CogLevel>& levels, std::uint64_t header_size) {
  std::uint64_t at = header_size;
  for (auto level = levels.rbegin(); level != levels.rend(); ++level) {
    level->offsets.resize(level->byte_counts.size());
    for (std::size_t i = 0; i < level->byte_counts.size(); ++i) {
      at += 4;  // leader: the tile's byte count
      level->offsets[i] = at;
      at += level->byte_counts[i] + 4;  // the tile, then its last 4 bytes again
    }
  }
  return at;
}

}  // namespace fieldrx::cog
