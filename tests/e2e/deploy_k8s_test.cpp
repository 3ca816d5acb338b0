// SPDX-License-Identifier: Apache-2.0
// deploy/k8s/fieldrx-batch-job.yaml against the real CLI. There is no Kubernetes cluster here: the
// manifest is read with yaml-cpp, its Job settings are checked against what `fieldrx batch` needs,
// and the command line it runs is run with `--dry-run` as each pod of the Indexed Job would run it
// (JOB_COMPLETION_INDEX set, the manifest's env), on a synthetic farm in place of the volume.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_support.hpp"

using namespace fieldrx;

namespace {

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A Kubernetes quantity ("2Gi", "512Mi", "2G", "1500M", plain bytes) in MiB.
double quantity_mib(const std::string& text) {
  static const std::vector<std::pair<std::string, double>> suffixes = {
      {"Ki", 1.0 / 1024},   {"Mi", 1.0},          {"Gi", 1024.0},       {"Ti", 1024.0 * 1024},
      {"k", 1e3 / 1048576}, {"M", 1e6 / 1048576}, {"G", 1e9 / 1048576}, {"T", 1e12 / 1048576}};
  for (const auto& [suffix, mib] : suffixes) {
    if (text.size() > suffix.size() && text.ends_with(suffix))
      return std::stod(text.substr(0, text.size() - suffix.size())) * mib;
  }
  return std::stod(text) / 1048576;
}

// A CPU quantity ("2", "1500m") in cores.
double quantity_cpu(const std::string& text) {
  return text.ends_with("m") ? std::stod(text.substr(0, text.size() - 1)) / 1000 : std::stod(text);
}

// The value following `flag` in `args`, or "" when the flag is absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return "";
}

// The "run  job/field" lines of a dry run, in order.
std::vector<std::string> planned_fields(const std::string& output) {
  std::vector<std::string> fields;
  std::size_t at = 0;
  while ((at = output.find("run  ", at)) != std::string::npos) {
    const auto end = output.find('\n', at);
    fields.push_back(output.substr(at + 5, end - at - 5));
    at = end;
  }
  return fields;
}

}  // namespace

TEST_CASE("the Kubernetes Indexed Job runs shard K of N with the real fieldrx CLI",
          "[batch][e2e][k8s]") {
  // Guards deploy/k8s/fieldrx-batch-job.yaml: Indexed Job, shard count = completions, its args
  // parse and plan pod K's share.
  const YAML::Node job = YAML::LoadFile(test::source_path("deploy/k8s/fieldrx-batch-job.yaml"));
  CHECK(job["apiVersion"].as<std::string>() == "batch/v1");
  REQUIRE(job["kind"].as<std::string>() == "Job");
  const YAML::Node spec = job["spec"];
  // fieldrx takes its shard from JOB_COMPLETION_INDEX, which only an Indexed Job sets.
  REQUIRE(spec["completionMode"].as<std::string>() == "Indexed");
  const int completions = spec["completions"].as<int>();
  REQUIRE(completions >= 2);
  CHECK(spec["parallelism"].as<int>() >= 1);
  CHECK(spec["parallelism"].as<int>() <= completions);
  // podFailurePolicy needs restartPolicy Never; a failed pod is retried per index.
  const YAML::Node pod = spec["template"]["spec"];
  CHECK(pod["restartPolicy"].as<std::string>() == "Never");
  REQUIRE(pod["containers"].size() == 1);
  const YAML::Node container = pod["containers"][0];
  const std::string container_name = container["name"].as<std::string>();

  // The shard count fieldrx reads must be the Job's completions.
  std::string shard_count;
  std::string env_prefix;
  for (const auto& variable : container["env"]) {
    const std::string name = variable["name"].as<std::string>(),
                      value = variable["value"].as<std::string>();
    if (name == "FIELDRX_SHARD_COUNT") shard_count = value;
    env_prefix += name + "=" + shell_quote(value) + " ";
  }
  {
    INFO("FIELDRX_SHARD_COUNT must be set in the pod's env to the Job's completions");
    REQUIRE(shard_count == std::to_string(completions));
  }

  // Exit 5 (the shard ran, some fields failed) is the one code the failure policy does not retry.
  bool exit_5_rule = false;
  for (const auto& rule : spec["podFailurePolicy"]["rules"]) {
    const YAML::Node codes = rule["onExitCodes"];
    if (!codes) continue;
    CHECK(codes["containerName"].as<std::string>() == container_name);
    for (const auto& code : codes["values"])
      exit_5_rule |= code.as<int>() == 5 && rule["action"].as<std::string>() == "FailIndex";
  }
  CHECK(exit_5_rule);

  // The command: fieldrx batch MANIFEST -o OUTDIR ..., with its budget inside the pod's resources.
  std::vector<std::string> args;
  if (container["command"]) {
    for (const auto& a : container["command"]) args.push_back(a.as<std::string>());
    REQUIRE(!args.empty());
    args.erase(args.begin());  // the binary; the image's fieldrx is replaced by the built one below
  }
  for (const auto& a : container["args"]) args.push_back(a.as<std::string>());
  REQUIRE(args.size() >= 4);
  REQUIRE(args[0] == "batch");
  CHECK(args.end() == std::find(args.begin(), args.end(),
                                std::string("--shard")));  // the shard comes from the Job
  const std::string memory_mb = flag_value(args, "--memory-mb"),
                    threads = flag_value(args, "--threads");
  const YAML::Node resources = container["resources"];
  if (!memory_mb.empty() && resources["limits"]["memory"]) {
    INFO(
        "--memory-mb (tiles in flight) must leave room for the process under the pod's memory "
        "limit");
    CHECK(std::stod(memory_mb) < quantity_mib(resources["limits"]["memory"].as<std::string>()));
  }
  if (!threads.empty() && std::stoi(threads) > 0 && resources["requests"]["cpu"]) {
    CHECK(std::stoi(threads) <=
          quantity_cpu(resources["requests"]["cpu"].as<std::string>()) + 1e-9);
  }

  // The volume is a temp folder holding a synthetic farm; paths under its mountPath map there.
  test::TempDir data;
  std::string mount;
  for (const auto& m : container["volumeMounts"]) mount = m["mountPath"].as<std::string>();
  REQUIRE(!mount.empty());
  auto on_volume = [&](const std::string& path) {
    return path.rfind(mount + "/", 0) == 0 ? data.file(path.substr(mount.size() + 1)) : path;
  };
  const std::string manifest = on_volume(args[1]);
  REQUIRE(manifest != args[1]);  // the manifest is read from the shared volume
  REQUIRE(on_volume(flag_value(args, "-o")) != flag_value(args, "-o"));  // and the outputs go there
  const int fields = 9;  // not a multiple of the shard count: the shares differ in size
  auto r = test::run_fieldrx("synth -o " + data.file("farm") + " --size 1200 --fields " +
                             std::to_string(fields) + " --seed 7 -q");
  REQUIRE(r.exit_code == 0);
  {
    std::ofstream out(manifest);
    out << "defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 400, machine: "
           "dji-agras-t50, report: false}\n"
           "jobs:\n"
           "  - {name: farm, fields: farm/fields.geojson, field_id: field_id, crop_attribute: "
           "crop, image: farm/farm.tif}\n";
  }
  std::string command_line;
  for (const auto& a : args) {
    command_line += ' ';
    command_line += shell_quote(on_volume(a));
  }
  const char* binary_env = std::getenv("FIELDRX_BINARY");
  const std::string binary = binary_env ? binary_env : FIELDRX_BINARY;
  // As in a pod: no Slurm variables, JOB_COMPLETION_INDEX from Kubernetes, the manifest's env.
  const std::string pod_env =
      "env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN " + env_prefix;

  std::set<std::string> seen;
  for (int index = 0; index < completions; ++index) {
    r = test::run_command(pod_env + "JOB_COMPLETION_INDEX=" + std::to_string(index) + " " + binary +
                          command_line + " --dry-run");
    INFO("pod " << index << ":" << command_line << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    const auto planned = planned_fields(r.output);
    // The same plan as the explicit --shard K/N (K 1-based): every N-th field from the K-th.
    std::string explicit_args = "batch " + shell_quote(manifest);
    explicit_args += " -o " + shell_quote(data.file("rx")) + " -q --dry-run --shard ";
    explicit_args += std::to_string(index + 1) + "/" + shard_count;
    const auto explicit_shard = test::run_fieldrx(explicit_args);
    REQUIRE(explicit_shard.exit_code == 0);
    CHECK(planned == planned_fields(explicit_shard.output));
    CHECK(planned.size() ==
          static_cast<std::size_t>((fields - index + completions - 1) / completions));
    for (const auto& field : planned) CHECK(seen.insert(field).second);  // no field in two pods
  }
  CHECK(seen.size() == static_cast<std::size_t>(fields));  // every field in one pod
  CHECK(!std::filesystem::exists(data.file("rx")));        // dry runs write nothing
}
