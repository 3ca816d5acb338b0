// SPDX-License-Identifier: Apache-2.0
#pragma once
// writers.report — the per-field report an agronomist reads and signs off, and its numbers as
// summary.json. Not a tile writer: the prescription workflow calls write_field() once per field
// with everything worked out (FieldPrescription).
//
// Output in <field_dir> (each file written under a temporary name; all are renamed into place
// only after every one was written, so a failure leaves no part of a report behind):
//   map_index.png   the main index (rx.index_preview), RdYlGn over its 2–98 % range
//   map_zones.png   the zone grid, one legend entry per zone "Zone 1 (mean NDVI 0.41)"
//   map_rates.png   the rate grid, one entry per distinct rate "15.0 L/ha (1.00 L/mu)", in a
//                   sequential (YlGnBu) ramp so rates are not read as vigour
//   report.html     self-contained: inline CSS, images embedded as data: URIs, no script, no
//                   network; every text from user files HTML-escaped
//   summary.json    see summary_json.hpp
// Maps carry a legend, scale bar and north arrow (map_render.hpp). Grid cells are north-aligned
// WGS84 cells of ~cell_size_m a side, drawn as square pixels (integer nearest zoom), so the
// scale bar comes from grid.cell_size_m; the field boundary (WGS84) is outlined on them.
// Map texts are drawn with OpenCV's Hershey fonts, which have ASCII glyphs only: map titles and
// legends stay English, and a field id with other characters is left off the map title (the
// HTML shows it).
//
// Options:
//   language      "en" | "zh": language of the HTML report (default en)
//   map_max_px    longest side of the map inside each PNG, px (default 800, 200–4000)
//   mu_units      also show areas in mu and rates per mu (1 ha = 15 mu), default true
//   embed_images  embed the PNGs in the HTML (default true; false: link the sibling files)
//
// Before anything is written the prescription's numbers are checked to add up
// (check_prescription in summary_json.hpp): a report whose rows do not make its totals is a
// bug upstream, and it must not reach the sprayer.
// Time stamp: UTC now, or SOURCE_DATE_EPOCH when set (reproducible-builds.org convention), so
// a rerun can give byte-identical reports.
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/field_prescription.hpp"
#include "pipeline/field_writer.hpp"

namespace fieldrx {

// File names inside the field folder.
inline constexpr const char* kReportIndexMap = "map_index.png";
inline constexpr const char* kReportZoneMap = "map_zones.png";
inline constexpr const char* kReportRateMap = "map_rates.png";
inline constexpr const char* kReportHtml = "report.html";
inline constexpr const char* kReportSummary = "summary.json";

// Text for HTML element content and attribute values: & < > " ' escaped; bytes that are not
// valid UTF-8 become U+FFFD; control characters other than tab and newline are dropped.
std::string html_escape(std::string_view text);

// RFC 4648 base64 with padding (for data: URIs).
std::string base64_encode(std::span<const std::uint8_t> bytes);

struct ReportSettings {
  std::string language = "en";  // "en" | "zh"
  int map_max_px = 800;
  bool mu_units = true;
  bool embed_images = true;
  std::string generated_utc;  // "2024-06-01 08:30:00 UTC"; filled by write_field
};

// The three map figures (BGR), pure.
struct ReportMaps {
  cv::Mat index, zones, rates;
};
ReportMaps render_report_maps(const FieldPrescription& rx, const ReportSettings& settings);

// The HTML page, pure. `index_png` etc. are the encoded PNG bytes to embed (ignored when
// settings.embed_images is false: the page then links the sibling files).
std::string report_html(const FieldPrescription& rx, const ReportSettings& settings,
                        std::span<const std::uint8_t> index_png,
                        std::span<const std::uint8_t> zones_png,
                        std::span<const std::uint8_t> rates_png);

// write_field (FieldWriter) writes the five files into `field_dir` (created if missing) and
// returns their paths in the order above. Throws StageError when the prescription's numbers do
// not add up, IoError when a file cannot be written (nothing is left behind then).
class ReportWriter : public FieldWriter {
 public:
  ReportWriter();
  ReportSettings settings() const;

 private:
  void declare_options(OptionSet& options) override;
  std::vector<std::string> do_write_field(const FieldPrescription& rx, const std::string& field_dir) const override;

  std::string language_ = "en";
  int map_max_px_ = 800;
  bool mu_units_ = true;
  bool embed_images_ = true;
};

}  // namespace fieldrx
