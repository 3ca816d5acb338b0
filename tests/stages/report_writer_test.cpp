// SPDX-License-Identifier: Apache-2.0
#include "stages/writers/report_writer.hpp"

#include <ogr_geometry.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "pipeline/errors.hpp"
#include "stages/writers/map_render.hpp"
#include "stages/writers/summary_json.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kFieldId = "A<&\">7 'north'";
const std::string kEscapedId = "A&lt;&amp;&quot;&gt;7 &#39;north&#39;";

// Zone areas and the field area, chosen by hand (m²): what the workflow would have clipped.
constexpr double kArea1 = 3481.5, kArea2 = 4000.0, kArea3 = 3949.0;
constexpr double kBoundaryArea = 11800.0;

// A 6 x 5 grid of 20 m cells near 47.25 N 132.63 E (Heilongjiang): zone 1 in the two western
// columns, zone 2 in the middle two, zone 3 in the eastern two; the NW cell is out of the field.
// Rates 12 / 15 / 18 L/ha. A 10 L tank with 0.5 L dead volume and a 10 % reserve.
struct Fixture {
  Field field;
  FieldPrescription rx;

  Fixture() {
    field.id = kFieldId;
    field.utm_epsg = 32653;
    field.boundary.area_m2 = kBoundaryArea;
    field.treatable.area_m2 = kBoundaryArea;
    rx.field = &field;
    rx.crop = "soybean";

    CellGridGeometry& g = rx.grid;
    g.cell_size_m = g.cell_width_m = 20;
    const double cell_lat_deg = 20 / 111320.0, cell_lon_deg = 20 / (111320.0 * std::cos(47.25 * M_PI / 180));
    g.columns = 6;
    g.rows = 5;
    g.transform = {132.63, cell_lon_deg, 0, 47.25 + g.rows * cell_lat_deg, 0, -cell_lat_deg};
    // Boundary a little inside the grid.
    const double w = g.west_lon() + 0.2 * cell_lon_deg, e = g.west_lon() + 5.8 * cell_lon_deg;
    const double s = g.south_lat() + 0.2 * cell_lat_deg, n = g.north_lat() - 0.2 * cell_lat_deg;
    OGRGeometry* boundary = nullptr;
    const std::string wkt = "POLYGON ((" + std::to_string(w) + " " + std::to_string(s) + ", " +
                            std::to_string(e) + " " + std::to_string(s) + ", " + std::to_string(e) +
                            " " + std::to_string(n) + ", " + std::to_string(w) + " " +
                            std::to_string(n) + ", " + std::to_string(w) + " " + std::to_string(s) +
                            "))";
    REQUIRE(OGRGeometryFactory::createFromWkt(wkt.c_str(), nullptr, &boundary) == OGRERR_NONE);
    field.boundary.wgs84.reset(boundary);

    rx.zones = cv::Mat::zeros(5, 6, CV_8U);
    rx.rates = cv::Mat::zeros(5, 6, CV_32F);
    rx.cell_in_field = cv::Mat::zeros(5, 6, CV_8U);
    const float rates[] = {12, 15, 18};
    for (int r = 0; r < 5; ++r) {
      for (int c = 0; c < 6; ++c) {
        if (r == 0 && c == 0) continue;
        const int zone = 1 + c / 2;
        rx.zones.at<unsigned char>(r, c) = static_cast<unsigned char>(zone);
        rx.rates.at<float>(r, c) = rates[zone - 1];
        rx.cell_in_field.at<unsigned char>(r, c) = 1;
      }
    }
    rx.zoning_layers = {"ndvi"};
    rx.method = "jenks";
    rx.zones_requested = 3;
    rx.gvf = 0.86;
    rx.fit_by_zone_count = {{2, 2, 0.71}, {3, 3, 0.86}, {4, 4, 0.9},
                            {5, 5, 0.93}, {6, 6, 0.95}, {7, 6, 0.96}};
    rx.rate_unit = "L/ha";
    rx.product_name = "Fungicide <X>";
    // Products worked by hand: 12 x 0.34815 = 4.1778, 15 x 0.4 = 6, 18 x 0.3949 = 7.1082.
    rx.zone_rows = {{1, 9, kArea1, 0.412, 12, 4.1778},
                    {2, 10, kArea2, 0.553, 15, 6.0},
                    {3, 10, kArea3, 0.701, 18, 7.1082}};
    rx.total_product = 17.286;
    rx.treated_area_m2 = 11430.5;
    rx.position_lost_rate = 15;
    rx.machine.key = "test-drone";
    rx.machine.name = "Test drone";
    rx.machine.swath_m = 9;
    rx.machine.speed_m_per_s = 7;
    rx.machine.min_flow_l_per_min = 1.5;
    rx.machine.max_flow_l_per_min = 24;
    rx.machine.tank_l = 10;
    rx.machine.tank_dead_volume_l = 0.5;
    rx.machine.reserve_fraction = 0.1;
    // ceil(17.286 x 1.1 / 9.5) = ceil(2.0015) = 3.
    rx.tank_loads = 3;
    rx.warnings = {"zone 3: rate <raised> & \"checked\""};

    StatisticsSummary ndvi;
    ndvi.count = 1000;
    ndvi.skipped = 12;
    ndvi.mean = 0.55;
    ndvi.std = 0.12;
    ndvi.min = 0.1;
    ndvi.max = 0.9;
    ndvi.percentile_ranks = {2, 10, 50, 90, 98};
    ndvi.percentiles = {0.21, 0.38, 0.56, 0.71, 0.8};
    rx.index_statistics = {{"ndvi", ndvi}};
    StatisticsSummary nir = ndvi;
    nir.mean = 0.41;
    StatisticsSummary empty;  // a band without one valid pixel: every value NaN
    empty.count = 0;
    empty.mean = empty.std = empty.min = empty.max = std::nan("");
    empty.percentile_ranks = ndvi.percentile_ranks;
    empty.percentiles.assign(5, std::nan(""));
    rx.band_statistics = {{"nir", nir}, {"red_edge", empty}};
    rx.index_of_mean_reflectance = {{"ndvi", 0.57}};
    rx.valid_pixels = 1000;

    rx.index_preview = cv::Mat(50, 60, CV_32F);
    for (int r = 0; r < 50; ++r) {
      for (int c = 0; c < 60; ++c) rx.index_preview.at<float>(r, c) = 0.2f + 0.01f * c;
    }
    rx.index_preview(cv::Rect(0, 0, 10, 10)).setTo(std::nan(""));
    rx.preview_metres_per_pixel = 2.0;
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  const std::string text = read_text(path);
  return {text.begin(), text.end()};
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

std::vector<std::string> folder_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<ReportWriter> make_writer() {
  auto writer = std::make_unique<ReportWriter>();
  writer->declare();
  return writer;
}

int pixels_of_colour(const cv::Mat& bgr, const cv::Vec3b& colour) {
  int n = 0;
  for (int r = 0; r < bgr.rows; ++r) {
    for (int c = 0; c < bgr.cols; ++c) n += bgr.at<cv::Vec3b>(r, c) == colour;
  }
  return n;
}

}  // namespace

TEST_CASE("base64 and HTML escaping", "[report][kernel]") {
  // Guards the two encoders every byte of the report goes through: RFC 4648 vectors, escaping
  // of the five HTML specials, and bytes that are not UTF-8 (ids from GBK Shapefiles).
  auto b64 = [](const std::string& s) {
    return base64_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  };
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("fooba") == "Zm9vYmE=");
  CHECK(b64("foobar") == "Zm9vYmFy");
  CHECK(b64(std::string("\xff\xfe\x00", 3)) == "//4A");

  CHECK(html_escape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(html_escape("地块 7") == "地块 7");
  CHECK(html_escape("a\xff"
                    "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(html_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  CHECK(html_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(html_escape("\xE5\x9C") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // cut short
  CHECK(html_escape("tab\tbell\x07 del\x7f") == "tab\tbell del");
}

TEST_CASE("map_render additions for the report maps", "[report][kernel]") {
  // Guards the helpers the report's maps rely on: whole-number cell zoom, NaN-aware shrinking
  // (nodata never averages in), the sequential rate palette, and a legend that widens for long
  // labels instead of running off the figure.
  CHECK(cell_zoom_factor({6, 5}, 800) == 133);
  CHECK(cell_zoom_factor({900, 10}, 800) == 1);
  CHECK(cell_zoom_factor({0, 0}, 800) == 1);

  cv::Mat values = (cv::Mat_<float>(3, 3) << 1, 3, 5, NAN, NAN, 7, 2, NAN, NAN);
  const cv::Mat shrunk = block_mean(values, 2);
  REQUIRE(shrunk.size() == cv::Size(2, 2));
  CHECK(shrunk.at<float>(0, 0) == 2.0f);  // (1 + 3) / 2: the two NaNs do not count
  CHECK(shrunk.at<float>(0, 1) == 6.0f);  // partial edge block (5 + 7) / 2
  CHECK(shrunk.at<float>(1, 0) == 2.0f);
  CHECK(std::isnan(shrunk.at<float>(1, 1)));

  CHECK(sequential_colour(0) == cv::Vec3b(217, 255, 255));  // YlGnBu #ffffd9 as BGR
  CHECK(sequential_colour(1) == cv::Vec3b(88, 29, 8));      // #081d58
  const auto colours = sequential_class_colours(5);
  REQUIRE(colours.size() == 5);
  for (std::size_t i = 1; i < colours.size(); ++i) {
    // Darker with every class (sum of channels falls): more product reads as more ink.
    CHECK(colours[i][0] + colours[i][1] + colours[i][2] <
          colours[i - 1][0] + colours[i - 1][1] + colours[i - 1][2]);
  }
  cv::Mat ramp = colorize_sequential((cv::Mat_<float>(1, 2) << 0.f, NAN), 0, 1);
  CHECK(ramp.at<cv::Vec4b>(0, 0) == cv::Vec4b(217, 255, 255, 255));
  CHECK(ramp.at<cv::Vec4b>(0, 1)[3] == 0);

  MapFigure figure;
  figure.map_bgra = cv::Mat(400, 400, CV_8UC4, cv::Scalar(0, 0, 255, 255));
  figure.items = {{cv::Vec3b(0, 0, 255), "short"}};
  const int narrow = render_figure(figure).cols;
  figure.items.push_back(
      {cv::Vec3b(0, 255, 0), "Zone 7 (mean NDVI 0.41) and a long tail of words"});
  const int wide = render_figure(figure).cols;
  CHECK(narrow == 400 + 170 + 3 * 16);  // unchanged for labels that fit
  CHECK(wide > narrow + 100);
}

TEST_CASE("writers.report writes summary.json with the hand-worked totals", "[report][stage]") {
  // Guards the numbers an agronomist signs: total product = sum of rate x area, areas in ha and
  // mu, tank loads, units, grid, statistics, and NaN written as null.
  Fixture f;
  test::TempDir dir;
  const auto written = make_writer()->write_field(f.rx, dir.file("F1"));
  REQUIRE(written.size() == 5);
  CHECK(fs::path(written[4]).filename() == "summary.json");

  const json j = json::parse(read_text(dir.file("F1/summary.json")));
  CHECK(j["field_id"] == kFieldId);
  CHECK(j["crop"] == "soybean");
  CHECK(j["area_ha"].get<double>() == Approx(1.18).epsilon(1e-12));
  CHECK(j["area_mu"].get<double>() == Approx(17.7).epsilon(1e-12));
  CHECK(j["area_mu"].get<double>() == Approx(15 * j["area_ha"].get<double>()).epsilon(1e-15));
  CHECK(j["treated_area_ha"].get<double>() == Approx(1.14305).epsilon(1e-12));
  CHECK(j["index"] == "ndvi");
  CHECK(j["method"] == "jenks");
  CHECK(j["unit"] == "L/ha");
  CHECK(j["product_unit"] == "L");
  // 12 x 0.34815 + 15 x 0.4 + 18 x 0.3949 = 4.1778 + 6 + 7.1082.
  CHECK(j["total_product"].get<double>() == Approx(17.286).epsilon(1e-12));
  CHECK(j["mean_rate"].get<double>() == Approx(17.286 / 1.14305).epsilon(1e-12));
  CHECK(j["tank_loads"] == 3);
  CHECK(j["gvf"].get<double>() == Approx(0.86));
  REQUIRE(j["fit_by_zone_count"].size() == 6);
  CHECK(j["fit_by_zone_count"][5]["requested_zone_count"] == 7);
  CHECK(j["fit_by_zone_count"][5]["zone_count"] == 6);

  REQUIRE(j["zones"].size() == 3);
  const double areas[] = {kArea1 / 1e4, kArea2 / 1e4, kArea3 / 1e4}, rates[] = {12, 15, 18};
  const int cells[] = {9, 10, 10};
  double sum = 0;
  for (int i = 0; i < 3; ++i) {
    const json& z = j["zones"][static_cast<std::size_t>(i)];
    CHECK(z["zone"] == i + 1);
    CHECK(z["cells"] == cells[i]);
    CHECK(z["area_ha"].get<double>() == Approx(areas[i]).epsilon(1e-12));
    CHECK(z["area_mu"].get<double>() == Approx(15 * areas[i]).epsilon(1e-12));
    CHECK(z["rate"].get<double>() == rates[i]);
    CHECK(z["rate_per_mu"].get<double>() == Approx(rates[i] / 15).epsilon(1e-12));
    CHECK(z["product"].get<double>() == Approx(rates[i] * areas[i]).epsilon(1e-12));
    sum += z["product"].get<double>();
  }
  CHECK(sum == Approx(j["total_product"].get<double>()).epsilon(1e-12));

  CHECK(j["statistics"]["indices"]["ndvi"]["mean"].get<double>() == Approx(0.55));
  CHECK(j["statistics"]["indices"]["ndvi"]["percentiles"]["p98"].get<double>() == Approx(0.8));
  CHECK(j["statistics"]["bands"]["nir"]["mean"].get<double>() == Approx(0.41));
  CHECK(j["statistics"]["bands"]["red_edge"]["count"] == 0);
  CHECK(j["statistics"]["bands"]["red_edge"]["mean"].is_null());
  CHECK(j["statistics"]["bands"]["red_edge"]["percentiles"]["p50"].is_null());
  CHECK(j["index_of_mean_reflectance"]["ndvi"].get<double>() == Approx(0.57));
  CHECK(j["machine"]["name"] == "Test drone");
  CHECK(j["machine"]["tank_l"].get<double>() == 10);
  REQUIRE(j["warnings"].size() == 1);
  CHECK(j["warnings"][0] == "zone 3: rate <raised> & \"checked\"");
  CHECK(j["grid"]["rows"] == 5);
  CHECK(j["grid"]["columns"] == 6);
  CHECK(j["grid"]["cell_size_m"].get<double>() == 20);
  CHECK(j["grid"]["west_lon"].get<double>() == 132.63);
  CHECK(j["grid"]["south_lat"].get<double>() == Approx(47.25).epsilon(1e-14));
  CHECK(j["grid"]["crs"] == "EPSG:4326");
}

TEST_CASE("writers.report writes a self-contained, escaped HTML report", "[report][stage]") {
  // Guards what a person opens from disk or mail: no network reference, the escaped id, the
  // zone rows, warnings, the GVF table with the chosen count, and the three maps embedded
  // byte for byte as the PNG files beside it.
  Fixture f;
  test::TempDir dir;
  make_writer()->write_field(f.rx, dir.path().string());
  const std::string html = read_text(dir.file("report.html"));

  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);

  CHECK(html.find(kEscapedId) != std::string::npos);
  CHECK(html.find(kFieldId) == std::string::npos);
  CHECK(html.find("Fungicide &lt;X&gt;") != std::string::npos);
  CHECK(html.find("zone 3: rate &lt;raised&gt; &amp; &quot;checked&quot;") != std::string::npos);

  // Zone rows: area ha, mu, mean index, rate L/ha, L/mu, flow at 9 m x 7 m/s, product.
  CHECK(html.find("<td class=\"n\">0.35</td><td class=\"n\">5.2</td><td class=\"n\">0.412</td><td "
                  "class=\"n\">12.0</td><td class=\"n\">0.80</td><td class=\"n\">4.54</td><td "
                  "class=\"n\">4.18</td></tr>") != std::string::npos);
  CHECK(html.find("<td class=\"n\">0.40</td><td class=\"n\">6.0</td><td class=\"n\">0.553</td><td "
                  "class=\"n\">15.0</td><td class=\"n\">1.00</td><td class=\"n\">5.67</td><td "
                  "class=\"n\">6.00</td></tr>") != std::string::npos);
  CHECK(html.find("<td class=\"n\">0.39</td><td class=\"n\">5.9</td><td class=\"n\">0.701</td><td "
                  "class=\"n\">18.0</td><td class=\"n\">1.20</td><td class=\"n\">6.80</td><td "
                  "class=\"n\">7.11</td></tr>") != std::string::npos);
  // Total row: 29 cells, 1.14 ha, 17.1 mu, mean rate 17.286 / 1.14305 = 15.12 L/ha, 17.29 L.
  CHECK(html.find(
            "<td class=\"n\">29</td><td class=\"n\">1.14</td><td class=\"n\">17.1</td><td></td><td "
            "class=\"n\">15.1</td><td class=\"n\">1.01</td><td></td><td "
            "class=\"n\">17.29</td></tr>") != std::string::npos);
  CHECK(html.find("17.7 mu") != std::string::npos);  // field area
  CHECK(html.find("WGS84 (EPSG:4326)") != std::string::npos);
  CHECK(html.find("EPSG:32653") != std::string::npos);
  CHECK(html.find("0.8") != std::string::npos);
  CHECK(html.find(FIELDRX_VERSION) != std::string::npos);
  CHECK(count_of(html, "<tr class=\"chosen\">") == 1);
  CHECK(html.find("<tr class=\"chosen\"><td class=\"n\">3</td>") != std::string::npos);
  // Tank loads with the arithmetic: ceil(19.01 / 9.5) = ceil(2.00).
  CHECK(html.find("3 = \xE2\x8C\x88"
                  "19.01 / 9.5\xE2\x8C\x89") != std::string::npos);

  CHECK(count_of(html, "<img src=\"data:image/png;base64,") == 3);
  for (const char* name : {kReportIndexMap, kReportZoneMap, kReportRateMap}) {
    INFO(name);
    CHECK(html.find(base64_encode(read_bytes(dir.file(name)))) != std::string::npos);
  }
}

TEST_CASE("writers.report maps decode and show the zones and rates", "[report][stage]") {
  // Guards the three PNGs: they decode, cells are upscaled to about map_max_px, the zone map
  // uses the zone colours of the table, and the rate map one sequential colour per rate.
  Fixture f;
  test::TempDir dir;
  auto writer = make_writer();
  writer->options().set_text("map_max_px", "600");
  writer->write_field(f.rx, dir.path().string());

  const cv::Mat index = cv::imread(dir.file(kReportIndexMap), cv::IMREAD_COLOR);
  const cv::Mat zones = cv::imread(dir.file(kReportZoneMap), cv::IMREAD_COLOR);
  const cv::Mat rates = cv::imread(dir.file(kReportRateMap), cv::IMREAD_COLOR);
  REQUIRE(!index.empty());
  REQUIRE(!zones.empty());
  REQUIRE(!rates.empty());
  // 6 x 5 cells at 600 px: 100 px per cell, a 600 x 500 map plus title, legend and margins.
  for (const cv::Mat* image : {&zones, &rates}) {
    CHECK(image->cols >= 600 + 170);
    CHECK(image->cols < 1200);
    CHECK(image->rows >= 500);
    CHECK(image->rows < 900);
  }
  CHECK(index.cols >= 600);  // 60 x 50 preview enlarged 10 x
  CHECK(index.rows >= 500);

  const auto zone_colours = class_colours(3);
  for (int k = 0; k < 3; ++k) {
    INFO("zone " << k + 1);
    // Zone 1 has 9 cells (one is out of the field), zones 2 and 3 have 10; minus the outline.
    CHECK(pixels_of_colour(zones, zone_colours[static_cast<std::size_t>(k)]) > 8 * 100 * 100);
  }
  const auto rate_colours = sequential_class_colours(3);
  for (int k = 0; k < 3; ++k) {
    INFO("rate class " << k + 1);
    CHECK(pixels_of_colour(rates, rate_colours[static_cast<std::size_t>(k)]) > 8 * 100 * 100);
  }
  // The out-of-field cell stays white (transparent over the page).
  CHECK(zones.at<cv::Vec3b>(16 + 36 + 50, 16 + 50) == cv::Vec3b(255, 255, 255));
}

TEST_CASE("writers.report handles an index preview without valid pixels", "[report][stage]") {
  // Guards the field whose imagery is all nodata (cloud, a failed band): the report is still
  // written, the index map is empty, and nothing crashes. An empty preview Mat likewise.
  Fixture f;
  f.rx.index_preview.setTo(std::nan(""));
  test::TempDir dir;
  REQUIRE_NOTHROW(make_writer()->write_field(f.rx, dir.path().string()));
  const cv::Mat index = cv::imread(dir.file(kReportIndexMap), cv::IMREAD_COLOR);
  REQUIRE(!index.empty());

  f.rx.index_preview = cv::Mat();
  f.rx.preview_metres_per_pixel = 0;
  test::TempDir dir2;
  REQUIRE_NOTHROW(make_writer()->write_field(f.rx, dir2.path().string()));
  CHECK(!cv::imread(dir2.file(kReportIndexMap), cv::IMREAD_COLOR).empty());
}

TEST_CASE("writers.report leaves exactly its five files and no temporaries", "[report][stage]") {
  // Guards the atomic writes: after success only the final names exist; after a refused
  // prescription nothing at all is written.
  Fixture f;
  test::TempDir dir;
  const auto written = make_writer()->write_field(f.rx, dir.path().string());
  CHECK(folder_entries(dir.path()) == std::vector<std::string>{"map_index.png", "map_rates.png",
                                                               "map_zones.png", "report.html",
                                                               "summary.json"});
  for (const auto& path : written) CHECK(fs::path(path).parent_path() == dir.path());

  // Written again over the old files: still five, no leftovers.
  make_writer()->write_field(f.rx, dir.path().string());
  CHECK(folder_entries(dir.path()).size() == 5);
}

TEST_CASE("writers.report refuses numbers that do not add up", "[report][stage]") {
  // Guards against a report whose rows do not make its totals: the writer names the number and
  // writes nothing.
  Fixture f;
  test::TempDir dir;
  const std::string out = dir.file("F1");

  SECTION("a zone product that is not rate x area") {
    f.rx.zone_rows[1].product = 6.5;
    f.rx.total_product = 4.1778 + 6.5 + 7.1082;
    CHECK_THROWS_WITH(make_writer()->write_field(f.rx, out),
                      Catch::Contains("writers.report") && Catch::Contains("zone 2 product 6.5"));
  }
  SECTION("a total that is not the sum of the zones") {
    f.rx.total_product = 18;
    CHECK_THROWS_AS(make_writer()->write_field(f.rx, out), StageError);
  }
  SECTION("tank loads that do not follow from the tank") {
    f.rx.tank_loads = 2;  // 2.0015 loads need 3 trips
    CHECK_THROWS_WITH(make_writer()->write_field(f.rx, out), Catch::Contains("tank loads"));
  }
  SECTION("a unit the prescription is not applied in") {
    f.rx.rate_unit = "L/mu";
    CHECK_THROWS_WITH(make_writer()->write_field(f.rx, out),
                      Catch::Contains("expected 'L/ha' or 'kg/ha'"));
  }
  SECTION("a zone grid of the wrong size") {
    f.rx.zones = cv::Mat::zeros(4, 6, CV_8U);
    CHECK_THROWS_AS(make_writer()->write_field(f.rx, out), StageError);
  }
  CHECK(!fs::exists(out));
}

TEST_CASE("writers.report options", "[report][stage]") {
  // Guards the declared options: defaults, refused values, and what each one changes.
  auto writer = make_writer();
  CHECK(writer->name() == "writers.report");
  CHECK(writer->settings().language == "en");
  CHECK(writer->settings().map_max_px == 800);
  CHECK(writer->settings().mu_units);
  CHECK(writer->settings().embed_images);
  CHECK_THROWS_AS(writer->options().set_text("language", "fr"), ConfigError);
  CHECK_THROWS_AS(writer->options().set_text("map_max_px", "50"), ConfigError);
  CHECK_THROWS_AS(writer->options().set_text("colour", "red"), ConfigError);

  Fixture f;
  SECTION("Chinese") {
    writer->options().set_text("language", "zh");
    test::TempDir dir;
    writer->write_field(f.rx, dir.path().string());
    const std::string html = read_text(dir.file("report.html"));
    CHECK(html.find("<html lang=\"zh\">") != std::string::npos);
    CHECK(html.find("变量喷施处方") != std::string::npos);
    CHECK(html.find("1.18 ha (17.7 亩)") != std::string::npos);
    CHECK(html.find("L/亩") != std::string::npos);
    CHECK(html.find(kEscapedId) != std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
  }
  SECTION("without mu") {
    writer->options().set_text("mu_units", "false");
    test::TempDir dir;
    writer->write_field(f.rx, dir.path().string());
    const std::string html = read_text(dir.file("report.html"));
    CHECK(html.find("L/mu") == std::string::npos);
    CHECK(html.find(" mu)") == std::string::npos);
    CHECK(html.find("(mu)") == std::string::npos);
    // summary.json keeps both: it is for programs.
    CHECK(json::parse(read_text(dir.file("summary.json")))["area_mu"].get<double>() ==
          Approx(17.7));
  }
  SECTION("linked images") {
    writer->options().set_text("embed_images", "false");
    test::TempDir dir;
    writer->write_field(f.rx, dir.path().string());
    const std::string html = read_text(dir.file("report.html"));
    CHECK(html.find("data:image") == std::string::npos);
    CHECK(html.find("<img src=\"map_zones.png\"") != std::string::npos);
    CHECK(html.find("<img src=\"map_rates.png\"") != std::string::npos);
    CHECK(html.find("<img src=\"map_index.png\"") != std::string::npos);
  }
}

TEST_CASE("writers.report is byte-reproducible under SOURCE_DATE_EPOCH", "[report][stage]") {
  // Guards reruns: with the time fixed, the same prescription gives the same bytes, and the
  // stamp is the UTC time of that epoch.
  Fixture f;
  test::TempDir a, b;
  ::setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  make_writer()->write_field(f.rx, a.path().string());
  make_writer()->write_field(f.rx, b.path().string());
  ::unsetenv("SOURCE_DATE_EPOCH");
  for (const char* name :
       {kReportIndexMap, kReportZoneMap, kReportRateMap, kReportHtml, kReportSummary}) {
    INFO(name);
    CHECK(test::files_identical(a.file(name), b.file(name)));
  }
  CHECK(read_text(a.file(kReportHtml)).find("2023-11-14 22:13:20 UTC") != std::string::npos);
}

TEST_CASE("writers.report draws a per-cell rate surface as a ramp and survives odd ids",
          "[report][stage]") {
  // Guards rates from a piecewise-linear function (a different rate in every cell: too many for
  // a class legend) and an id that is not UTF-8 (written with U+FFFD, JSON still valid).
  Fixture f;
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 6; ++c) {
      if (f.rx.cell_in_field.at<unsigned char>(r, c))
        f.rx.rates.at<float>(r, c) = 10.0f + r * 6 + c;
    }
  }
  f.field.id = "\xFF\xFE 7";  // bytes that can never be UTF-8
  test::TempDir dir;
  REQUIRE_NOTHROW(make_writer()->write_field(f.rx, dir.path().string()));
  CHECK(!cv::imread(dir.file(kReportRateMap), cv::IMREAD_COLOR).empty());
  const json j = json::parse(read_text(dir.file("summary.json")));
  CHECK(j["field_id"].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);
  CHECK(read_text(dir.file("report.html")).find("\xEF\xBF\xBD\xEF\xBF\xBD 7") != std::string::npos);
}
