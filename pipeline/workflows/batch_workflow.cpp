// SPDX-License-Identifier: Apache-2.0
#include "pipeline/workflows/batch_workflow.hpp"

#include <ogr_geometry.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/log.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/workflows/calibrate_workflow.hpp"
#include "pipeline/workflows/prescribe_workflow.hpp"
#include "pipeline/workflows/stable_hash.hpp"
#include "pipeline/workflows/summary_text.hpp"

namespace fieldrx {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kDoneMarker = ".fieldrx-done.json";

// ---------------------------------------------------------------------------------------------
// Manifest

// Keys whose values are file paths, resolved against the manifest's folder.
bool is_path_key(const std::string& key) { return key == "image" || key == "fields" || key == "exclusions"; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string resolve_path(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || path.rfind("/vsi", 0) == 0) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

// A machine profile is a name in configs/machines or a YAML path; only paths are resolved.
bool looks_like_path(const std::string& text) {
  return text.find('/') != std::string::npos || (text.size() > 5 && (text.ends_with(".yaml") || text.ends_with(".yml")));
}

void check_and_resolve(YAML::Node& settings, const std::string& where, const std::string& base_dir) {
  std::set<std::string> known;
  for (const auto& [key, description] : manifest_keys()) known.insert(key);
  for (const auto& entry : settings) {
    const std::string key = entry.first.as<std::string>();
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw ConfigError(where + ": unknown key '" + key + "'; a job takes " + list);
    }
  }
  auto given = [&settings](const char* key) {
    return settings[key] && !settings[key].IsNull() && !(settings[key].IsScalar() && settings[key].Scalar().empty());
  };
  for (const char* key : {"name", "fields", "field_id"}) {
    if (!given(key)) {
      throw ConfigError(where + ": no '" + std::string(key) + "'; every job needs name, fields, field_id and image (or flight_dir)");
    }
  }
  // Imagery: a ready image, or a raw flight folder mosaicked once for the job.
  if (given("image") == given("flight_dir")) {
    throw ConfigError(where + (given("image") ? ": both 'image' and 'flight_dir'; give one" : ": no 'image' nor 'flight_dir'") +
                      ": an orthomosaic / per-band GeoTIFFs / index map as image, or a raw camera flight folder as flight_dir");
  }
  for (const char* key : {"bands", "nodata", "scale"}) {
    if (given("flight_dir") && given(key)) {
      throw ConfigError(where + ": '" + std::string(key) + "' applies to 'image'; a flight_dir mosaic names its bands itself");
    }
  }
  for (const char* key :
       {"panel_dir", "panel_albedo", "panel_corners_px", "sun_sensor", "mosaic_gsd_m", "ground_elevation_m"}) {
    if (given("image") && given(key)) {
      throw ConfigError(where + ": '" + std::string(key) + "' applies to 'flight_dir', not to a ready 'image'");
    }
  }
  for (const char* key : {"image", "fields", "exclusions", "flight_dir", "panel_dir"}) {
    YAML::Node value = settings[key];
    if (!value || value.IsNull()) continue;
    if (value.IsSequence()) {
      YAML::Node resolved(YAML::NodeType::Sequence);
      for (const auto& item : value) resolved.push_back(resolve_path(base_dir, item.as<std::string>()));
      settings[key] = resolved;
    } else {
      settings[key] = resolve_path(base_dir, value.as<std::string>());
    }
  }
  if (settings["machine"] && settings["machine"].IsScalar() && looks_like_path(settings["machine"].Scalar())) {
    settings["machine"] = resolve_path(base_dir, settings["machine"].Scalar());
  }
}

// RFC 4180 fields of one CSV record; `in` may span lines inside quotes.
bool read_csv_record(std::istream& in, std::vector<std::string>& cells) {
  cells.clear();
  std::string cell;
  bool quoted = false, any = false;
  char c;
  while (in.get(c)) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          in.get(c);
          cell += '"';
        } else {
          quoted = false;
        }
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cell);
      cell.clear();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      cell += c;
    }
  }
  if (!any) return false;
  cells.push_back(cell);
  return true;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<YAML::Node> csv_jobs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read");
  std::vector<std::string> header, cells;
  if (!read_csv_record(in, header)) throw ConfigError(path + ": empty; the first row names the job keys (name, fields, field_id, image, ...)");
  for (auto& h : header) h = trim(h);
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);  // Excel's BOM
  std::vector<YAML::Node> jobs;
  int row = 1;
  while (read_csv_record(in, cells)) {
    ++row;
    if (std::all_of(cells.begin(), cells.end(), [](const std::string& c) { return trim(c).empty(); })) continue;
    if (cells.size() > header.size()) {
      throw ConfigError(path + ": row " + std::to_string(row) + " has " + std::to_string(cells.size()) + " cells but the header names " +
                        std::to_string(header.size()) + "; quote cells that hold commas");
    }
    YAML::Node job(YAML::NodeType::Map);
    for (std::size_t i = 0; i < cells.size(); ++i) {
      std::string value = trim(cells[i]);
      if (value.empty()) continue;  // an empty cell leaves the default
      // Spreadsheets keep lists in one cell: "12;15;18" is the list 12,15,18.
      std::replace(value.begin(), value.end(), ';', ',');
      if (header[i] == "image" && value.find(',') != std::string::npos) {
        YAML::Node files(YAML::NodeType::Sequence);
        std::stringstream parts(value);
        for (std::string part; std::getline(parts, part, ',');) files.push_back(trim(part));
        job[header[i]] = files;
      } else {
        job[header[i]] = value;
      }
    }
    job["__row"] = row;
    jobs.push_back(job);
  }
  return jobs;
}

std::string folder_name(const std::string& text) { return field_folder_name(text); }

// ---------------------------------------------------------------------------------------------
// Summary rows and files

// Values are rounded once, here, to what the summary prints: a row read back from a marker or a
// shard summary then prints the same bytes as the row computed in this process.
double rounded(double value, int decimals) {
  if (!std::isfinite(value)) return 0;
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void write_atomically(const std::string& path, const std::string& content) {
  AtomicOutput output(path);
  {
    std::ofstream out(output.temp_path(), std::ios::binary);
    out << content;
    if (!out.flush()) throw IoError(path + ": cannot write (disk full?)");
  }
  output.commit();
}

std::string summary_csv(const std::vector<BatchRow>& rows) {
  std::ostringstream out;
  out << "job,field,crop,area_ha,index,mean_index,zones,total_product,product_unit,rate_unit,tank_loads,status,error,folder\n";
  for (const auto& r : rows) {
    const bool failed = r.status == "error";
    out << csv_cell(r.job) << ',' << csv_cell(r.field) << ',' << csv_cell(r.crop) << ',' << fixed(r.area_ha, 4) << ','
        << r.index << ',' << (failed ? "" : fixed(r.mean_index, 5)) << ',' << r.zones << ','
        << (failed ? "" : fixed(r.total_product, 3)) << ',' << r.product_unit << ',' << r.rate_unit << ',' << r.tank_loads << ','
        << r.status << ',' << csv_cell(r.error) << ',' << csv_cell(r.folder) << '\n';
  }
  return out.str();
}

json summary_json(const std::vector<BatchRow>& rows) {
  json doc;
  doc["fieldrx_version"] = FIELDRX_VERSION;
  int failed = 0;
  double product = 0;
  json list = json::array();
  for (const auto& r : rows) {
    failed += r.status == "error";
    product += r.status == "error" ? 0 : r.total_product;
    list.push_back(to_json(r));
  }
  doc["fields"] = rows.size();
  doc["failed"] = failed;
  doc["rows"] = list;
  return doc;
}

// Red (low) -> yellow -> green (high), the usual vigour ramp.
std::string ramp_colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const int r = t < 0.5 ? 215 : static_cast<int>(215 - (t - 0.5) * 2 * (215 - 26));
  const int g = t < 0.5 ? static_cast<int>(48 + t * 2 * (217 - 48)) : static_cast<int>(217 - (t - 0.5) * 2 * (217 - 150));
  const int b = t < 0.5 ? 39 : static_cast<int>(39 + (t - 0.5) * 2 * (65 - 39));
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", r, g, b);
  return buffer;
}

// Rings of a GeoJSON Polygon / MultiPolygon.
std::vector<const json*> rings_of(const json& geometry) {
  std::vector<const json*> rings;
  if (!geometry.is_object() || !geometry.contains("coordinates")) return rings;
  const std::string type = geometry.value("type", "");
  if (type == "Polygon") {
    for (const auto& ring : geometry["coordinates"]) rings.push_back(&ring);
  } else if (type == "MultiPolygon") {
    for (const auto& polygon : geometry["coordinates"]) {
      for (const auto& ring : polygon) rings.push_back(&ring);
    }
  }
  return rings;
}

std::string index_html(const std::vector<BatchRow>& rows) {
  double west = 1e9, east = -1e9, south = 1e9, north = -1e9, low = 1e9, high = -1e9;
  for (const auto& r : rows) {
    for (const json* ring : rings_of(r.boundary)) {
      for (const auto& p : *ring) {
        west = std::min(west, p[0].get<double>());
        east = std::max(east, p[0].get<double>());
        south = std::min(south, p[1].get<double>());
        north = std::max(north, p[1].get<double>());
      }
    }
    if (r.status != "error") {
      low = std::min(low, r.mean_index);
      high = std::max(high, r.mean_index);
    }
  }
  const bool have_map = west < east && south < north;
  // Equirectangular with the farm's mean latitude: true shapes at farm scale.
  const double kx = have_map ? std::cos((south + north) / 2 * M_PI / 180.0) : 1.0;
  const double width = 960, height = have_map ? std::min(900.0, width * (north - south) / ((east - west) * kx)) : 0;
  const double scale = have_map ? std::min(width / ((east - west) * kx), height / (north - south)) : 1;
  int failed = 0;
  std::string index_name;
  for (const auto& r : rows) {
    failed += r.status == "error";
    if (index_name.empty()) index_name = r.index;
  }
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fieldrx farm summary</title>\n<style>"
          "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}"
          "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}td.t,th{text-align:left}"
          "tr.error td{background:#fde8e8}svg path{stroke:#333;stroke-width:0.6;fill-rule:evenodd}"
          "svg a:hover path{stroke:#000;stroke-width:2}.legend span{display:inline-block;width:40px;height:12px}</style></head><body>\n";
  html << "<h1>Farm summary</h1>\n<p>" << rows.size() << " fields, " << failed << " failed. Fields coloured by mean "
       << html_escape(index_name) << " (red low, green high; grey: failed).</p>\n";
  if (have_map) {
    html << "<p class=\"legend\">" << fixed(low, 3) << " ";
    for (int i = 0; i <= 4; ++i) html << "<span style=\"background:" << ramp_colour(i / 4.0) << "\"></span>";
    html << " " << fixed(high, 3) << "</p>\n";
    html << "<svg width=\"" << fixed(width, 0) << "\" height=\"" << fixed(height, 0)
         << "\" viewBox=\"0 0 " << fixed(width, 0) << ' ' << fixed(height, 0) << "\">\n";
    for (const auto& r : rows) {
      const auto rings = rings_of(r.boundary);
      if (rings.empty()) continue;
      std::ostringstream d;
      for (const json* ring : rings) {
        bool first = true;
        for (const auto& p : *ring) {
          d << (first ? 'M' : 'L') << fixed((p[0].get<double>() - west) * kx * scale, 1) << ','
            << fixed((north - p[1].get<double>()) * scale, 1);
          first = false;
        }
        d << 'Z';
      }
      const bool ok = r.status != "error";
      const std::string fill = ok ? ramp_colour(high > low ? (r.mean_index - low) / (high - low) : 0.5) : "#bbbbbb";
      const std::string title = r.job + " / " + r.field + (ok ? ": mean " + r.index + " " + fixed(r.mean_index, 3) : ": " + r.error);
      if (ok) html << "<a href=\"" << html_escape(r.folder) << "/report.html\">";
      html << "<path d=\"" << d.str() << "\" fill=\"" << fill << "\"><title>" << html_escape(title) << "</title></path>";
      if (ok) html << "</a>";
      html << '\n';
    }
    html << "</svg>\n";
  }
  html << "<table>\n<tr><th>job</th><th>field</th><th>crop</th><th>area ha</th><th>mean index</th><th>zones</th>"
          "<th>product</th><th>tank loads</th><th>status</th><th>error / warnings</th><th>report</th></tr>\n";
  for (const auto& r : rows) {
    const bool ok = r.status != "error";
    html << "<tr class=\"" << r.status << "\"><td class=\"t\">" << html_escape(r.job) << "</td><td class=\"t\">"
         << html_escape(r.field) << "</td><td class=\"t\">" << html_escape(r.crop) << "</td><td>" << fixed(r.area_ha, 2)
         << "</td><td>" << (ok ? fixed(r.mean_index, 3) + " " + html_escape(r.index) : "") << "</td><td>" << r.zones
         << "</td><td>" << (ok ? fixed(r.total_product, 1) + " " + r.product_unit : "") << "</td><td>" << r.tank_loads
         << "</td><td class=\"t\">" << r.status << "</td><td class=\"t\">" << html_escape(r.error) << "</td><td class=\"t\">";
    if (ok) html << "<a href=\"" << html_escape(r.folder) << "/report.html\">report</a>";
    html << "</td></tr>\n";
  }
  html << "</table>\n</body></html>\n";
  return html.str();
}

bool row_order(const BatchRow& a, const BatchRow& b) { return std::tie(a.job, a.field) < std::tie(b.job, b.field); }

// ---------------------------------------------------------------------------------------------
// Progress over fields: done / failed / skipped and an ETA, on a terminal only.
class FieldProgress {
 public:
  FieldProgress(long long total, bool enabled)
      : total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void advance(bool failed) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_;
    failed_ += failed;
    draw(false);
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    draw(true);
  }

 private:
  void draw(bool final_line) {
    if (!enabled_ || total_ == 0) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (!final_line && elapsed - last_ < 0.2 && done_ < total_) return;
    last_ = elapsed;
    const int width = 30, filled = static_cast<int>(width * done_ / total_);
    const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0;
    char line[160];
    std::snprintf(line, sizeof line, "\rfields [%s%s] %lld/%lld  failed %lld  ETA %d:%02d ", std::string(filled, '#').c_str(),
                  std::string(width - filled, '.').c_str(), done_, total_, failed_, static_cast<int>(eta) / 60,
                  static_cast<int>(eta) % 60);
    std::fputs(line, stderr);
    if (final_line) std::fputs("\n", stderr);
    std::fflush(stderr);
  }
  std::mutex mutex_;
  long long total_, done_ = 0, failed_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  double last_ = -1;
};

// A job as opened for the batch: its stages, image and fields, or the error that stopped it.
struct OpenedJob {
  const BatchJobSpec* spec = nullptr;
  std::string output_dir, error, settings_hash;
  std::string calibration_plan;  // dry run: the flight mosaic that a real run would build first
  PrescribeJob job;
  OpenedPrescribeJob opened;
  bool ok = false;
};

// Everything the outputs of a job depend on except the field: the settings and the input files
// (for a flight_dir job, every band file of the flight and panel folders).
std::string job_settings_hash(const BatchJobSpec& spec, const PrescribeJob& job) {
  StableHash hash;
  if (const auto* flight = dynamic_cast<const CapturesReader*>(job.image.get())) {
    hash.add("flight " + flight_inputs_hash(flight->flight()));
  }
  hash.add(std::string("fieldrx ") + FIELDRX_VERSION);
  YAML::Emitter emitter;
  emitter << spec.settings;
  hash.add(emitter.c_str());
  std::vector<std::string> files;
  for (const char* key : {"image", "fields", "exclusions", "machine"}) {
    const YAML::Node value = spec.settings[key];
    if (!value || value.IsNull()) continue;
    if (value.IsSequence()) {
      for (const auto& item : value) files.push_back(item.as<std::string>());
    } else if (std::string(key) != "machine" || looks_like_path(value.Scalar())) {
      files.push_back(value.as<std::string>());
    }
  }
  for (const auto& file : files) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    const auto mtime = fs::last_write_time(file, ec);
    hash.add(file + "|" + std::to_string(ec ? 0 : size) + "|" +
             std::to_string(ec ? 0 : mtime.time_since_epoch().count()));
  }
  return hash.hex();
}

std::string field_hash(const std::string& settings_hash, const Field& field) {
  StableHash hash;
  hash.add(settings_hash);
  hash.add(field.id);
  if (field.boundary.wgs84) {
    std::string wkb(field.boundary.wgs84->WkbSize(), '\0');
    field.boundary.wgs84->exportToWkb(wkbNDR, reinterpret_cast<unsigned char*>(wkb.data()));
    hash.add(wkb);
  }
  return hash.hex();
}

json boundary_json(const Field& field) {
  if (!field.boundary.wgs84) return nullptr;
  char** options = nullptr;
  options = CSLSetNameValue(options, "COORDINATE_PRECISION", "6");
  char* text = OGR_G_ExportToJsonEx(OGRGeometry::ToHandle(field.boundary.wgs84.get()), options);
  CSLDestroy(options);
  if (text == nullptr) return nullptr;
  json geometry = json::parse(text, nullptr, false);
  CPLFree(text);
  return geometry.is_discarded() ? json(nullptr) : geometry;
}

std::string relative_to(const std::string& path, const std::string& base) {
  return fs::path(path).lexically_normal().lexically_relative(fs::path(base).lexically_normal()).generic_string();
}

// One unit of work: a field of a job, or a job that could not be opened (field empty).
struct WorkItem {
  OpenedJob* job = nullptr;
  const Field* field = nullptr;
  std::string field_id, hash, folder;
  bool skip = false;
  BatchRow row;
};

std::string shard_json_name(const Shard& shard) { return "summary-" + shard.name() + ".json"; }

}  // namespace

// ---------------------------------------------------------------------------------------------

const std::vector<std::pair<std::string, std::string>>& manifest_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"name", "job name, unique: its output folder OUTDIR/<name>"},
      {"fields", "field boundaries: GeoJSON, Shapefile, KML/KMZ, GeoPackage"},
      {"field_id", "attribute holding the field id"},
      {"ids", "only these field ids (list, or comma-separated)"},
      {"crop_attribute", "attribute holding the crop"},
      {"ab_line_attribute", "attribute holding each field's A-B line"},
      {"buffer_m", "inner no-spray buffer in m"},
      {"exclusions", "areas to leave out (water, buildings, poles)"},
      {"exclusion_buffer_m", "buffer around exclusions in m"},
      {"image", "orthomosaic, per-band GeoTIFFs (list), or an index map"},
      {"flight_dir", "instead of image: a raw multispectral flight folder, mosaicked once into OUTDIR/<name>/mosaic.tif"},
      {"panel_dir", "flight_dir: a reflectance panel capture folder (default: panel captures in the flight)"},
      {"panel_albedo", "flight_dir: panel albedo, one value or one per band (default: metadata or serial)"},
      {"panel_corners_px", "flight_dir: the panel's corners x1,y1,...,x4,y4 in px (a panel without a MicaSense QR code)"},
      {"sun_sensor", "flight_dir: irradiance from the sun sensor (true/false; with a panel: scaled by it)"},
      {"mosaic_gsd_m", "flight_dir: mosaic cell size in m (default: the median capture GSD)"},
      {"ground_elevation_m", "flight_dir: ground height above the GPS datum in m (default: the panel capture's)"},
      {"bands", "band roles in order, e.g. blue,green,red,red_edge,nir (or ndvi)"},
      {"nodata", "image nodata value (default: the file's)"},
      {"scale", "reflectance per digital number, e.g. 1/65535"},
      {"index", "zoning index (default ndvi); several with method kmeans"},
      {"zones", "number of zones 2-7 (default 3)"},
      {"method", "quantile, equal_interval, jenks (default) or kmeans"},
      {"cell_size_m", "prescription grid cell edge in m (default 10; along the A-B line)"},
      {"cell_width_m", "cell edge across the A-B line in m, e.g. the swath (default: cell_size_m)"},
      {"ab_line", "north (default), auto (longest edge), a bearing, or lonA,latA,lonB,latB"},
      {"delivery_cell_size_m", "with ab_line: ISOXML/drone raster cell edge in m (default: half the A-B cell)"},
      {"smoothing", "majority filter window 0, 3 (default) or 5"},
      {"min_zone_area_m2", "minimum zone patch area in m2 (default 500)"},
      {"edge_cells", "centre (default) or touching"},
      {"rates", "rate per zone, zone 1 (lowest index) first"},
      {"rate_mode", "absolute (default) or percent_of_base"},
      {"base_rate", "base rate for percent_of_base"},
      {"rate_function", "index,rate pairs instead of rates"},
      {"unit", "L/ha (default), kg/ha, L/mu or kg/mu"},
      {"label_min_rate", "product label's minimum rate"},
      {"label_max_rate", "product label's maximum rate"},
      {"machine", "machine profile name (configs/machines) or YAML path"},
      {"product", "product name"},
      {"isoxml_version", "4 (default) or 3"},
      {"grid_type", "ISOXML grid type 2 (default) or 1"},
      {"customer", "ISOXML customer"},
      {"farm", "ISOXML farm"},
      {"report", "write report.html and maps (default true)"},
  };
  return keys;
}

BatchManifest load_manifest(const std::string& path) {
  BatchManifest manifest;
  manifest.path = path;
  if (!fs::exists(path)) throw ConfigError(path + ": no such manifest file");
  StableHash content;
  content.add(read_text(path));
  manifest.content_hash = content.hex();
  const std::string base_dir = fs::absolute(path).parent_path().string();
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  std::vector<YAML::Node> jobs;
  YAML::Node defaults(YAML::NodeType::Map);
  if (extension == ".csv") {
    jobs = csv_jobs(path);
  } else {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      throw ConfigError(path + ": not valid YAML/JSON: " + e.what());
    }
    if (!root.IsMap() || !root["jobs"] || !root["jobs"].IsSequence()) {
      throw ConfigError(path + ": a manifest is a map with a 'jobs:' list (and optional 'defaults:' and 'execution:')");
    }
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (key != "jobs" && key != "defaults" && key != "execution") {
        throw ConfigError(path + ": unknown top-level key '" + key + "'; a manifest has jobs, defaults and execution");
      }
    }
    if (root["defaults"]) {
      if (!root["defaults"].IsMap()) throw ConfigError(path + ": 'defaults' must be a map of job keys");
      defaults = root["defaults"];
    }
    if (root["execution"]) {
      PipelineConfig execution_only;
      execution_only.source = path;
      execution_only.execution = root["execution"];
      manifest.execution = parse_execution(execution_only);
    }
    for (const auto& job : root["jobs"]) {
      if (!job.IsMap()) throw ConfigError(path + ": every entry of 'jobs' must be a map of job keys");
      jobs.push_back(job);
    }
  }
  if (jobs.empty()) throw ConfigError(path + ": no jobs");
  std::set<std::string> names, folders;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    BatchJobSpec spec;
    YAML::Node settings(YAML::NodeType::Map);
    for (const auto& entry : defaults) settings[entry.first.as<std::string>()] = YAML::Clone(entry.second);
    int row = 0;
    for (const auto& entry : jobs[i]) {
      const std::string key = entry.first.as<std::string>();
      if (key == "__row") {
        row = entry.second.as<int>();
        continue;
      }
      settings[key] = YAML::Clone(entry.second);
    }
    spec.where = path + (row ? ": row " + std::to_string(row) : ": job " + std::to_string(i + 1));
    if (settings["name"] && settings["name"].IsScalar()) spec.where += " '" + settings["name"].Scalar() + "'";
    check_and_resolve(settings, spec.where, base_dir);
    spec.name = settings["name"].as<std::string>();
    if (!names.insert(spec.name).second) throw ConfigError(spec.where + ": the job name '" + spec.name + "' is used twice; names must be unique");
    if (!folders.insert(folder_name(spec.name)).second) {
      throw ConfigError(spec.where + ": job '" + spec.name + "' would share the output folder '" + folder_name(spec.name) +
                        "' with another job; rename one");
    }
    spec.settings = settings;
    manifest.jobs.push_back(std::move(spec));
  }
  return manifest;
}

PipelineConfig batch_job_config(const BatchJobSpec& job, const std::string& output_dir) {
  const YAML::Node& s = job.settings;
  auto stage = [](const char* type) { return StageConfig{type, YAML::Node(YAML::NodeType::Map)}; };
  auto copy = [&](StageConfig& to, const char* key, const char* option) {
    if (s[key] && !s[key].IsNull()) to.options[option] = YAML::Clone(s[key]);
  };
  PipelineConfig config;
  config.source = job.where;
  config.output = output_dir;
  StageConfig image = stage(s["flight_dir"] && !s["flight_dir"].IsNull() ? "readers.captures" : "readers.orthomosaic");
  if (image.type == "readers.captures") {
    for (const char* key : {"flight_dir", "panel_dir", "panel_albedo", "panel_corners_px", "sun_sensor", "mosaic_gsd_m",
                            "ground_elevation_m"}) {
      copy(image, key, key);
    }
  } else if (s["image"].IsSequence()) {
    image.options["files"] = YAML::Clone(s["image"]);
  } else {
    image.options["files"].push_back(s["image"].as<std::string>());
  }
  copy(image, "bands", "bands");
  copy(image, "nodata", "nodata");
  copy(image, "scale", "scale");
  StageConfig fields = stage("readers.fields");
  copy(fields, "fields", "file");
  copy(fields, "field_id", "field_id");
  copy(fields, "ids", "ids");
  copy(fields, "crop_attribute", "crop_attribute");
  copy(fields, "ab_line_attribute", "ab_line_attribute");
  copy(fields, "buffer_m", "buffer_m");
  copy(fields, "exclusions", "exclusions");
  copy(fields, "exclusion_buffer_m", "exclusion_buffer_m");
  const YAML::Node index = s["index"] && !s["index"].IsNull() ? YAML::Clone(s["index"]) : YAML::Node("ndvi");
  StageConfig indices = stage("filters.indices");
  indices.options["indices"] = YAML::Clone(index);
  StageConfig zones = stage("aggregators.zones");
  zones.options["indices"] = YAML::Clone(index);
  copy(zones, "zones", "zones");
  copy(zones, "method", "method");
  for (const char* key : {"cell_size_m", "cell_width_m", "ab_line", "delivery_cell_size_m"}) copy(zones, key, key);
  copy(zones, "smoothing", "smoothing");
  copy(zones, "min_zone_area_m2", "min_zone_area_m2");
  copy(zones, "edge_cells", "edge_cells");
  StageConfig prescription = stage("aggregators.prescription");
  for (const char* key : {"rates", "rate_mode", "base_rate", "rate_function", "unit", "label_min_rate", "label_max_rate", "machine", "product"}) {
    copy(prescription, key, key);
  }
  StageConfig isoxml = stage("writers.isoxml");
  copy(isoxml, "isoxml_version", "version");
  copy(isoxml, "grid_type", "grid_type");
  copy(isoxml, "customer", "customer");
  copy(isoxml, "farm", "farm");
  config.stages = {image, fields, indices, zones, prescription, isoxml, stage("writers.zones"), stage("writers.rx_raster")};
  bool report = true;
  if (s["report"] && !s["report"].IsNull()) {
    try {
      report = s["report"].as<bool>();
    } catch (const YAML::Exception&) {
      throw ConfigError(job.where + ": 'report' must be true or false, not '" + s["report"].Scalar() + "'");
    }
  }
  if (report) config.stages.push_back(stage("writers.report"));
  config.execution = YAML::Node(YAML::NodeType::Map);
  return config;
}

std::string Shard::name() const { return "shard-" + std::to_string(index) + "-of-" + std::to_string(count); }

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard shard;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    std::size_t used = 0;
    shard.index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("junk");
    const std::string count = text.substr(slash + 1);
    shard.count = std::stoi(count, &used);
    if (used != count.size()) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    throw ConfigError("--shard '" + text + "': expected K/N, e.g. 2/4 for the second of four shards");
  }
  if (shard.count < 1 || shard.index < 1 || shard.index > shard.count) {
    throw ConfigError("--shard '" + text + "': K must be 1..N and N at least 1, e.g. 2/4");
  }
  return shard;
}

Shard shard_from_environment() {
  auto get = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  auto number = [](const std::string& variable, const std::string& value) {
    try {
      std::size_t used = 0;
      const int n = std::stoi(value, &used);
      if (used == value.size()) return n;
    } catch (const std::exception&) {
    }
    throw ConfigError("environment variable " + variable + "='" + value + "' is not a whole number");
  };
  if (!get("SLURM_ARRAY_TASK_ID").empty()) {
    const std::string count = get("SLURM_ARRAY_TASK_COUNT");
    if (count.empty()) throw ConfigError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard K/N");
    // Arrays may be --array=0-3 or 1-4: the offset from the array's minimum is the shard.
    const std::string min = get("SLURM_ARRAY_TASK_MIN");
    const int first = min.empty() ? 0 : number("SLURM_ARRAY_TASK_MIN", min);
    const int id = number("SLURM_ARRAY_TASK_ID", get("SLURM_ARRAY_TASK_ID"));
    return parse_shard(std::to_string(id - first + 1) + "/" + std::to_string(number("SLURM_ARRAY_TASK_COUNT", count)));
  }
  if (!get("JOB_COMPLETION_INDEX").empty()) {
    const std::string count = get("FIELDRX_SHARD_COUNT");
    if (count.empty()) {
      throw ConfigError("JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but FIELDRX_SHARD_COUNT is not; set it to the Job's completions");
    }
    return parse_shard(std::to_string(number("JOB_COMPLETION_INDEX", get("JOB_COMPLETION_INDEX")) + 1) + "/" + count);
  }
  return {};
}

json to_json(const BatchRow& r) {
  return json{{"job", r.job},
              {"field", r.field},
              {"crop", r.crop},
              {"area_ha", rounded(r.area_ha, 4)},
              {"index", r.index},
              {"mean_index", rounded(r.mean_index, 5)},
              {"zones", r.zones},
              {"total_product", rounded(r.total_product, 3)},
              {"product_unit", r.product_unit},
              {"rate_unit", r.rate_unit},
              {"tank_loads", r.tank_loads},
              {"status", r.status},
              {"error", r.error},
              {"folder", r.folder},
              {"boundary", r.boundary}};
}

BatchRow batch_row_from_json(const json& j) {
  BatchRow r;
  r.job = j.at("job").get<std::string>();
  r.field = j.at("field").get<std::string>();
  r.crop = j.value("crop", "");
  r.area_ha = j.value("area_ha", 0.0);
  r.index = j.value("index", "");
  r.mean_index = j.value("mean_index", 0.0);
  r.zones = j.value("zones", 0);
  r.total_product = j.value("total_product", 0.0);
  r.product_unit = j.value("product_unit", "");
  r.rate_unit = j.value("rate_unit", "");
  r.tank_loads = j.value("tank_loads", 0);
  r.status = j.value("status", "error");
  r.error = j.value("error", "");
  r.folder = j.value("folder", "");
  r.boundary = j.contains("boundary") ? j["boundary"] : json(nullptr);
  return r;
}

void write_farm_summary(std::vector<BatchRow> rows, const std::string& folder) {
  std::stable_sort(rows.begin(), rows.end(), row_order);
  make_directories(folder);
  write_atomically(folder + "/summary.csv", summary_csv(rows));
  write_atomically(folder + "/summary.json", summary_json(rows).dump(1) + "\n");
  write_atomically(folder + "/index.html", index_html(rows));
}

BatchResult run_batch(const BatchManifest& manifest, const BatchOptions& options) {
  if (options.output_dir.empty()) throw ConfigError("fieldrx batch: no output folder; pass -o OUTDIR");
  const int threads = resolve_threads(options.threads);
  ExecutionSettings pass = manifest.execution;
  if (options.tile_px > 0) pass.tile_px = options.tile_px;
  if (options.memory_mb > 0) pass.memory_mb = options.memory_mb;
  const int total_memory_mb = pass.memory_mb;
  // Fields run side by side, each with its own tiles in flight: the budget is shared among them.
  pass.memory_mb = std::max(64, total_memory_mb / threads);
  pass.threads = threads;
  pass.quiet = true;
  set_log_quiet(options.quiet);
  configure_gdal(gdal_cache_for_budget(static_cast<long long>(total_memory_mb) << 20));

  // 1. Open every job: stages, image header, boundaries. A job that cannot open is one error row.
  std::vector<std::unique_ptr<OpenedJob>> jobs;
  for (const auto& spec : manifest.jobs) {
    auto opened = std::make_unique<OpenedJob>();
    opened->spec = &spec;
    opened->output_dir = options.output_dir + "/" + folder_name(spec.name);
    try {
      opened->job = build_prescribe_job(batch_job_config(spec, opened->output_dir), stage_registry());
      opened->settings_hash = job_settings_hash(spec, opened->job);
      // A flight_dir job calibrates its flight here, once, with the batch's threads.
      opened->job.execution.threads = threads;
      opened->job.execution.quiet = options.quiet;
      opened->job.execution.force_progress = options.force_progress;
      const auto* flight = dynamic_cast<const CapturesReader*>(opened->job.image.get());
      const std::string mosaic_folder = flight ? flight_mosaic_folder(*flight, opened->output_dir) : "";
      if (options.dry_run && flight && !flight_mosaic_up_to_date(flight->flight(), mosaic_folder)) {
        opened->calibration_plan = "calibrate " + spec.name + ": " + flight->flight().flight_dir + " -> " + mosaic_folder +
                                   "/mosaic.tif, then run its fields";
      } else {
        opened->opened = open_prescribe_job(opened->job);
        opened->ok = true;
      }
    } catch (const std::exception& e) {
      opened->error = e.what();
      log_warning("job " + spec.name + ": " + e.what());
    }
    jobs.push_back(std::move(opened));
  }

  // 2. The plan: every (job, field) in sorted order, this shard's share, up-to-date ones skipped.
  std::vector<WorkItem> items;
  BatchResult result;
  for (auto& job : jobs) {
    if (!job->calibration_plan.empty()) {  // dry run: its fields are known once the mosaic exists
      result.plan.push_back(job->calibration_plan);
      continue;
    }
    if (!job->ok) {
      WorkItem item;
      item.job = job.get();
      items.push_back(item);
      continue;
    }
    for (const Field& field : job->opened.fields.fields) {
      WorkItem item;
      item.job = job.get();
      item.field = &field;
      item.field_id = field.id;
      items.push_back(item);
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const WorkItem& a, const WorkItem& b) {
    return std::tie(a.job->spec->name, a.field_id) < std::tie(b.job->spec->name, b.field_id);
  });
  std::vector<WorkItem> mine;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (static_cast<int>(i % options.shard.count) == options.shard.index - 1) mine.push_back(std::move(items[i]));
  }

  std::vector<WorkItem*> to_run;
  for (auto& item : mine) {
    const std::string& job_name = item.job->spec->name;
    item.row.job = job_name;
    item.row.field = item.field_id;
    item.row.index = item.job->spec->settings["index"] && item.job->spec->settings["index"].IsScalar()
                         ? item.job->spec->settings["index"].Scalar()
                         : "ndvi";
    if (!item.job->ok) {
      item.row.status = "error";
      item.row.error = item.job->error;
      result.plan.push_back("fail " + job_name + " (job cannot start: " + item.job->error + ")");
      continue;
    }
    item.folder = item.job->output_dir + "/" + field_folder_name(item.field_id);
    item.hash = field_hash(item.job->settings_hash, *item.field);
    item.row.crop = item.job->opened.crop_of(item.field_id);
    item.row.area_ha = item.field->boundary.area_ha();
    item.row.boundary = boundary_json(*item.field);
    item.row.folder = relative_to(item.folder, options.output_dir);
    if (!options.force) {
      const std::string marker_path = item.folder + "/" + kDoneMarker;
      if (fs::exists(marker_path)) {
        const json marker = json::parse(read_text(marker_path), nullptr, false);
        if (!marker.is_discarded() && marker.value("hash", "") == item.hash && marker.contains("row")) {
          item.skip = true;
          item.row = batch_row_from_json(marker["row"]);
          item.row.folder = relative_to(item.folder, options.output_dir);
        }
      }
    }
    result.plan.push_back((item.skip ? "skip " : "run  ") + job_name + "/" + item.field_id + (item.skip ? " (up to date)" : ""));
    if (!item.skip) to_run.push_back(&item);
  }
  if (options.dry_run) {
    for (const auto& item : mine) {
      result.rows.push_back(item.row);
      result.skipped += item.skip;
    }
    return result;
  }

  // 3. The fields, in parallel. One arena of `threads`; each field's tile pass opens its own
  // arena of the same size inside it, and the global limit keeps the total at `threads`
  // worker slots, so nested passes share the cores instead of oversubscribing them.
  make_directories(options.output_dir);
  FieldProgress progress(static_cast<long long>(to_run.size()), !options.quiet && (options.force_progress || stderr_is_terminal()));
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, to_run.size(), 1), [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t i = range.begin(); i != range.end(); ++i) {
          WorkItem& item = *to_run[i];
          const OpenedJob& job = *item.job;
          const std::string marker_path = item.folder + "/" + kDoneMarker;
          try {
            // The marker goes first: from here until the new one is written the field is not done.
            std::error_code ignored;
            fs::remove(marker_path, ignored);
            const FieldOutcome outcome = prescribe_one_field(job.job, job.opened, *item.field, pass);
            item.row.status = outcome.status;
            item.row.error = outcome.message;
            item.row.mean_index = outcome.mean_index;
            item.row.zones = outcome.zones;
            item.row.total_product = outcome.total_product;
            item.row.product_unit = outcome.product_unit;
            item.row.rate_unit = outcome.unit;
            item.row.tank_loads = outcome.tank_loads;
            json marker{{"hash", item.hash}, {"fieldrx_version", FIELDRX_VERSION}, {"row", to_json(item.row)}};
            write_atomically(marker_path, marker.dump(1) + "\n");
            // Read back through JSON, like a skipped field's row, so both print the same bytes.
            item.row = batch_row_from_json(marker["row"]);
          } catch (const std::exception& e) {
            item.row.status = "error";
            item.row.error = e.what();
            item.row.folder.clear();  // whatever is there is not a prescription
            log_warning(job.spec->name + "/" + item.field_id + ": " + e.what());
          }
          progress.advance(item.row.status == "error");
        }
      });
    });
  }
  progress.finish();

  // 4. Rows in (job, field) order, and the summary of this process.
  for (auto& item : mine) {
    item.row = batch_row_from_json(to_json(item.row));
    result.rows.push_back(item.row);
    result.failed += item.row.status == "error";
    result.skipped += item.skip;
  }
  result.ran = static_cast<int>(to_run.size());
  if (options.shard.sharded()) {
    json shard{{"shard", options.shard.index},
               {"shards", options.shard.count},
               {"manifest_hash", manifest.content_hash},
               {"fieldrx_version", FIELDRX_VERSION},
               {"rows", json::array()}};
    for (const auto& row : result.rows) shard["rows"].push_back(to_json(row));
    write_atomically(options.output_dir + "/" + shard_json_name(options.shard), shard.dump(1) + "\n");
    write_atomically(options.output_dir + "/summary-" + options.shard.name() + ".csv", summary_csv(result.rows));
  } else {
    write_farm_summary(result.rows, options.output_dir);
  }
  return result;
}

std::vector<BatchRow> merge_batch_shards(const std::vector<std::string>& inputs, const std::string& output) {
  std::map<int, std::string> seen;  // shard index -> file
  int count = 0;
  std::string manifest_hash;
  std::vector<BatchRow> rows;
  for (const auto& input : inputs) {
    if (!fs::is_directory(input)) throw ConfigError("fieldrx merge: '" + input + "' is not a folder; pass the batch output folders");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(input)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("summary-shard-", 0) == 0 && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const json doc = json::parse(read_text(file.string()), nullptr, false);
      if (doc.is_discarded() || !doc.contains("rows")) throw ConfigError(file.string() + ": not a fieldrx shard summary");
      const int index = doc.value("shard", 0), shards = doc.value("shards", 0);
      if (count == 0) {
        count = shards;
        manifest_hash = doc.value("manifest_hash", "");
      }
      if (shards != count || doc.value("manifest_hash", "") != manifest_hash) {
        throw ConfigError(file.string() + ": shard " + std::to_string(index) + " of " + std::to_string(shards) +
                          " comes from another batch (" + seen.begin()->second + " is of " + std::to_string(count) +
                          " shards of another manifest); merge the shards of one run");
      }
      if (seen.count(index)) {
        throw ConfigError(file.string() + ": shard " + std::to_string(index) + " appears twice (also " + seen[index] + ")");
      }
      seen[index] = file.string();
      for (const auto& row : doc["rows"]) {
        BatchRow r = batch_row_from_json(row);
        // Folders are relative to the shard's output; make them relative to the merged one.
        r.folder = relative_to((fs::absolute(input) / r.folder).string(), fs::absolute(output).string());
        rows.push_back(std::move(r));
      }
    }
  }
  if (count == 0) throw ConfigError("fieldrx merge: no summary-shard-K-of-N.json in the given folders; run fieldrx batch --shard K/N first");
  std::string missing;
  for (int k = 1; k <= count; ++k) {
    if (!seen.count(k)) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
  }
  if (!missing.empty()) throw ConfigError("fieldrx merge: shard(s) " + missing + " of " + std::to_string(count) + " missing; run them, then merge again");
  write_farm_summary(rows, output);
  std::stable_sort(rows.begin(), rows.end(), row_order);
  return rows;
}

}  // namespace fieldrx
