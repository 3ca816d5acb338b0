// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/report_writer.hpp"

#include <ogr_geometry.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "stages/aggregators/rate_kernels.hpp"
#include "stages/writers/map_render.hpp"
#include "stages/writers/summary_json.hpp"

namespace fieldrx {
namespace {

const std::string kDash = "\xE2\x80\x94";  // em dash: a value that does not exist

// ---------------------------------------------------------------------------------------------
// Report texts in English and Chinese. Numbers and units are added by the code, so both
// languages show exactly the same figures.
// ---------------------------------------------------------------------------------------------

struct Texts {
  const char* lang;
  const char* title;
  const char* field;
  const char* crop;
  const char* field_area;
  const char* treatable_area;
  const char* treated_area;
  const char* product;
  const char* total_product;
  const char* mean_rate;
  const char* tank_loads;
  const char* zoning;
  const char* zones_heading;
  const char* zone;
  const char* cells;
  const char* area;
  const char* mean;
  const char* rate;
  const char* flow_needed;
  const char* total;
  const char* totals_heading;
  const char* reserve;
  const char* with_reserve;
  const char* usable_tank;
  const char* position_lost_rate;
  const char* maps_heading;
  const char* map_index;
  const char* map_zones;
  const char* map_rates;
  const char* fit_heading;
  const char* zones_requested;
  const char* zones_made;
  const char* chosen;
  const char* gvf_note;
  const char* final_gvf;
  const char* statistics_heading;
  const char* layer;
  const char* count;
  const char* nodata;
  const char* std_dev;
  const char* min;
  const char* max;
  const char* index_of_means;
  const char* index_of_means_note;
  const char* bands_heading;
  const char* machine_heading;
  const char* machine_name;
  const char* kind;
  const char* swath;
  const char* speed;
  const char* flow_range;
  const char* tank;
  const char* dead_volume;
  const char* no_pump_envelope;
  const char* no_machine;
  const char* warnings_heading;
  const char* no_warnings;
  const char* boundary;
  const char* provenance_heading;
  const char* version;
  const char* generated;
  const char* method;
  const char* zoning_layers;
  const char* cell_size;
  const char* grid;
  const char* ab_grid;       // "Zoning grid (A-B line)"
  const char* ab_grid_note;  // how the A-B zones reach the north-aligned delivery grid
  const char* coordinates;
  const char* coordinates_note;
  const char* areas_note;
  const char* valid_pixels;
  const char* none;
  const char* yes;
  const char* zones_word;  // "3 zones"
  const char* mu;          // the unit's name on the page
};

constexpr Texts kEnglish{
    "en",
    "Spraying prescription",
    "Field",
    "Crop",
    "Field area",
    "Treatable area (less buffers and exclusions)",
    "Treated area (sum of the zones)",
    "Product",
    "Total product",
    "Mean rate",
    "Tank loads",
    "Zoning",
    "Zones and rates",
    "Zone",
    "Cells",
    "Area",
    "Mean",
    "Rate",
    "Flow needed",
    "Total",
    "Product and tank loads",
    "Reserve for overlaps and turns",
    "Product with reserve",
    "Usable tank volume (tank less dead volume)",
    "Rate when position is lost",
    "Maps",
    "Index map (2\xE2\x80\x93"
    "98 % stretch)",
    "Management zones",
    "Spray rates",
    "Fit by zone count",
    "Zones asked",
    "Zones made",
    "chosen",
    "Goodness of variance fit (GVF, Jenks 1977): the share of the index variance the zones "
    "explain. "
    "GVF above 0.8 is the usual bar for a useful zoning; more zones beyond that add little.",
    "GVF of the final zones (after smoothing and merging small patches)",
    "Index statistics inside the treatable area",
    "Layer",
    "Count",
    "No data",
    "Std",
    "Min",
    "Max",
    "Index of mean reflectance",
    "the index computed from the field's mean band values (not the mean of per-pixel values).",
    "Band reflectance",
    "Machine",
    "Name",
    "Kind",
    "Swath",
    "Speed",
    "Pump flow range",
    "Tank",
    "Dead volume",
    "The machine profile has no pump envelope: rates were not checked against a pump.",
    "generic (no machine profile)",
    "Warnings",
    "No warnings.",
    "Boundary",
    "Provenance",
    "fieldrx version",
    "Generated",
    "Zoning method",
    "Zoning layers",
    "Cell size",
    "Grid",
    "Zoning grid (A-B line)",
    "zones were made on cells along the A-B line; the ISOXML grid and drone raster above carry them on "
    "north-aligned cells, each with the zone at its centre",
    "Coordinates",
    "WGS84 (EPSG:4326) longitude/latitude. Not GCJ-02 or BD-09: positions from Chinese web maps "
    "are offset by hundreds of metres and must not be mixed with these.",
    "Areas are exact polygon areas in the field's UTM zone",
    "Valid pixels",
    "none",
    "yes",
    "zones",
    "mu",
};

constexpr Texts kChinese{
    "zh",
    "变量喷施处方",
    "地块",
    "作物",
    "地块面积",
    "可作业面积（扣除缓冲区和排除区）",
    "施药面积（各分区合计）",
    "药剂",
    "药剂总量",
    "平均施用量",
    "装药次数",
    "分区",
    "分区与施用量",
    "分区",
    "网格数",
    "面积",
    "平均",
    "施用量",
    "所需流量",
    "合计",
    "药剂用量与装药次数",
    "重叠与转弯余量",
    "含余量药剂量",
    "药箱有效容积（扣除残留量）",
    "定位丢失时的施用量",
    "地图",
    "植被指数图（2\xE2\x80\x93"
    "98 % 拉伸）",
    "管理分区",
    "施用量",
    "不同分区数的拟合优度",
    "设定分区数",
    "实际分区数",
    "已选",
    "方差拟合优度（GVF，Jenks 1977）：分区解释的指数方差比例。GVF 大于 0.8 通常视为分区有效；"
    "再增加分区数收益不大。",
    "最终分区的 GVF（平滑并合并小斑块之后）",
    "可作业区内的指数统计",
    "图层",
    "像元数",
    "无数据",
    "标准差",
    "最小值",
    "最大值",
    "平均反射率的指数",
    "由地块各波段平均反射率计算的指数（不是逐像元指数的平均值）。",
    "波段反射率",
    "机具",
    "名称",
    "类型",
    "喷幅",
    "作业速度",
    "泵流量范围",
    "药箱",
    "残留量",
    "机具配置没有泵流量范围：施用量未按泵的能力校核。",
    "通用（无机具配置）",
    "警告",
    "无警告。",
    "边界",
    "数据来源",
    "fieldrx 版本",
    "生成时间",
    "分区方法",
    "分区图层",
    "网格尺寸",
    "网格",
    "分区网格（A-B 作业线）",
    "分区在沿 A-B 作业线的网格上生成；上面的 ISOXML 网格和无人机栅格为正北方向网格，每格取其中心所在的分区",
    "坐标",
    "WGS84（EPSG:4326）经纬度。不是 GCJ-02 或 "
    "BD-09：国内网络地图的坐标有数百米偏移，不能与本处方混用。",
    "面积为地块所在 UTM 投影带中的精确多边形面积",
    "有效像元",
    "无",
    "是",
    "个分区",
    "亩",
};

const Texts& texts_for(const std::string& language) {
  return language == "zh" ? kChinese : kEnglish;
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return kDash;
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// The fewest decimals in [min_dec, max_dec] that show `v` exactly (to float precision: rates
// on the cell grid are floats), so 15 L/ha reads "15.0" and 13.75 L/ha is not cut to "13.8".
std::string smart(double v, int min_dec, int max_dec) {
  if (!std::isfinite(v)) return kDash;
  for (int d = min_dec; d < max_dec; ++d) {
    const double scale = std::pow(10.0, d);
    if (std::abs(std::round(v * scale) / scale - v) <= 1e-6 * std::max(1.0, std::abs(v)))
      return fixed(v, d);
  }
  return fixed(v, max_dec);
}

std::string integer(long long v) {
  return std::to_string(v);
}

std::string upper_ascii(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

bool printable_ascii(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string index_display_name(const FieldPrescription& rx) {
  return rx.zoning_layers.empty() ? "index" : upper_ascii(rx.zoning_layers.front());
}

std::string hex_colour(const cv::Vec3b& bgr) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return text;
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch != nullptr && *epoch != '\0') {
    char* end = nullptr;
    const long long value = std::strtoll(epoch, &end, 10);
    if (end != nullptr && *end == '\0' && value >= 0) now = static_cast<std::time_t>(value);
  }
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------------------------

std::string map_title(const std::string& what, const FieldPrescription& rx) {
  if (rx.field != nullptr && printable_ascii(rx.field->id))
    return what + " - field " + rx.field->id;
  return what;
}

// Zones are coloured by number on the RdYlGn ramp spread over the highest zone number, so the
// colours in the map, its legend and the HTML table agree.
int highest_zone(const FieldPrescription& rx) {
  int k = 0;
  for (const auto& row : rx.zone_rows) k = std::max(k, row.zone);
  if (!rx.zones.empty()) {
    double max_value = 0;
    cv::minMaxLoc(rx.zones, nullptr, &max_value);
    k = std::max(k, static_cast<int>(max_value));
  }
  return std::max(k, 1);
}

// Cells that belong to the field: the in-field mask, or failing that the zoned cells.
cv::Mat in_field_cells(const FieldPrescription& rx) {
  if (!rx.cell_in_field.empty()) return rx.cell_in_field != 0;
  if (!rx.zones.empty()) return rx.zones != 0;
  return cv::Mat::ones(std::max(rx.grid.rows, 1), std::max(rx.grid.columns, 1), CV_8U) * 255;
}

void draw_ring(cv::Mat& image, const OGRLinearRing& ring, const CellGridGeometry& grid, int zoom) {
  constexpr int kShift = 4;  // sub-pixel vertices: 1/16 px
  std::vector<cv::Point> points;
  for (int i = 0; i < ring.getNumPoints(); ++i) {
    const double x = (ring.getX(i) - grid.west_lon()) / grid.cell_lon_deg() * zoom;
    const double y = (grid.north_lat() - ring.getY(i)) / grid.cell_lat_deg() * zoom;
    points.emplace_back(static_cast<int>(std::lround(x * (1 << kShift))),
                        static_cast<int>(std::lround(y * (1 << kShift))));
  }
  if (points.size() >= 2) {
    cv::polylines(image, points, true, cv::Scalar(40, 40, 40, 255), 2, cv::LINE_AA, kShift);
  }
}

// Outlines the field boundary (WGS84) on a zoomed cell image.
void draw_boundary(cv::Mat& image, const FieldPrescription& rx, int zoom) {
  if (rx.field == nullptr || !rx.field->boundary.wgs84 || !(rx.grid.cell_lon_deg() > 0) ||
      !(rx.grid.cell_lat_deg() > 0)) {
    return;
  }
  const OGRGeometry* geometry = rx.field->boundary.wgs84.get();
  auto draw_polygon = [&](const OGRPolygon& polygon) {
    if (const OGRLinearRing* exterior = polygon.getExteriorRing())
      draw_ring(image, *exterior, rx.grid, zoom);
    for (int i = 0; i < polygon.getNumInteriorRings(); ++i)
      draw_ring(image, *polygon.getInteriorRing(i), rx.grid, zoom);
  };
  switch (wkbFlatten(geometry->getGeometryType())) {
    case wkbPolygon:
      draw_polygon(*geometry->toPolygon());
      break;
    case wkbMultiPolygon:
      for (const OGRPolygon* part : *geometry->toMultiPolygon()) draw_polygon(*part);
      break;
    default:
      break;
  }
}

cv::Mat zoom_cells(const cv::Mat& bgra, int zoom) {
  cv::Mat out;
  cv::resize(bgra, out, cv::Size(), zoom, zoom, cv::INTER_NEAREST);
  return out;
}

cv::Mat grid_or_empty(const cv::Mat& mat, const FieldPrescription& rx, int type) {
  if (!mat.empty()) return mat;
  return cv::Mat::zeros(std::max(rx.grid.rows, 1), std::max(rx.grid.columns, 1), type);
}

std::string rate_label(double rate, const PrescriptionUnits& units, bool mu_units) {
  std::string label = smart(rate, 1, 3) + " " + units.per_ha;
  if (mu_units) label += " (" + smart(per_ha_to_per_mu(rate), 2, 4) + " " + units.per_mu + ")";
  if (rate == 0) label += " off";
  return label;
}

struct DistinctRates {
  std::vector<float> values;  // ascending
  cv::Mat classes;            // CV_8U, 1 + index into values, 0 = none
};

DistinctRates distinct_rates(const FieldPrescription& rx) {
  const cv::Mat rates = grid_or_empty(rx.rates, rx, CV_32F);
  const cv::Mat inside = in_field_cells(rx);
  std::set<float> seen;
  for (int r = 0; r < rates.rows; ++r) {
    for (int c = 0; c < rates.cols; ++c) {
      const float v = rates.at<float>(r, c);
      if (inside.at<unsigned char>(r, c) && std::isfinite(v)) seen.insert(v);
    }
  }
  DistinctRates out{{seen.begin(), seen.end()}, cv::Mat::zeros(rates.size(), CV_8U)};
  if (out.values.size() > 255) return out;  // a per-cell rate surface: drawn as a ramp
  for (int r = 0; r < rates.rows; ++r) {
    for (int c = 0; c < rates.cols; ++c) {
      const float v = rates.at<float>(r, c);
      if (!inside.at<unsigned char>(r, c) || !std::isfinite(v)) continue;
      const auto at = std::lower_bound(out.values.begin(), out.values.end(), v);
      out.classes.at<unsigned char>(r, c) =
          static_cast<unsigned char>(1 + (at - out.values.begin()));
    }
  }
  return out;
}

// More distinct rates than a legend can list (a rate from a per-cell function): a ramp.
constexpr std::size_t kMaxRateClasses = 12;

std::vector<std::uint8_t> encode_png(const cv::Mat& image, const std::string& name) {
  std::vector<std::uint8_t> bytes;
  if (!cv::imencode(".png", image, bytes))
    throw IoError(name + ": OpenCV could not encode the PNG");
  return bytes;
}

void write_bytes(const AtomicOutput& output, const void* data, std::size_t size) {
  std::ofstream out(output.temp_path(), std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out)
    throw IoError(output.final_path() + ": cannot write the file (folder writable? disk full?)");
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

constexpr const char* kCss =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:62em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}
th{background:#f2f2f2;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts th{width:18em}tr.chosen td{background:#fff3c4;font-weight:bold}tr.total td{font-weight:bold;border-top:2px solid #888}
.sw{display:inline-block;width:.9em;height:.9em;border:1px solid #555;margin-right:.4em;vertical-align:middle}
figure{margin:1em 0;page-break-inside:avoid}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{color:#555;font-size:.9em}ul.warnings li{color:#8a4b00}.note{color:#555;font-size:.9em}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}
)";

class Html {
 public:
  Html& raw(const std::string& text) {
    out_ += text;
    return *this;
  }
  Html& text(const std::string& text) {
    out_ += html_escape(text);
    return *this;
  }
  Html& element(const char* tag, const std::string& content, const char* attributes = "") {
    out_ += std::string("<") + tag + attributes + ">" + html_escape(content) + "</" + tag + ">";
    return *this;
  }
  // A two-column fact row: header and already-escaped value.
  Html& fact(const std::string& header, const std::string& value_html) {
    out_ += "<tr><th>" + html_escape(header) + "</th><td>" + value_html + "</td></tr>\n";
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string th(const std::string& text) {
  return "<th>" + html_escape(text) + "</th>";
}
std::string td(const std::string& text) {
  return "<td>" + html_escape(text) + "</td>";
}
std::string tdn(const std::string& text) {
  return "<td class=\"n\">" + html_escape(text) + "</td>";
}

std::string area_text(double area_m2, bool mu_units, const Texts& t) {
  const double ha = area_m2 / kSquareMetresPerHectare;
  std::string text = fixed(ha, 2) + " ha";
  if (mu_units) text += " (" + fixed(ha * kMuPerHectare, 1) + " " + t.mu + ")";
  return text;
}

// A rate as set (exact: "13.75 L/ha"), or a derived mean (rounded: "15.1 L/ha").
std::string rate_text(double rate, const PrescriptionUnits& units, bool mu_units,
                      bool derived = false) {
  if (!std::isfinite(rate)) return kDash;
  std::string text = (derived ? fixed(rate, 1) : smart(rate, 1, 3)) + " " + units.per_ha;
  if (mu_units) {
    text += " (" +
            (derived ? fixed(per_ha_to_per_mu(rate), 2) : smart(per_ha_to_per_mu(rate), 2, 4)) +
            " " + units.per_mu + ")";
  }
  return text;
}

std::string image_src(const std::string& file, std::span<const std::uint8_t> png, bool embed) {
  if (!embed) return html_escape(file);
  return "data:image/png;base64," + base64_encode(png);
}

void statistics_table(Html& h, const Texts& t, const std::vector<LayerStatistics>& layers,
                      const std::map<std::string, double>* index_of_means, int decimals) {
  std::vector<double> ranks;
  for (const auto& layer : layers) {
    for (double rank : layer.summary.percentile_ranks) {
      if (std::none_of(ranks.begin(), ranks.end(),
                       [&](double r) { return std::abs(r - rank) < 1e-9; })) {
        ranks.push_back(rank);
      }
    }
  }
  std::sort(ranks.begin(), ranks.end());
  h.raw("<table><tr>" + th(t.layer) + th(t.count) + th(t.nodata) + th(t.mean) + th(t.std_dev) +
        th(t.min));
  for (double rank : ranks) {
    char label[32];
    std::snprintf(label, sizeof label, "P%g", rank);
    h.raw(th(label));
  }
  h.raw(th(t.max));
  if (index_of_means) h.raw(th(t.index_of_means));
  h.raw("</tr>\n");
  for (const auto& layer : layers) {
    const StatisticsSummary& s = layer.summary;
    const bool any = s.count > 0;
    h.raw("<tr>" + td(layer.name) + tdn(integer(static_cast<long long>(s.count))) +
          tdn(integer(static_cast<long long>(s.skipped))) +
          tdn(any ? fixed(s.mean, decimals) : kDash) + tdn(any ? fixed(s.std, decimals) : kDash) +
          tdn(any ? fixed(s.min, decimals) : kDash));
    for (double rank : ranks) {
      double value = std::nan("");
      for (std::size_t i = 0; i < s.percentile_ranks.size() && i < s.percentiles.size(); ++i) {
        if (std::abs(s.percentile_ranks[i] - rank) < 1e-9) value = s.percentiles[i];
      }
      h.raw(tdn(any ? fixed(value, decimals) : kDash));
    }
    h.raw(tdn(any ? fixed(s.max, decimals) : kDash));
    if (index_of_means) {
      const auto it = index_of_means->find(layer.name);
      h.raw(tdn(it == index_of_means->end() ? kDash : fixed(it->second, decimals)));
    }
    h.raw("</tr>\n");
  }
  h.raw("</table>\n");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

std::string html_escape(std::string_view text) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n') out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence (RFC 3629): lead byte, length, and the allowed range of the second byte
    // (which rules out overlong forms, surrogates and code points above U+10FFFF).
    int length = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool valid = length > 0 && i + length <= n;
    if (valid) {
      for (int k = 1; k < length; ++k) {
        const unsigned char b = s[i + k];
        const unsigned char min_b = k == 1 ? lo : 0x80, max_b = k == 1 ? hi : 0xBF;
        if (b < min_b || b > max_b) {
          valid = false;
          break;
        }
      }
    }
    if (valid) {
      out.append(text.substr(i, static_cast<std::size_t>(length)));
      i += static_cast<std::size_t>(length);
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v =
        (std::uint32_t(bytes[i]) << 16) | (std::uint32_t(bytes[i + 1]) << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t(bytes[i]) << 16;
    if (rest == 2) v |= std::uint32_t(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------------------------

ReportMaps render_report_maps(const FieldPrescription& rx, const ReportSettings& settings) {
  check_prescription(rx);  // also that the grids match the geometry the maps index them by
  const PrescriptionUnits units = prescription_units(rx);
  const std::string index_name = index_display_name(rx);
  ReportMaps maps;

  {  // Index: shrink (NaN-aware) or enlarge (nearest) to about map_max_px on the long side.
    cv::Mat values;
    if (rx.index_preview.empty()) {
      values = cv::Mat(1, 1, CV_32F, cv::Scalar(std::nan("")));
    } else {
      rx.index_preview.convertTo(values, CV_32F);
    }
    const int long_side = std::max(values.cols, values.rows);
    const int shrink = long_side > settings.map_max_px
                           ? (long_side + settings.map_max_px - 1) / settings.map_max_px
                           : 1;
    cv::Mat shown = block_mean(values, shrink);
    const int zoom = cell_zoom_factor(shown.size(), settings.map_max_px);
    double lo = finite_percentile(values, 2), hi = finite_percentile(values, 98);
    const bool empty = !std::isfinite(lo) || !std::isfinite(hi);
    if (empty) lo = 0, hi = 1;  // nothing valid: an empty map, labelled so
    if (hi <= lo) hi = lo + 1e-6;
    MapFigure figure;
    figure.map_bgra = zoom_cells(colorize(shown, lo, hi), zoom);
    figure.title = map_title(index_name + (empty ? " (no valid pixels)" : ""), rx);
    figure.ramp_lo = lo;
    figure.ramp_hi = hi;
    figure.ramp_unit = index_name + ", 2-98 % stretch";
    figure.metres_per_pixel =
        rx.preview_metres_per_pixel > 0 ? rx.preview_metres_per_pixel * shrink / zoom : 0;
    maps.index = render_figure(figure);
  }

  const cv::Mat zones = grid_or_empty(rx.zones, rx, CV_8U);
  const int zoom = cell_zoom_factor(zones.size(), settings.map_max_px);
  const double cell_mpp = rx.grid.cell_size_m > 0 ? rx.grid.cell_size_m / zoom : 0;

  {  // Zones.
    const auto colours = class_colours(highest_zone(rx));
    MapFigure figure;
    figure.map_bgra = zoom_cells(colorize_classes(zones, colours), zoom);
    draw_boundary(figure.map_bgra, rx, zoom);
    figure.title = map_title("Management zones", rx);
    std::set<int> present;
    for (const auto& row : rx.zone_rows) present.insert(row.zone);
    for (int r = 0; r < zones.rows; ++r) {
      for (int c = 0; c < zones.cols; ++c) {
        if (zones.at<unsigned char>(r, c)) present.insert(zones.at<unsigned char>(r, c));
      }
    }
    for (int zone : present) {
      std::string label = "Zone " + std::to_string(zone);
      for (const auto& row : rx.zone_rows) {
        if (row.zone == zone)
          label += " (mean " + index_name + " " + fixed(row.mean_index, 2) + ")";
      }
      figure.items.push_back({colours[static_cast<std::size_t>(zone - 1)], label});
    }
    figure.metres_per_pixel = cell_mpp;
    maps.zones = render_figure(figure);
  }

  {  // Rates: one class per distinct rate, or a ramp when the rate varies cell by cell.
    const DistinctRates rates = distinct_rates(rx);
    MapFigure figure;
    figure.title = map_title("Spray rate (" + units.per_ha + ")", rx);
    if (rates.values.size() <= kMaxRateClasses) {
      const auto colours =
          sequential_class_colours(std::max<int>(1, static_cast<int>(rates.values.size())));
      figure.map_bgra = zoom_cells(colorize_classes(rates.classes, colours), zoom);
      for (std::size_t i = 0; i < rates.values.size(); ++i) {
        figure.items.push_back({colours[i], rate_label(rates.values[i], units, settings.mu_units)});
      }
      if (figure.items.empty()) figure.items.push_back({cv::Vec3b(255, 255, 255), "no rate"});
    } else {
      cv::Mat masked = grid_or_empty(rx.rates, rx, CV_32F).clone();
      masked.setTo(std::nan(""), in_field_cells(rx) == 0);
      figure.ramp_lo = rates.values.front();
      figure.ramp_hi = rates.values.back();
      figure.ramp_unit = units.per_ha;
      figure.sequential_ramp = true;
      figure.map_bgra =
          zoom_cells(colorize_sequential(masked, figure.ramp_lo, figure.ramp_hi), zoom);
    }
    draw_boundary(figure.map_bgra, rx, zoom);
    figure.metres_per_pixel = cell_mpp;
    maps.rates = render_figure(figure);
  }
  return maps;
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

std::string report_html(const FieldPrescription& rx, const ReportSettings& settings,
                        std::span<const std::uint8_t> index_png,
                        std::span<const std::uint8_t> zones_png,
                        std::span<const std::uint8_t> rates_png) {
  check_prescription(rx);
  const Texts& t = texts_for(settings.language);
  PrescriptionUnits u = prescription_units(rx);
  u.per_mu = u.product + "/" + t.mu;  // "L/亩" on a Chinese page
  const Field& field = *rx.field;
  const bool mu = settings.mu_units;
  const std::string index_name = index_display_name(rx);
  const MachineProfile& m = rx.machine;
  const double treated_ha = rx.treated_area_m2 / kSquareMetresPerHectare;
  const double mean_rate = treated_ha > 0 ? rx.total_product / treated_ha : std::nan("");
  const std::string product_label = rx.product_name.empty()
                                        ? std::string(t.product)
                                        : std::string(t.product) + ": " + rx.product_name;

  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"")
      .raw(t.lang)
      .raw("\">\n<head>\n<meta charset=\"utf-8\">\n")
      .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
      .raw("<meta name=\"generator\" content=\"fieldrx " FIELDRX_VERSION "\">\n");
  h.element("title", std::string(t.title) + " \xE2\x80\x94 " + field.id)
      .raw("\n<style>\n")
      .raw(kCss)
      .raw("</style>\n</head>\n<body>\n");

  // Heading and key facts.
  h.element("h1", std::string(t.title) + " \xE2\x80\x94 " + t.field + " " + field.id).raw("\n");
  h.element("p",
            (rx.crop.empty() ? std::string() : rx.crop + " \xC2\xB7 ") + settings.generated_utc,
            " class=\"sub\"")
      .raw("\n");
  h.raw("<table class=\"facts\">\n");
  h.fact(t.field, html_escape(field.id));
  h.fact(t.crop, html_escape(rx.crop.empty() ? std::string(kDash) : rx.crop));
  h.fact(t.field_area, html_escape(area_text(field.boundary.area_m2, mu, t)));
  if (std::abs(field.treatable.area_m2 - field.boundary.area_m2) > 1e-6 * field.boundary.area_m2) {
    h.fact(t.treatable_area, html_escape(area_text(field.treatable.area_m2, mu, t)));
  }
  h.fact(t.treated_area, html_escape(area_text(rx.treated_area_m2, mu, t)));
  h.fact(t.product, html_escape(rx.product_name.empty() ? std::string(kDash) : rx.product_name));
  h.fact(t.total_product, html_escape(fixed(rx.total_product, 2) + " " + u.product));
  h.fact(t.mean_rate, html_escape(rate_text(mean_rate, u, mu, true)));
  h.fact(t.tank_loads,
         html_escape(integer(rx.tank_loads) +
                     (m.tank_l > 0 ? " \xC3\x97 " + smart(m.tank_l, 0, 2) + " " + u.product
                                   : std::string())));
  h.fact(t.zoning,
         html_escape(index_name + ", " + rx.method + ", " + std::to_string(rx.zone_rows.size()) +
                     " " + t.zones_word + ", GVF " + fixed(rx.gvf, 3)));
  h.raw("</table>\n");

  // Warnings come before the numbers: whoever signs the report must see them.
  h.element("h2", t.warnings_heading).raw("\n");
  const bool boundary_note = !field.message.empty();
  if (rx.warnings.empty() && !boundary_note) {
    h.element("p", t.no_warnings).raw("\n");
  } else {
    h.raw("<ul class=\"warnings\">\n");
    if (boundary_note) h.element("li", std::string(t.boundary) + ": " + field.message).raw("\n");
    for (const auto& warning : rx.warnings) h.element("li", warning).raw("\n");
    h.raw("</ul>\n");
  }

  // Zones and rates.
  const bool show_flow = m.has_pump_envelope() && is_volume_rate(u.unit);
  const auto zone_colours = class_colours(highest_zone(rx));
  h.element("h2", t.zones_heading).raw("\n<table>\n<tr>");
  h.raw(th(t.zone) + th(t.cells) + th(std::string(t.area) + " (ha)"));
  if (mu) h.raw(th(std::string(t.area) + " (" + t.mu + ")"));
  h.raw(th(std::string(t.mean) + " " + index_name) +
        th(std::string(t.rate) + " (" + u.per_ha + ")"));
  if (mu) h.raw(th(std::string(t.rate) + " (" + u.per_mu + ")"));
  if (show_flow) h.raw(th(std::string(t.flow_needed) + " (L/min)"));
  h.raw(th(product_label + " (" + u.product + ")") + "</tr>\n");
  long long total_cells = 0;
  for (const auto& row : rx.zone_rows) {
    const double ha = row.area_m2 / kSquareMetresPerHectare;
    const cv::Vec3b colour = row.zone >= 1 && row.zone <= static_cast<int>(zone_colours.size())
                                 ? zone_colours[static_cast<std::size_t>(row.zone - 1)]
                                 : cv::Vec3b(255, 255, 255);
    total_cells += row.cells;
    h.raw("<tr><td><span class=\"sw\" style=\"background:" + hex_colour(colour) + "\"></span>" +
          html_escape(std::to_string(row.zone)) + "</td>" + tdn(integer(row.cells)) +
          tdn(fixed(ha, 2)));
    if (mu) h.raw(tdn(fixed(ha * kMuPerHectare, 1)));
    h.raw(tdn(fixed(row.mean_index, 3)) + tdn(smart(row.rate, 1, 3)));
    if (mu) h.raw(tdn(smart(per_ha_to_per_mu(row.rate), 2, 4)));
    if (show_flow) h.raw(tdn(fixed(flow_l_per_min(row.rate, m.swath_m, m.speed_m_per_s), 2)));
    h.raw(tdn(fixed(row.product, 2)) + "</tr>\n");
  }
  h.raw("<tr class=\"total\">" + td(t.total) + tdn(integer(total_cells)) +
        tdn(fixed(treated_ha, 2)));
  if (mu) h.raw(tdn(fixed(treated_ha * kMuPerHectare, 1)));
  h.raw(td("") + tdn(fixed(mean_rate, 1)));
  if (mu) h.raw(tdn(fixed(per_ha_to_per_mu(mean_rate), 2)));
  if (show_flow) h.raw(td(""));
  h.raw(tdn(fixed(rx.total_product, 2)) + "</tr>\n</table>\n");
  h.element("p",
            std::string(t.areas_note) + " (EPSG:" + std::to_string(field.utm_epsg) + "); " +
                t.rate + " \xC3\x97 " + t.area + " = " + t.product + ".",
            " class=\"note\"")
      .raw("\n");

  // Product and tank loads, with the arithmetic spelled out.
  h.element("h2", t.totals_heading).raw("\n<table class=\"facts\">\n");
  h.fact(t.total_product, html_escape(fixed(rx.total_product, 2) + " " + u.product));
  h.fact(t.reserve, html_escape(fixed(m.reserve_fraction * 100, 0) + " %"));
  h.fact(t.with_reserve,
         html_escape(fixed(rx.total_product * (1 + m.reserve_fraction), 2) + " " + u.product));
  h.fact(t.usable_tank,
         html_escape(smart(m.tank_l, 0, 2) + " \xE2\x88\x92 " + smart(m.tank_dead_volume_l, 0, 2) +
                     " = " + smart(m.tank_l - m.tank_dead_volume_l, 0, 2) + " " + u.product));
  {
    const double usable = m.tank_l - m.tank_dead_volume_l;
    std::string loads = integer(rx.tank_loads);
    if (usable > 0) {
      loads += " = \xE2\x8C\x88" + fixed(rx.total_product * (1 + m.reserve_fraction), 2) + " / " +
               smart(usable, 0, 2) + "\xE2\x8C\x89 = \xE2\x8C\x88" +
               fixed(rx.total_product * (1 + m.reserve_fraction) / usable, 2) + "\xE2\x8C\x89";
    }
    h.fact(t.tank_loads, html_escape(loads));
  }
  h.fact(t.position_lost_rate, html_escape(rate_text(rx.position_lost_rate, u, mu)));
  h.raw("</table>\n");

  // Maps.
  h.element("h2", t.maps_heading).raw("\n");
  const struct {
    const char* file;
    std::span<const std::uint8_t> png;
    std::string caption;
  } figures[] = {{kReportIndexMap, index_png, index_name + " \xE2\x80\x94 " + t.map_index},
                 {kReportZoneMap, zones_png, t.map_zones},
                 {kReportRateMap, rates_png, std::string(t.map_rates) + " (" + u.per_ha + ")"}};
  for (const auto& figure : figures) {
    h.raw("<figure><img src=\"" + image_src(figure.file, figure.png, settings.embed_images) +
          "\" alt=\"" + html_escape(figure.caption) + "\"><figcaption>")
        .text(figure.caption)
        .raw("</figcaption></figure>\n");
  }

  // Zone count fit.
  h.element("h2", t.fit_heading)
      .raw("\n<table>\n<tr>" + th(t.zones_requested) + th(t.zones_made) + th("GVF") +
           th("GVF \xE2\x89\xA5 0.8") + th(t.chosen) + "</tr>\n");
  for (const auto& fit : rx.fit_by_zone_count) {
    const bool chosen = fit.requested_zone_count == rx.zones_requested;
    h.raw(std::string(chosen ? "<tr class=\"chosen\">" : "<tr>") +
          tdn(integer(fit.requested_zone_count)) + tdn(integer(fit.zone_count)) +
          tdn(fixed(fit.gvf, 3)) + td(fit.gvf >= 0.8 ? t.yes : "") + td(chosen ? t.chosen : "") +
          "</tr>\n");
  }
  h.raw("</table>\n");
  h.element("p", t.gvf_note, " class=\"note\"").raw("\n");
  h.element("p", std::string(t.final_gvf) + ": " + fixed(rx.gvf, 3)).raw("\n");

  // Statistics.
  h.element("h2", t.statistics_heading).raw("\n");
  statistics_table(h, t, rx.index_statistics, &rx.index_of_mean_reflectance, 4);
  h.element("p", std::string(t.index_of_means) + ": " + t.index_of_means_note, " class=\"note\"")
      .raw("\n");
  if (!rx.band_statistics.empty()) {
    h.element("h2", t.bands_heading).raw("\n");
    statistics_table(h, t, rx.band_statistics, nullptr, 4);
  }

  // Machine.
  h.element("h2", t.machine_heading).raw("\n<table class=\"facts\">\n");
  h.fact(t.machine_name, html_escape(m.name.empty() ? std::string(t.no_machine) : m.name));
  h.fact(t.kind, html_escape(m.kind));
  h.fact(t.swath, html_escape(m.swath_m > 0 ? smart(m.swath_m, 0, 2) + " m" : kDash));
  h.fact(t.speed, html_escape(m.speed_m_per_s > 0 ? smart(m.speed_m_per_s, 0, 2) + " m/s" : kDash));
  h.fact(t.flow_range, html_escape(m.max_flow_l_per_min > 0
                                       ? smart(m.min_flow_l_per_min, 1, 2) + " \xE2\x80\x93 " +
                                             smart(m.max_flow_l_per_min, 1, 2) + " L/min"
                                       : kDash));
  h.fact(t.tank, html_escape(m.tank_l > 0 ? smart(m.tank_l, 0, 2) + " " + u.product : kDash));
  h.fact(t.dead_volume, html_escape(smart(m.tank_dead_volume_l, 0, 2) + " " + u.product));
  h.fact(t.reserve, html_escape(fixed(m.reserve_fraction * 100, 0) + " %"));
  h.raw("</table>\n");
  if (!m.has_pump_envelope()) h.element("p", t.no_pump_envelope, " class=\"note\"").raw("\n");

  // Provenance.
  const CellGridGeometry& g = rx.grid;
  h.element("h2", t.provenance_heading).raw("\n<table class=\"facts\">\n");
  h.fact(t.version, html_escape(FIELDRX_VERSION));
  h.fact(t.generated, html_escape(settings.generated_utc));
  h.fact(t.method, html_escape(rx.method + " (" + std::to_string(rx.zones_requested) + ")"));
  std::string layers;
  for (const auto& name : rx.zoning_layers) layers += (layers.empty() ? "" : ", ") + name;
  h.fact(t.zoning_layers, html_escape(layers.empty() ? std::string(t.none) : layers));
  h.fact(t.cell_size, html_escape(smart(g.cell_size_m, 0, 2) + " m (" + fixed(g.cell_lon_deg(), 8) +
                                  "\xC2\xB0 \xC3\x97 " + fixed(g.cell_lat_deg(), 8) + "\xC2\xB0)"));
  h.fact(t.grid,
         html_escape(std::to_string(g.columns) + " \xC3\x97 " + std::to_string(g.rows) + ", W " +
                     fixed(g.west_lon(), 7) + "\xC2\xB0, S " + fixed(g.south_lat(), 7) +
                     "\xC2\xB0, N " + fixed(g.north_lat(), 7) + "\xC2\xB0"));
  if (rx.zoning_grid) {
    const CellGridGeometry& a = *rx.zoning_grid;
    h.fact(t.ab_grid, html_escape(fixed(a.heading_deg, 2) + "\xC2\xB0, A " + fixed(a.anchor_lon, 7) + "\xC2\xB0 E " +
                                  fixed(a.anchor_lat, 7) + "\xC2\xB0 N, " + smart(a.cell_size_m, 0, 2) + " \xC3\x97 " +
                                  smart(a.cell_width_m, 0, 2) + " m, " + std::to_string(a.columns) + " \xC3\x97 " +
                                  std::to_string(a.rows) + "; " + t.ab_grid_note));
  }
  h.fact(t.coordinates, html_escape(t.coordinates_note));
  h.fact("UTM", html_escape("EPSG:" + std::to_string(field.utm_epsg)));
  h.fact(t.valid_pixels, html_escape(integer(rx.valid_pixels)));
  h.raw("</table>\n</body>\n</html>\n");
  return h.take();
}

// ---------------------------------------------------------------------------------------------
// The stage
// ---------------------------------------------------------------------------------------------

ReportWriter::ReportWriter()
    : FieldWriter({"writers.report",
             "per-field HTML report (maps, zones, rates, totals, tank loads, statistics) and "
             "summary.json",
             "https://colorbrewer2.org/"}) {}

void ReportWriter::declare_options(OptionSet& options) {
  options.add("language", language_, "language of report.html", "en").choices({"en", "zh"});
  options.add("map_max_px", map_max_px_, "longest side of the map inside each PNG", 800)
      .unit("px")
      .range(200, 4000);
  options.add("mu_units", mu_units_, "also show areas in mu and rates per mu (1 ha = 15 mu)", true);
  options.add(
      "embed_images", embed_images_,
      "embed the maps in report.html (one file to mail); false links the PNG files beside it",
      true);
}

ReportSettings ReportWriter::settings() const {
  return {language_, map_max_px_, mu_units_, embed_images_, ""};
}

std::vector<std::string> ReportWriter::do_write_field(const FieldPrescription& rx,
                                                   const std::string& field_dir) const {
  return in_context([&] {
    check_prescription(rx);
    ReportSettings settings = this->settings();
    settings.generated_utc = utc_timestamp();

    const ReportMaps maps = render_report_maps(rx, settings);
    const auto index_png = encode_png(maps.index, kReportIndexMap);
    const auto zones_png = encode_png(maps.zones, kReportZoneMap);
    const auto rates_png = encode_png(maps.rates, kReportRateMap);
    const std::string html = report_html(rx, settings, index_png, zones_png, rates_png);
    const std::string json = summary_json_text(rx);

    make_directories(field_dir);
    const auto path = [&](const char* name) {
      return (std::filesystem::path(field_dir) / name).string();
    };
    // Every file is complete under its temporary name before any is renamed: a failure midway
    // leaves the folder as it was (the AtomicOutputs remove their temporaries).
    std::vector<std::unique_ptr<AtomicOutput>> outputs;
    const auto add = [&](const char* name, const void* data, std::size_t size) {
      outputs.push_back(std::make_unique<AtomicOutput>(path(name)));
      write_bytes(*outputs.back(), data, size);
    };
    add(kReportIndexMap, index_png.data(), index_png.size());
    add(kReportZoneMap, zones_png.data(), zones_png.size());
    add(kReportRateMap, rates_png.data(), rates_png.size());
    add(kReportHtml, html.data(), html.size());
    add(kReportSummary, json.data(), json.size());
    std::vector<std::string> written;
    for (auto& output : outputs) {
      output->commit();
      written.push_back(output->final_path());
    }
    return written;
  });
}

}  // namespace fieldrx
