// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/orthomosaic_reader.hpp"

#include <gdal_utils.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <type_traits>

#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "stages/filters/index_kernels.hpp"
#include "stages/readers/capture_metadata.hpp"

namespace fieldrx {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Digital numbers -> reflectance: nodata, non-finite values and masked pixels (mask 0) -> NaN,
// else value * scale + offset in float (the same arithmetic as on GDAL's Float32 copy: Byte,
// UInt16 and Int16 convert to float exactly). NaN is selected with a bit mask: GCC 12 does not
// vectorise a loop with `missing ? kNaN : value` (control flow), it does this one.
template <typename T, bool kMasked>
void to_reflectance_loop(const T* raw, const unsigned char* mask, float nodata, float scale, float offset,
                         float* out, std::size_t n) {
  const std::uint32_t nan_bits = std::bit_cast<std::uint32_t>(kNaN);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(raw[i]);
    bool missing = v == nodata;
    if constexpr (std::is_floating_point_v<T>) missing |= !(std::abs(v) <= std::numeric_limits<float>::max());
    if constexpr (kMasked) missing |= mask[i] == 0;
    const std::uint32_t select_nan = 0u - static_cast<std::uint32_t>(missing);
    const std::uint32_t value = std::bit_cast<std::uint32_t>(v * scale + offset);
    out[i] = std::bit_cast<float>((value & ~select_nan) | (nan_bits & select_nan));
  }
}

template <typename T>
void to_reflectance(const T* raw, const unsigned char* mask, float nodata, float scale, float offset, float* out,
                    std::size_t n) {
  if (mask != nullptr) {
    to_reflectance_loop<T, true>(raw, mask, nodata, scale, offset, out, n);
  } else {
    to_reflectance_loop<T, false>(raw, mask, nodata, scale, offset, out, n);
  }
}

std::string lower_alnum(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

bool same_grid(GDALDataset& a, GDALDataset& b) {
  if (a.GetRasterXSize() != b.GetRasterXSize() || a.GetRasterYSize() != b.GetRasterYSize()) return false;
  double ga[6], gb[6];
  if (a.GetGeoTransform(ga) != CE_None || b.GetGeoTransform(gb) != CE_None) return true;  // pixel grids
  for (int i = 0; i < 6; ++i) {
    const double tolerance = 1e-9 * std::max({1.0, std::abs(ga[i]), std::abs(gb[i])});
    if (std::abs(ga[i] - gb[i]) > tolerance) return false;
  }
  const OGRSpatialReference* sa = a.GetSpatialRef();
  const OGRSpatialReference* sb = b.GetSpatialRef();
  if (sa == nullptr || sb == nullptr) return sa == sb;
  return sa->IsSame(sb);
}

// A /vsimem/ VRT that warps `source` onto the grid of `reference`.
std::string warp_onto(const std::string& source, GDALDataset& reference, const std::string& resampling) {
  static std::atomic<int> counter{0};
  const std::string vrt = "/vsimem/fieldrx-onto-grid-" + std::to_string(counter++) + ".vrt";
  double gt[6];
  if (reference.GetGeoTransform(gt) != CE_None || gt[2] != 0 || gt[4] != 0) {
    throw StageError(source + ": lies on another grid than the first file, and the first file has no "
                     "north-up georeference to resample onto; give files on one grid");
  }
  const int w = reference.GetRasterXSize(), h = reference.GetRasterYSize();
  const double xmin = gt[0], xmax = gt[0] + w * gt[1];
  const double ymax = gt[3], ymin = gt[3] + h * gt[5];
  char* wkt = nullptr;
  const OGRSpatialReference* srs = reference.GetSpatialRef();
  std::string target_srs;
  if (srs) {
    srs->exportToWkt(&wkt);
    target_srs = wkt;
    CPLFree(wkt);
  }
  std::vector<std::string> args = {"-of", "VRT", "-r", resampling,
                                   "-te", std::to_string(std::min(xmin, xmax)), std::to_string(std::min(ymin, ymax)),
                                   std::to_string(std::max(xmin, xmax)), std::to_string(std::max(ymin, ymax)),
                                   "-ts", std::to_string(w), std::to_string(h)};
  if (!target_srs.empty()) {
    args.push_back("-t_srs");
    args.push_back(target_srs);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  GDALWarpAppOptions* options = GDALWarpAppOptionsNew(argv.data(), nullptr);
  DatasetPtr src = open_raster(source);
  GDALDatasetH handle = src.get();
  int usage_error = 0;
  CPLErrorReset();
  GDALDatasetH warped = GDALWarp(vrt.c_str(), nullptr, 1, &handle, options, &usage_error);
  GDALWarpAppOptionsFree(options);
  if (warped == nullptr) throw IoError(source + ": cannot resample onto the first file's grid: " + last_gdal_error());
  GDALClose(warped);
  return vrt;
}

}  // namespace

OrthomosaicReader::OrthomosaicReader()
    : Reader({"readers.orthomosaic",
              "orthomosaic GeoTIFF(s) -> reflectance band layers by role (nodata, alpha, masks -> NaN)",
              "https://gdal.org/drivers/raster/gtiff.html"}) {}

StringList OrthomosaicReader::known_roles() {
  StringList roles;
  for (BandRole role : kAllBandRoles) roles.emplace_back(band_role_name(role));
  for (const auto& index : index_catalog()) roles.emplace_back(index.name);
  // The RedEdge-MX Dual's second band of each colour (see roles_from_descriptions).
  for (const char* role : {"blue_444", "green_531", "red_650", "red_edge_705", "red_edge_740"}) {
    roles.emplace_back(role);
  }
  roles.emplace_back("skip");
  roles.emplace_back("alpha");
  return roles;
}

namespace {

struct DescribedRole {
  std::string role;       // plain role, index name, skip or alpha; "" when unknown
  int wavelength_nm = 0;  // from the description, 0 when it names none
};

DescribedRole parse_description(const std::string& description) {
  static const std::map<std::string, std::string> aliases = {
      {"blue", "blue"}, {"b", "blue"}, {"green", "green"}, {"g", "green"}, {"red", "red"},
      {"r", "red"}, {"rededge", "red_edge"}, {"re", "red_edge"}, {"edge", "red_edge"},
      {"nir", "nir"}, {"nearinfrared", "nir"}, {"nearir", "nir"}, {"alpha", "alpha"},
      {"lwircelsius", "skip"}};
  std::string key = lower_alnum(description);
  // "nir_842nm", "Red 668", "Blue-444" -> the name and a trailing wavelength.
  auto take_digits = [&key] {
    std::string digits;
    while (!key.empty() && std::isdigit(static_cast<unsigned char>(key.back()))) {
      digits.insert(digits.begin(), key.back());
      key.pop_back();
    }
    return digits;
  };
  std::string digits = take_digits();
  if (digits.empty() && key.size() > 2 && key.substr(key.size() - 2) == "nm") {
    key.resize(key.size() - 2);
    digits = take_digits();
  }
  DescribedRole out;
  if (digits.size() <= 5) out.wavelength_nm = digits.empty() ? 0 : std::stoi(digits);
  if (auto it = aliases.find(key); it != aliases.end()) {
    out.role = it->second;
  } else if (find_index(key) != nullptr) {
    out.role = key;
  }
  return out;
}

// Reference wavelength of each plain role: the MicaSense RedEdge-MX set, whose Dual adds a
// second band of every colour.
int reference_wavelength_nm(const std::string& role) {
  static const std::map<std::string, int> reference = {
      {"blue", 475}, {"green", 560}, {"red", 668}, {"red_edge", 717}, {"nir", 842}};
  const auto it = reference.find(role);
  return it == reference.end() ? 0 : it->second;
}

}  // namespace

std::string OrthomosaicReader::role_from_description(const std::string& description) {
  return parse_description(description).role;
}

StringList OrthomosaicReader::roles_from_descriptions(const StringList& descriptions) {
  std::vector<DescribedRole> parsed;
  for (const auto& d : descriptions) parsed.push_back(parse_description(d));
  StringList roles(descriptions.size());
  std::map<std::string, std::vector<std::size_t>> by_role;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (!parsed[i].role.empty()) by_role[parsed[i].role].push_back(i);
  }
  for (const auto& [role, bands] : by_role) {
    if (bands.size() == 1 || role == "skip") {
      for (std::size_t i : bands) roles[i] = role;
      continue;
    }
    auto describe = [&](std::size_t i) { return "band " + std::to_string(i + 1) + " '" + descriptions[i] + "'"; };
    const int reference = reference_wavelength_nm(role);
    if (reference == 0) {
      throw ConfigError(describe(bands[0]) + " and " + describe(bands[1]) + " both give '" + role +
                        "'; name every band with --bands (option 'bands')");
    }
    // The band nearest the reference wavelength keeps the plain role (no wavelength: nearest).
    auto distance = [&](std::size_t i) {
      return parsed[i].wavelength_nm == 0 ? 0 : std::abs(parsed[i].wavelength_nm - reference);
    };
    std::size_t plain = bands[0];
    for (std::size_t i : bands) plain = distance(i) < distance(plain) ? i : plain;
    std::map<std::string, std::size_t> taken;
    for (std::size_t i : bands) {
      if (i != plain && distance(i) == distance(plain)) {
        throw ConfigError(describe(plain) + " and " + describe(i) + " are both '" + role + "' at " +
                          std::to_string(distance(i)) + " nm from its " + std::to_string(reference) +
                          " nm reference; name every band with --bands (option 'bands')");
      }
      roles[i] = i == plain ? role : role + "_" + std::to_string(parsed[i].wavelength_nm);
      if (auto [at, fresh] = taken.emplace(roles[i], i); !fresh) {
        throw ConfigError(describe(at->second) + " and " + describe(i) + " both give '" + roles[i] +
                          "'; name every band with --bands (option 'bands')");
      }
    }
  }
  return roles;
}

void OrthomosaicReader::declare_options(OptionSet& options) {
  options.add("files", files_, "one multi-band GeoTIFF, or one single-band GeoTIFF per band", StringList{})
      .required();
  options.add("bands", band_roles_,
              "role of each band in file and band order (skip/alpha allowed); default: the band descriptions",
              StringList{})
      .choices(known_roles());
  options.add("nodata", nodata_, "value that marks missing pixels (default: the file's nodata)",
              std::numeric_limits<double>::quiet_NaN())
      .unit("DN");
  options.add("scale", scale_,
              "reflectance per digital number, e.g. 1/65535 or 1/10000 (default: the file's scale, else 1)",
              std::numeric_limits<double>::quiet_NaN())
      .unit("1/DN")
      .range(1e-12, 1e12);
  options.add("offset", offset_, "reflectance added after scaling", 0.0).range(-1e12, 1e12);
  options.add("resampling", resampling_, "resampling of files on another grid than the first", "bilinear")
      .choices({"nearest", "bilinear", "cubic", "average"});
}

RasterLayout OrthomosaicReader::do_open() {
  std::vector<DatasetPtr> datasets;
  std::size_t total_bands = 0;
  for (const auto& file : files_) {
    datasets.push_back(open_raster(file));
    total_bands += static_cast<std::size_t>(datasets.back()->GetRasterCount());
  }
  GDALDataset& first = *datasets.front();

  // Band roles: given, or from the band descriptions (colour interpretation only for plain
  // RGB(A) files: multispectral exports often carry wrong colour tags).
  StringList roles = band_roles_;
  if (!roles.empty() && roles.size() != total_bands) {
    throw ConfigError("option 'bands' names " + std::to_string(roles.size()) + " roles, but the " +
                      std::to_string(files_.size()) + " file(s) have " + std::to_string(total_bands) +
                      " bands; give one role per band (use 'skip' for bands to ignore)");
  }
  if (roles.empty()) {
    // Descriptions of all files at once, so duplicate colours resolve the same in any order.
    StringList descriptions;
    for (const auto& ds : datasets) {
      for (int b = 1; b <= ds->GetRasterCount(); ++b) descriptions.emplace_back(ds->GetRasterBand(b)->GetDescription());
    }
    const StringList described = roles_from_descriptions(descriptions);
    std::size_t at = 0;
    for (std::size_t f = 0; f < datasets.size(); ++f) {
      GDALDataset& ds = *datasets[f];
      const int count = ds.GetRasterCount();
      StringList colour;
      for (int b = 1; b <= count; ++b) {
        switch (ds.GetRasterBand(b)->GetColorInterpretation()) {
          case GCI_RedBand: colour.push_back("red"); break;
          case GCI_GreenBand: colour.push_back("green"); break;
          case GCI_BlueBand: colour.push_back("blue"); break;
          case GCI_AlphaBand: colour.push_back("alpha"); break;
          default: colour.push_back("");
        }
      }
      const bool plain_rgb = (count == 3 || (count == 4 && colour[3] == "alpha")) &&
                             colour[0] == "red" && colour[1] == "green" && colour[2] == "blue";
      for (int b = 1; b <= count; ++b, ++at) {
        std::string role = described[at];
        if (role.empty() && (plain_rgb || colour[static_cast<std::size_t>(b - 1)] == "alpha")) {
          role = colour[static_cast<std::size_t>(b - 1)];
        }
        if (role.empty()) {
          throw ConfigError(files_[f] + ": band " + std::to_string(b) + " (description '" +
                            ds.GetRasterBand(b)->GetDescription() +
                            "') has no recognisable role; name every band with --bands, e.g. "
                            "--bands blue,green,red,red_edge,nir");
        }
        if (descriptions[at] == kLwirCelsiusBand) {
          log_info(files_[f] + ": band " + std::to_string(b) + " '" + kLwirCelsiusBand +
                   "' is a temperature (degrees C), not reflectance; not read");
        }
        roles.push_back(role);
      }
    }
  }

  RasterLayout layout;
  layout.width = width_ = first.GetRasterXSize();
  layout.height = height_ = first.GetRasterYSize();
  double gt[6] = {0, 1, 0, 0, 0, 1};
  if (first.GetGeoTransform(gt) == CE_None) std::copy(gt, gt + 6, layout.georef.geotransform.begin());
  if (const OGRSpatialReference* srs = first.GetSpatialRef()) {
    char* wkt = nullptr;
    srs->exportToWkt(&wkt);
    layout.georef.crs_wkt = wkt;
    CPLFree(wkt);
  }

  paths_.clear();
  bands_.clear();
  std::size_t role_at = 0;
  bool any_integer = false, file_scale_found = false;
  double file_scale = 1, file_offset = 0;
  for (std::size_t f = 0; f < datasets.size(); ++f) {
    GDALDataset& ds = *datasets[f];
    paths_.push_back(f == 0 || same_grid(first, ds) ? files_[f] : warp_onto(files_[f], first, resampling_));
    const int count = ds.GetRasterCount();
    int alpha_band = 0;
    for (int b = 1; b <= count; ++b) {
      if (roles[role_at + static_cast<std::size_t>(b - 1)] == "alpha") alpha_band = b;
    }
    for (int b = 1; b <= count; ++b, ++role_at) {
      GDALRasterBand* band = ds.GetRasterBand(b);
      SourceBand source;
      source.file = f;
      source.band = b;
      const std::string& role = roles[role_at];
      source.is_alpha = role == "alpha";
      if (role != "skip" && role != "alpha") {
        source.layer = layout.add_layer(role, RasterLayout::LayerKind::band,
                                        files_[f] + " band " + std::to_string(b));
      }
      int has_nodata = 0;
      const double file_nodata = band->GetNoDataValue(&has_nodata);
      if (!std::isnan(nodata_)) {
        source.has_nodata = true;
        source.nodata = nodata_;
      } else if (has_nodata) {
        source.has_nodata = true;
        source.nodata = file_nodata;
      }
      const int flags = band->GetMaskFlags();
      // Alpha given by role, or a per-dataset mask (alpha band, .msk), masks every band;
      // a per-band mask that is not plain nodata is read band by band.
      source.use_mask_band = alpha_band == 0 && !(flags & GMF_ALL_VALID) && !(flags & GMF_NODATA);
      const GDALDataType type = band->GetRasterDataType();
      any_integer = any_integer || GDALDataTypeIsInteger(type);
      int has_scale = 0, has_offset = 0;
      const double s = band->GetScale(&has_scale), o = band->GetOffset(&has_offset);
      if (source.layer >= 0 && has_scale && (s != 1 || (has_offset && o != 0)) && !file_scale_found) {
        file_scale_found = true;
        file_scale = s;
        file_offset = has_offset ? o : 0;
      }
      bands_.push_back(source);
    }
  }
  applied_offset_ = offset_;
  if (!std::isnan(scale_)) {
    applied_scale_ = scale_;
  } else if (file_scale_found) {  // e.g. a UInt16 mosaic tagged with scale 1/65535
    applied_scale_ = file_scale;
    applied_offset_ = file_offset;
  } else {
    applied_scale_ = 1;
  }
  layout.reflectance = !(any_integer && std::isnan(scale_) && !file_scale_found);

  bool any_layer = false;
  for (const auto& source : bands_) any_layer = any_layer || source.layer >= 0;
  if (!any_layer) throw ConfigError("every band is 'skip' or 'alpha'; nothing to read");

  std::string role_list;
  for (const auto& layer : layout.layers()) role_list += (role_list.empty() ? "" : ",") + layer.name;
  summary_ = std::filesystem::path(files_.front()).filename().string() +
             (files_.size() > 1 ? " +" + std::to_string(files_.size() - 1) + " files" : "") + " (" +
             std::to_string(width_) + "x" + std::to_string(height_) + " px, " + role_list + ")";
  return layout;
}

std::string OrthomosaicReader::describe() const { return summary_; }

void OrthomosaicReader::do_read(Tile& tile) const {
  ThreadState& state = thread_state_.local();
  if (state.datasets.empty()) {
    for (const auto& path : paths_) state.datasets.push_back(open_raster(path));
  }
  const PixelWindow& w = tile.window();
  const std::size_t n = static_cast<std::size_t>(w.pixel_count());
  const float scale = static_cast<float>(applied_scale_);
  const float offset = static_cast<float>(applied_offset_);

  for (std::size_t f = 0; f < paths_.size(); ++f) {
    std::vector<int> band_numbers;
    std::vector<const SourceBand*> wanted;
    int alpha_band = 0;
    for (const auto& source : bands_) {
      if (source.file != f) continue;
      if (source.is_alpha) alpha_band = source.band;
      if (source.layer >= 0 && tile.layer_used(source.layer)) {
        band_numbers.push_back(source.band);
        wanted.push_back(&source);
      }
    }
    if (wanted.empty()) continue;
    GDALDataset& ds = *state.datasets[f];
    // The file's own type when all its wanted bands share one that converts to float exactly;
    // else GDAL converts to Float32 while copying blocks.
    GDALDataType type = ds.GetRasterBand(wanted.front()->band)->GetRasterDataType();
    for (const SourceBand* source : wanted) {
      if (ds.GetRasterBand(source->band)->GetRasterDataType() != type) type = GDT_Float32;
    }
    if (type != GDT_Byte && type != GDT_UInt16 && type != GDT_Int16) type = GDT_Float32;
    const std::size_t type_bytes = static_cast<std::size_t>(GDALGetDataTypeSizeBytes(type));
    const std::size_t words = (n * wanted.size() * type_bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);
    if (state.raw.size() < words) state.raw.resize(words);
    // All wanted bands of the file in one call.
    check_gdal(ds.RasterIO(GF_Read, w.col, w.row, w.width, w.height, state.raw.data(), w.width, w.height, type,
                           static_cast<int>(band_numbers.size()), band_numbers.data(), 0, 0, 0, nullptr),
               paths_[f] + ": reading " + w.describe());
    // Masks: an alpha band named by role masks the whole file; otherwise GDAL's mask band
    // (alpha, per-dataset .msk, or per-band) where it is more than plain nodata.
    auto read_mask = [&](GDALRasterBand* mask_band, std::vector<unsigned char>& mask) {
      if (mask.size() < n) mask.resize(n);
      check_gdal(mask_band->RasterIO(GF_Read, w.col, w.row, w.width, w.height, mask.data(), w.width, w.height,
                                     GDT_Byte, 0, 0, nullptr),
                 paths_[f] + ": reading the mask of " + w.describe());
      return mask.data();
    };
    const unsigned char* file_mask = nullptr;
    bool per_band_masks = false;
    if (alpha_band != 0) {
      file_mask = read_mask(ds.GetRasterBand(alpha_band), state.mask);
    } else {
      GDALRasterBand* first_band = ds.GetRasterBand(wanted.front()->band);
      if (wanted.front()->use_mask_band && (first_band->GetMaskFlags() & GMF_PER_DATASET)) {
        file_mask = read_mask(first_band->GetMaskBand(), state.mask);
      } else {
        per_band_masks = true;
      }
    }
    for (std::size_t k = 0; k < wanted.size(); ++k) {
      const SourceBand& source = *wanted[k];
      const unsigned char* mask = file_mask;
      if (per_band_masks && source.use_mask_band) {
        mask = read_mask(ds.GetRasterBand(source.band)->GetMaskBand(), state.band_mask);
      }
      const float nodata = source.has_nodata ? static_cast<float>(source.nodata) : kNaN;
      float* out = tile.layer(source.layer).ptr<float>();
      const auto* raw = reinterpret_cast<const unsigned char*>(state.raw.data()) + k * n * type_bytes;
      switch (type) {
        case GDT_Byte: to_reflectance(reinterpret_cast<const std::uint8_t*>(raw), mask, nodata, scale, offset, out, n); break;
        case GDT_UInt16: to_reflectance(reinterpret_cast<const std::uint16_t*>(raw), mask, nodata, scale, offset, out, n); break;
        case GDT_Int16: to_reflectance(reinterpret_cast<const std::int16_t*>(raw), mask, nodata, scale, offset, out, n); break;
        default: to_reflectance(reinterpret_cast<const float*>(raw), mask, nodata, scale, offset, out, n);
      }
    }
  }
}

}  // namespace fieldrx
