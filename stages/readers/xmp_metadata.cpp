// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/xmp_metadata.hpp"

#include <cctype>
#include <cstdlib>
#include <exiv2/exiv2.hpp>
#include <limits>
#include <mutex>

#include "pipeline/errors.hpp"

namespace fieldrx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// exiv2 keeps process-wide state (the XMP toolkit and its prefix<->URI table, which parsing a
// packet may re-point), so every exiv2 call of fieldrx goes through this one lock. Reading the
// tags of a flight is a small part of calibrating it.
std::mutex& exiv2_mutex() {
  static std::mutex mutex;
  return mutex;
}

void init_exiv2_locked() {
  static bool done = false;
  if (done) return;
  Exiv2::LogMsg::setLevel(Exiv2::LogMsg::mute);  // "Updating namespace URI" etc. are noise here
  Exiv2::XmpParser::initialize();
  done = true;
}

std::string key_of(std::string_view family, std::string_view name) {
  std::string key(family);
  key += ':';
  key += name;
  return key;
}

bool parse_double(std::string_view text, double& out) {
  std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return false;
  while (*end == ' ' || *end == '\t') ++end;
  return *end == '\0';
}

void add_xmp_data(std::map<std::string, std::vector<std::string>, std::less<>>& out,
                  const Exiv2::XmpData& xmp) {
  for (const auto& datum : xmp) {
    const std::string prefix = datum.groupName();
    const std::string name = datum.tagName();
    // Structure members and qualifiers ("History[1]/stEvt:action") are not camera tags.
    if (name.find_first_of("[/") != std::string::npos) continue;
    std::string family;
    try {
      family = xmp_family_of_uri(Exiv2::XmpProperties::ns(prefix));
    } catch (const Exiv2::AnyError&) {
    }
    if (family.empty()) family = prefix;
    std::vector<std::string> items;
    const long count = datum.count();
    const Exiv2::TypeId type = datum.typeId();
    if ((type == Exiv2::xmpSeq || type == Exiv2::xmpBag || type == Exiv2::xmpAlt) && count > 0) {
      for (long i = 0; i < count; ++i) items.push_back(datum.toString(i));
    } else {
      items.push_back(datum.toString());
    }
    out[key_of(family, name)] = std::move(items);
  }
}

}  // namespace

std::string xmp_family_of_uri(std::string_view uri) {
  if (uri.find("pix4d.com") != std::string_view::npos) return std::string(kXmpCamera);
  if (uri.find("micasense.com/DLS") != std::string_view::npos) return std::string(kXmpDls);
  if (uri.find("micasense.com/MicaSense") != std::string_view::npos)
    return std::string(kXmpMicaSense);
  if (uri.find("dji.com/drone-dji") != std::string_view::npos) return std::string(kXmpDji);
  return "";
}

std::vector<std::string> split_list_text(std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';') {
      if (!current.empty()) items.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) items.push_back(std::move(current));
  return items;
}

ImageTags ImageTags::read(const std::string& path) {
  ImageTags tags;
  tags.path_ = path;
  std::lock_guard<std::mutex> lock(exiv2_mutex());
  init_exiv2_locked();
  try {
    auto image = Exiv2::ImageFactory::open(path);
    if (image.get() == nullptr) throw IoError(path + ": exiv2 cannot open the file");
    image->readMetadata();
    for (const auto& datum : image->exifData()) {
      ExifValue value;
      const Exiv2::TypeId type = datum.typeId();
      if (type == Exiv2::asciiString || type == Exiv2::comment) {
        value.text = datum.toString();
        while (!value.text.empty() && (value.text.back() == '\0' || value.text.back() == ' '))
          value.text.pop_back();
      } else if (type != Exiv2::undefined) {
        value.text = datum.toString();
        const long count = datum.count();
        // Value::toFloat is single precision: rationals (266666667/1000000 px/mm) and doubles
        // are evaluated in double here.
        for (long i = 0; i < count && i < 64; ++i) {
          if (type == Exiv2::unsignedRational || type == Exiv2::signedRational) {
            const Exiv2::Rational r = datum.toRational(i);
            value.numbers.push_back(r.second == 0 ? kNaN : double(r.first) / double(r.second));
          } else if (type == Exiv2::tiffDouble || type == Exiv2::tiffFloat) {
            value.numbers.push_back(std::strtod(datum.value().toString(i).c_str(), nullptr));
          } else {
            value.numbers.push_back(static_cast<double>(datum.toLong(i)));
          }
        }
      }
      tags.exif_[datum.key()] = std::move(value);
    }
    add_xmp_data(tags.xmp_, image->xmpData());
    if (!image->exifData().empty()) {
      // The pixel size as stored, for files whose EXIF lacks ImageWidth (JPEG).
      if (!tags.has_exif("Exif.Image.ImageWidth") && image->pixelWidth() > 0) {
        tags.set_exif("Exif.Image.ImageWidth", std::to_string(image->pixelWidth()),
                      {double(image->pixelWidth())});
        tags.set_exif("Exif.Image.ImageLength", std::to_string(image->pixelHeight()),
                      {double(image->pixelHeight())});
      }
    }
  } catch (const Exiv2::AnyError& e) {
    throw IoError(path + ": cannot read EXIF/XMP metadata: " + e.what());
  }
  return tags;
}

ImageTags ImageTags::from_xmp_packet(const std::string& packet) {
  ImageTags tags;
  tags.path_ = "<xmp packet>";
  std::lock_guard<std::mutex> lock(exiv2_mutex());
  init_exiv2_locked();
  Exiv2::XmpData xmp;
  if (Exiv2::XmpParser::decode(xmp, packet) != 0) {
    throw StageError(
        "XMP packet: the XMP toolkit cannot parse it; expected a well-formed x:xmpmeta/rdf:RDF "
        "packet");
  }
  add_xmp_data(tags.xmp_, xmp);
  return tags;
}

bool ImageTags::has(std::string_view family, std::string_view name) const {
  return xmp_.find(key_of(family, name)) != xmp_.end();
}

std::optional<std::string> ImageTags::text(std::string_view family, std::string_view name) const {
  auto it = xmp_.find(key_of(family, name));
  if (it == xmp_.end() || it->second.empty()) return std::nullopt;
  if (it->second.size() == 1) return it->second.front();
  std::string joined;
  for (const auto& item : it->second) joined += (joined.empty() ? "" : ",") + item;
  return joined;
}

std::vector<double> ImageTags::numbers(std::string_view family, std::string_view name) const {
  std::vector<double> values;
  auto it = xmp_.find(key_of(family, name));
  if (it == xmp_.end()) return values;
  for (const auto& item : it->second) {
    for (const auto& token : split_list_text(item)) {
      double v = 0;
      if (!parse_double(token, v)) {
        throw StageError(
            path_ + ": XMP " + key_of(family, name) + ": item '" + token +
            "' is not a number; expected numbers as rdf:li items or a comma-separated list");
      }
      values.push_back(v);
    }
  }
  return values;
}

std::optional<double> ImageTags::number(std::string_view family, std::string_view name) const {
  const auto values = numbers(family, name);
  if (values.empty()) return std::nullopt;
  return values.front();
}

std::vector<std::string> ImageTags::xmp_keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, items] : xmp_) keys.push_back(key);
  return keys;
}

bool ImageTags::has_exif(std::string_view key) const {
  return exif_.find(key) != exif_.end();
}

std::optional<std::string> ImageTags::exif_text(std::string_view key) const {
  auto it = exif_.find(key);
  if (it == exif_.end()) return std::nullopt;
  return it->second.text;
}

std::vector<double> ImageTags::exif_numbers(std::string_view key) const {
  auto it = exif_.find(key);
  return it == exif_.end() ? std::vector<double>{} : it->second.numbers;
}

std::optional<double> ImageTags::exif_number(std::string_view key) const {
  const auto values = exif_numbers(key);
  if (values.empty()) return std::nullopt;
  return values.front();
}

void ImageTags::set_xmp(std::string family, std::string name, std::vector<std::string> items) {
  xmp_[key_of(family, name)] = std::move(items);
}

void ImageTags::set_exif(std::string key, std::string text, std::vector<double> numbers) {
  exif_[std::move(key)] = ExifValue{std::move(text), std::move(numbers)};
}

std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    clean += c;
  }
  if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < clean.size() && clean[clean.size() - 1 - padding] == '=') ++padding;
  if (padding > 2) return std::nullopt;
  for (std::size_t i = 0; i + padding < clean.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(clean[i]);
    if (!std::isalnum(c) && c != '+' && c != '/') return std::nullopt;
  }
  const std::size_t size = clean.size() / 4 * 3 - padding;
  // exiv2 wants room beyond the decoded bytes (it writes a terminating zero).
  std::vector<char> out(size + 4);
  const long got = Exiv2::base64decode(clean.c_str(), out.data(), out.size());
  if (got < 0 || static_cast<std::size_t>(got) != size) return std::nullopt;
  return std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(size));
}

}  // namespace fieldrx
