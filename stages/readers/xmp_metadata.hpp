// SPDX-License-Identifier: Apache-2.0
#pragma once
// The EXIF and XMP tags of one image file, read with exiv2 and made uniform so the camera
// readers (capture_metadata) need not care how a camera wrote them:
//   - XMP properties are keyed by namespace *family* and local name ("Camera:BandName"), not
//     by prefix: the pix4d Camera namespace comes as http://pix4d.com/1.0,
//     http://pix4d.com/camera/1.0 and http://pix4d.com/camera/1.0/ (and exiv2 keeps one global
//     prefix table that the next file may re-point), so the family is decided from the URI of
//     this file's packet.
//   - Elements and attributes of rdf:Description are the same property (the XMP toolkit
//     already treats them so).
//   - A list is an rdf:Seq/Bag with one rdf:li per value, or one text (or one rdf:li) holding a
//     comma- or space-separated string; numbers() accepts every form.
// Facts: docs/multispectral-cameras.md ("Common XMP encodings"), Exiv2 0.27 API.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldrx {

// Namespace families, decided from the URI; other namespaces keep their packet prefix.
inline constexpr std::string_view kXmpCamera = "Camera";        // pix4d.com camera URIs
inline constexpr std::string_view kXmpMicaSense = "MicaSense";  // micasense.com/MicaSense
inline constexpr std::string_view kXmpDls = "DLS";              // micasense.com/DLS
inline constexpr std::string_view kXmpDji = "drone-dji";        // dji.com/drone-dji

class ImageTags {
 public:
  // Reads EXIF and XMP of `path`. Throws IoError when exiv2 cannot read the file.
  static ImageTags read(const std::string& path);
  // Tags from an XMP packet alone (tests, side-car .xmp files).
  static ImageTags from_xmp_packet(const std::string& packet);

  const std::string& path() const { return path_; }

  // XMP: every item of the property (one item for a simple property).
  bool has(std::string_view family, std::string_view name) const;
  std::optional<std::string> text(std::string_view family, std::string_view name) const;
  // Numbers of a list or scalar property in any encoding; empty when absent. Throws
  // StageError naming the tag when an item is not a number.
  std::vector<double> numbers(std::string_view family, std::string_view name) const;
  std::optional<double> number(std::string_view family, std::string_view name) const;
  // The family-qualified keys present ("Camera:BandName", ...), for diagnostics.
  std::vector<std::string> xmp_keys() const;

  // EXIF by exiv2 key ("Exif.Photo.ExposureTime"): text form and numeric components
  // (rationals evaluated); both empty when absent.
  bool has_exif(std::string_view key) const;
  std::optional<std::string> exif_text(std::string_view key) const;
  std::vector<double> exif_numbers(std::string_view key) const;
  std::optional<double> exif_number(std::string_view key) const;

  // For building tags in tests.
  void set_xmp(std::string family, std::string name, std::vector<std::string> items);
  void set_exif(std::string key, std::string text, std::vector<double> numbers);

 private:
  struct ExifValue {
    std::string text;
    std::vector<double> numbers;
  };
  std::string path_;
  std::map<std::string, std::vector<std::string>, std::less<>> xmp_;
  std::map<std::string, ExifValue, std::less<>> exif_;
};

// Family of an XMP namespace URI ("http://pix4d.com/camera/1.0/" -> "Camera"), or "" when it
// is none of the camera families.
std::string xmp_family_of_uri(std::string_view uri);

// Splits "a, b c" / "a,b" into items; used for lists written as one string.
std::vector<std::string> split_list_text(std::string_view text);

// Bytes of a base64 text (RFC 4648 alphabet, '=' padding; ASCII white space, as in wrapped XMP
// text, is ignored), decoded by exiv2's Exiv2::base64decode. nullopt when the text is not
// well-formed base64 (exiv2's decoder alone accepts some malformed padding).
std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text);

}  // namespace fieldrx
