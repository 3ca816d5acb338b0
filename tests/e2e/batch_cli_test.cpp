// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <gdal_priv.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"
#include "pipeline/workflows/batch_workflow.hpp"
#include "tests/support/test_support.hpp"

using namespace fieldrx;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A synthetic farm and a one-job manifest over it (shared by the tests of a run).
class BatchFarm {
 public:
  explicit BatchFarm(int fields = 20) : fields_(fields) {
    const auto r = test::run_fieldrx("synth -o " + dir_.file("farm") + " --size 1500 --fields " + std::to_string(fields) + " --seed 11 -q");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    write_text(manifest(), "# a farm of one orthomosaic\n"
                           "defaults: {index: ndvi, zones: 3, method: jenks, rates: [12, 15, 18], unit: L/ha, cell_size_m: 10,\n"
                           "           min_zone_area_m2: 400, machine: dji-agras-t50, report: false}\n"
                           "jobs:\n"
                           "  - name: north\n"
                           "    fields: farm/fields.geojson\n"
                           "    field_id: field_id\n"
                           "    crop_attribute: crop\n"
                           "    image: farm/farm.tif\n");
  }
  std::string manifest() const { return dir_.file("farm.yaml"); }
  std::string file(const std::string& name) const { return dir_.file(name); }
  int fields() const { return fields_; }

 private:
  test::TempDir dir_;
  int fields_;
};

test::CommandResult batch(const std::string& manifest, const std::string& out, const std::string& extra = "") {
  return test::run_fieldrx("batch " + manifest + " -o " + out + " -q " + extra);
}

std::vector<std::string> done_markers(const std::string& out) {
  std::vector<std::string> markers;
  if (!fs::exists(out)) return markers;
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    if (entry.path().filename() == ".fieldrx-done.json") markers.push_back(entry.path().string());
  }
  std::sort(markers.begin(), markers.end());
  return markers;
}

}  // namespace

TEST_CASE("batch prescribes every field of a synthetic farm, and a rerun skips them all", "[batch][e2e]") {
  // Guards the batch's whole contract on a good farm: outputs and summary for every field, idempotent reruns, dry runs.
  BatchFarm farm;
  const std::string out = farm.file("out");
  auto r = batch(farm.manifest(), out, "--threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rows = test::read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == static_cast<std::size_t>(farm.fields()));
  for (const auto& row : rows) {
    INFO(row.at("field") << ": " << row.at("error"));
    CHECK(row.at("job") == "north");
    CHECK(row.at("status") != "error");
    CHECK(std::stoi(row.at("zones")) >= 1);
    CHECK(std::stod(row.at("total_product")) > 0);
    CHECK(std::stod(row.at("mean_index")) > 0.1);
    const std::string folder = out + "/" + row.at("folder");
    CHECK(row.at("folder") == "north/" + row.at("field"));
    for (const char* file : {"zones.geojson", "zones.shp", "TASKDATA.zip", "rx_wgs84.tif", ".fieldrx-done.json"}) {
      CHECK(fs::exists(folder + "/" + file));
    }
  }
  const json summary = json::parse(read_text(out + "/summary.json"));
  CHECK(summary["rows"].size() == rows.size());
  CHECK(summary["failed"] == 0);
  CHECK(summary["rows"][0]["boundary"]["type"] == "Polygon");
  const std::string html = read_text(out + "/index.html");
  CHECK(count_of(html, "<path ") == rows.size());
  CHECK(count_of(html, "/report.html\">report</a>") == rows.size());
  CHECK(html.find("http") == std::string::npos);  // readable from disk, nothing fetched

  // A rerun finds every field up to date and touches no output.
  const auto markers = done_markers(out);
  REQUIRE(markers.size() == rows.size());
  std::map<std::string, fs::file_time_type> times;
  for (const auto& m : markers) times[m] = fs::last_write_time(m);
  const auto zones_time = fs::last_write_time(out + "/north/F001/zones.geojson");
  const std::string summary_before = read_text(out + "/summary.csv");
  r = batch(farm.manifest(), out, "--threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("0 run, " + std::to_string(rows.size()) + " up to date"));
  for (const auto& m : markers) CHECK(fs::last_write_time(m) == times[m]);
  CHECK(fs::last_write_time(out + "/north/F001/zones.geojson") == zones_time);
  CHECK(read_text(out + "/summary.csv") == summary_before);

  // --dry-run --force plans every field and writes nothing.
  r = batch(farm.manifest(), out, "--dry-run --force");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(count_of(r.output, "run  north/") == rows.size());
  for (const auto& m : markers) CHECK(fs::last_write_time(m) == times[m]);
  // A changed setting makes every field stale.
  write_text(farm.manifest(), read_text(farm.manifest()) + "    cell_size_m: 12\n");
  r = batch(farm.manifest(), out, "--dry-run");
  INFO(r.output);
  CHECK(count_of(r.output, "run  north/") == rows.size());
  CHECK(!fs::exists(farm.file("never")));
  r = batch(farm.manifest(), farm.file("never"), "--dry-run");
  CHECK(!fs::exists(farm.file("never")));  // a dry run creates no folder
}

TEST_CASE("manifest A-B line keys reach the zones of every field", "[batch][e2e][abline]") {
  // Guards the manifest keys ab_line / cell_width_m: each field's zones follow its longest edge.
  BatchFarm farm(6);
  write_text(farm.manifest(), read_text(farm.manifest()) + "    ab_line: auto\n    cell_width_m: 7\n    report: true\n");
  const std::string out = farm.file("ab");
  const auto r = batch(farm.manifest(), out, "--threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const auto& row : test::read_csv(out + "/summary.csv")) {
    INFO(row.at("field"));
    const auto summary = json::parse(read_text(out + "/north/" + row.at("field") + "/summary.json"));
    CHECK(summary["zoning_grid"]["kind"] == "ab_line");
    CHECK(summary["zoning_grid"]["cell_width_m"].get<double>() == 7);
  }
}

TEST_CASE("a batch killed with SIGKILL and rerun equals an uninterrupted one", "[batch][e2e][resume]") {
  // Guards resumability: kill -9 mid-batch, rerun redoes only unfinished fields, outputs byte-equal an uninterrupted run.
  BatchFarm farm;
  const std::string whole = farm.file("whole"), killed = farm.file("killed");
  // One tile size throughout: cell means are sums in tile order, and zones.geojson prints them.
  auto r = batch(farm.manifest(), whole, "--threads 2 --tile 128");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  const char* binary_env = std::getenv("FIELDRX_BINARY");
  const std::string binary = binary_env ? binary_env : FIELDRX_BINARY;
  const std::string pid_file = farm.file("pid");
  REQUIRE(test::run_command(binary + " batch " + farm.manifest() + " -o " + killed + " -q --threads 1 --tile 128 > " +
                            farm.file("killed.log") + " 2>&1 & echo $! > " + pid_file)
              .exit_code == 0);
  const pid_t pid = std::stoi(read_text(pid_file));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (done_markers(killed).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(kill(pid, SIGKILL) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto finished = done_markers(killed);
  INFO(finished.size() << " fields were done when the batch was killed");
  REQUIRE(finished.size() >= 3);
  REQUIRE(finished.size() < static_cast<std::size_t>(farm.fields()));  // killed midway, not after
  CHECK(!fs::exists(killed + "/summary.csv"));
  std::map<std::string, fs::file_time_type> times;
  for (const auto& m : finished) times[m] = fs::last_write_time(m);

  r = batch(farm.manifest(), killed, "--threads 2 --tile 128");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains(std::to_string(finished.size()) + " up to date"));
  for (const auto& m : finished) CHECK(fs::last_write_time(m) == times[m]);  // not redone
  CHECK(read_text(killed + "/summary.csv") == read_text(whole + "/summary.csv"));
  for (const auto& row : test::read_csv(whole + "/summary.csv")) {
    for (const char* file : {"zones.geojson", "TASKDATA/TASKDATA.XML", "TASKDATA/GRD00001.bin", "rx_wgs84.tif"}) {
      INFO(row.at("folder") << "/" << file);
      CHECK(test::files_identical(whole + "/" + row.at("folder") + "/" + file, killed + "/" + row.at("folder") + "/" + file));
    }
  }
  // No temporary file survives the kill and the rerun.
  for (const auto& entry : fs::recursive_directory_iterator(killed)) {
    INFO(entry.path());
    CHECK(entry.path().filename().string().rfind(".tmp-", 0) != 0);
  }
}

TEST_CASE("broken fields and a bad image fail alone, with clear errors, and the batch goes on", "[batch][e2e][failures]") {
  // Guards failure isolation: outside the image, empty geometry, all nodata, missing image each an error row; exit 5.
  BatchFarm farm(8);
  // Boundaries: the farm's, plus one far east of the image and one collapsed to a point.
  json fields = json::parse(read_text(farm.file("farm/fields.geojson")));
  json outside = fields["features"][0];
  for (auto& ring : outside["geometry"]["coordinates"]) {
    for (auto& point : ring) point[0] = point[0].get<double>() + 0.5;
  }
  outside["properties"]["field_id"] = "X-outside";
  json collapsed = fields["features"][1];
  const json p = collapsed["geometry"]["coordinates"][0][0];
  collapsed["geometry"]["coordinates"] = json::array({json::array({p, p, p, p})});
  collapsed["properties"]["field_id"] = "X-collapsed";
  // A 1 m triangle inside a real field: smaller than one 10 m cell.
  json tiny = fields["features"][2];
  const double x = tiny["geometry"]["coordinates"][0][0][0], y = tiny["geometry"]["coordinates"][0][0][1];
  const json centre = {(x + fields["features"][2]["geometry"]["coordinates"][0][2][0].get<double>()) / 2,
                       (y + fields["features"][2]["geometry"]["coordinates"][0][2][1].get<double>()) / 2};
  const double cx = centre[0], cy = centre[1];
  tiny["geometry"]["coordinates"] = json::array({json::array({json::array({cx, cy}), json::array({cx + 1e-5, cy}),
                                                              json::array({cx, cy + 1e-5}), json::array({cx, cy})})});
  tiny["properties"]["field_id"] = "X-tiny";
  fields["features"].push_back(outside);
  fields["features"].push_back(collapsed);
  fields["features"].push_back(tiny);
  write_text(farm.file("broken.geojson"), fields.dump());
  // An image whose every pixel is nodata (0), for one field of its own job.
  {
    configure_gdal(64 << 20);
    DatasetPtr source(static_cast<GDALDataset*>(GDALOpen(farm.file("farm/farm.tif").c_str(), GA_ReadOnly)));
    REQUIRE(source);
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    DatasetPtr copy(gtiff->CreateCopy(farm.file("blank.tif").c_str(), source.get(), false, nullptr, nullptr, nullptr));
    REQUIRE(copy);
    std::vector<std::uint16_t> zeros(static_cast<std::size_t>(copy->GetRasterXSize()), 0);
    for (int b = 1; b <= copy->GetRasterCount(); ++b) {
      for (int row = 0; row < copy->GetRasterYSize(); ++row) {
        REQUIRE(copy->GetRasterBand(b)->RasterIO(GF_Write, 0, row, copy->GetRasterXSize(), 1, zeros.data(),
                                                  copy->GetRasterXSize(), 1, GDT_UInt16, 0, 0) == CE_None);
      }
    }
  }
  write_text(farm.file("broken.yaml"), "defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 400, report: false}\n"
                                       "jobs:\n"
                                       "  - {name: main, fields: broken.geojson, field_id: field_id, image: farm/farm.tif}\n"
                                       "  - {name: blank, fields: farm/fields.geojson, field_id: field_id, ids: [F002], image: blank.tif}\n"
                                       "  - {name: lost, fields: farm/fields.geojson, field_id: field_id, image: no-such.tif}\n");
  const std::string out = farm.file("out");
  const auto r = batch(farm.file("broken.yaml"), out, "--threads 2");
  INFO(r.output);
  CHECK(r.exit_code == 5);
  std::map<std::string, std::map<std::string, std::string>> by_key;
  const json summary = json::parse(read_text(out + "/summary.json"));
  for (const auto& row : summary["rows"]) {
    by_key[row["job"].get<std::string>() + "/" + row["field"].get<std::string>()] = {
        {"status", row["status"]}, {"error", row["error"]}};
  }
  CHECK(by_key.size() == 8 + 3 + 1 + 1);
  CHECK(by_key["main/X-outside"]["status"] == "error");
  CHECK_THAT(by_key["main/X-outside"]["error"], Catch::Contains("outside the image"));
  CHECK(by_key["main/X-collapsed"]["status"] == "error");
  CHECK(!by_key["main/X-collapsed"]["error"].empty());
  CHECK(by_key["main/X-tiny"]["status"] == "error");
  CHECK_THAT(by_key["main/X-tiny"]["error"], Catch::Contains("holds no 10.0 m prescription cell"));
  CHECK(by_key["blank/F002"]["status"] == "error");
  CHECK_THAT(by_key["blank/F002"]["error"], Catch::Contains("no valid ndvi pixel"));
  CHECK(by_key["lost/"]["status"] == "error");
  CHECK_THAT(by_key["lost/"]["error"], Catch::Contains("no-such.tif"));
  for (int i = 1; i <= 8; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "F%03d", i);
    INFO(id << ": " << by_key["main/" + std::string(id)]["error"]);
    CHECK(by_key["main/" + std::string(id)]["status"] != "error");
    CHECK(fs::exists(out + "/main/" + id + "/.fieldrx-done.json"));
  }
  CHECK(!fs::exists(out + "/main/X-outside/.fieldrx-done.json"));
  // The summary names every failure; the farm map greys them.
  const std::string csv = read_text(out + "/summary.csv");
  CHECK_THAT(csv, Catch::Contains("X-outside,,") && Catch::Contains(",error,"));
}

TEST_CASE("shards 1/2 and 2/2 merged equal the single-process batch", "[batch][e2e][shard]") {
  // Guards sharding: a disjoint, complete split; merge reproduces summary.csv/json and index.html byte for byte.
  BatchFarm farm(10);
  const std::string single = farm.file("single"), sharded = farm.file("sharded");
  auto r = batch(farm.manifest(), single, "--threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = batch(farm.manifest(), sharded, "--threads 2 --shard 1/2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // The second shard from the Slurm array variables (an --array=0-1 job's second task).
  r = test::run_command("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=2 " +
                        std::string(std::getenv("FIELDRX_BINARY") ? std::getenv("FIELDRX_BINARY") : FIELDRX_BINARY) +
                        " batch " + farm.manifest() + " -o " + sharded + " -q --threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::exists(sharded + "/summary-shard-1-of-2.json"));
  REQUIRE(fs::exists(sharded + "/summary-shard-2-of-2.json"));
  const json one = json::parse(read_text(sharded + "/summary-shard-1-of-2.json"));
  const json two = json::parse(read_text(sharded + "/summary-shard-2-of-2.json"));
  CHECK(one["rows"].size() == 5);
  CHECK(two["rows"].size() == 5);
  CHECK(!fs::exists(sharded + "/summary.csv"));  // a shard writes only its own summary

  r = test::run_fieldrx("merge " + sharded);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* file : {"summary.csv", "summary.json", "index.html"}) {
    INFO(file);
    CHECK(read_text(sharded + "/" + file) == read_text(single + "/" + file));
  }
  // Merging shards kept in separate folders links each field where it is.
  const std::string elsewhere = farm.file("elsewhere");
  r = batch(farm.manifest(), elsewhere, "--threads 2 --shard 2/2");
  REQUIRE(r.exit_code == 0);
  fs::remove(sharded + "/summary-shard-2-of-2.json");
  r = test::run_fieldrx("merge " + sharded);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("shard(s) 2 of 2 missing"));
  r = test::run_fieldrx("merge " + sharded + " " + elsewhere + " -o " + farm.file("merged"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto merged = test::read_csv(farm.file("merged") + "/summary.csv");
  REQUIRE(merged.size() == 10);
  for (const auto& row : merged) {
    INFO(row.at("folder"));
    CHECK(fs::exists(farm.file("merged") + "/" + row.at("folder") + "/zones.geojson"));
  }
}

TEST_CASE("a CSV manifest gives the same batch as the YAML one", "[batch][manifest]") {
  // Guards the spreadsheet format: same keys, ';' lists, relative paths; the same summary as YAML.
  BatchFarm farm(4);
  write_text(farm.file("farm.csv"),
             "name,fields,field_id,crop_attribute,image,index,zones,method,rates,unit,cell_size_m,min_zone_area_m2,machine,report\n"
             "north,farm/fields.geojson,field_id,crop,farm/farm.tif,ndvi,3,jenks,12;15;18,L/ha,10,400,dji-agras-t50,false\n");
  auto r = batch(farm.manifest(), farm.file("yaml"), "--threads 2");
  REQUIRE(r.exit_code == 0);
  r = batch(farm.file("farm.csv"), farm.file("csv"), "--threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_text(farm.file("csv/summary.csv")) == read_text(farm.file("yaml/summary.csv")));
  CHECK(test::files_identical(farm.file("csv/north/F003/zones.geojson"), farm.file("yaml/north/F003/zones.geojson")));
}

TEST_CASE("manifest and shard errors name the file, the job and the fix", "[batch][manifest]") {
  // Guards the messages of whole-batch mistakes: unknown keys, missing keys, duplicate names, bad shards.
  test::TempDir dir;
  write_text(dir.file("m.yaml"), "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: i.tif, cell_size: 10}\n");
  try {
    load_manifest(dir.file("m.yaml"));
    FAIL("an unknown key was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("job 1 'a': unknown key 'cell_size'") && Catch::Contains("cell_size_m"));
  }
  write_text(dir.file("m.yaml"), "jobs:\n  - {name: a, fields: f.geojson, image: i.tif}\n");
  CHECK_THROWS_WITH(load_manifest(dir.file("m.yaml")), Catch::Contains("no 'field_id'"));
  write_text(dir.file("m.yaml"), "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: i.tif}\n"
                                 "  - {name: a, fields: g.geojson, field_id: id, image: i.tif}\n");
  CHECK_THROWS_WITH(load_manifest(dir.file("m.yaml")), Catch::Contains("'a' is used twice"));
  write_text(dir.file("m.yaml"), "jobs:\n  - {name: a, fields: f.geojson, field_id: id, image: [i.tif]}\n");
  const auto manifest = load_manifest(dir.file("m.yaml"));
  CHECK(manifest.jobs.at(0).settings["fields"].as<std::string>() == (dir.path() / "f.geojson").string());
  CHECK(parse_shard("3/4").index == 3);
  CHECK_THROWS_AS(parse_shard("0/4"), ConfigError);
  CHECK_THROWS_AS(parse_shard("5/4"), ConfigError);
  CHECK_THROWS_AS(parse_shard("2"), ConfigError);
  setenv("JOB_COMPLETION_INDEX", "2", 1);
  unsetenv("FIELDRX_SHARD_COUNT");
  CHECK_THROWS_WITH(shard_from_environment(), Catch::Contains("FIELDRX_SHARD_COUNT"));
  setenv("FIELDRX_SHARD_COUNT", "4", 1);
  CHECK(shard_from_environment().name() == "shard-3-of-4");
  unsetenv("JOB_COMPLETION_INDEX");
  unsetenv("FIELDRX_SHARD_COUNT");
  CHECK(!shard_from_environment().sharded());
}
