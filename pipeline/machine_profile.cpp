// SPDX-License-Identifier: Apache-2.0
#include "pipeline/machine_profile.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "pipeline/errors.hpp"
#include "pipeline/options.hpp"

namespace fieldrx {
namespace {

// The profile's keys are declared once, as stage options are: typed, ranged, described.
void declare_profile(OptionSet& options, MachineProfile& profile) {
  options.add("name", profile.name, "machine name shown in reports", "").required();
  options.add("kind", profile.kind, "drone or boom sprayer", "drone").choices({"drone", "boom"});
  options.add("swath_m", profile.swath_m, "effective spray swath", 0.0).unit("m").range(0, 60);
  options.add("speed_m_per_s", profile.speed_m_per_s, "planned ground speed", 0.0).unit("m/s").range(0, 40);
  options.add("min_flow_l_per_min", profile.min_flow_l_per_min, "pump minimum flow", 0.0).unit("L/min").range(0, 1000);
  options.add("max_flow_l_per_min", profile.max_flow_l_per_min, "pump maximum flow (0 = no limit)", 0.0)
      .unit("L/min").range(0, 1000);
  options.add("tank_l", profile.tank_l, "tank capacity", 1000.0).unit("L").range(0.1, 100000);
  options.add("tank_dead_volume_l", profile.tank_dead_volume_l, "volume that stays in tank and pipes", 0.0)
      .unit("L").range(0, 10000);
  options.add("reserve_fraction", profile.reserve_fraction, "extra product for overlaps and turns", 0.1).range(0, 2);
  options.add("rate_attribute", profile.rate_attribute, "rate attribute name in zone files", "RATE");
  options.add("zone_attribute", profile.zone_attribute, "zone attribute name in zone files", "ZONE");
  options.add("exports", profile.exports, "files this machine takes",
              StringList{"isoxml", "shapefile", "geojson", "kml", "geotiff"})
      .choices(known_exports());
}

}  // namespace

const std::vector<std::string>& known_exports() {
  static const std::vector<std::string> exports = {"isoxml", "shapefile", "geojson", "kml", "geotiff"};
  return exports;
}

std::vector<std::string> machine_names(const std::string& machines_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(machines_dir, ec)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

MachineProfile load_machine_profile(const std::string& name_or_path, const std::string& machines_dir) {
  std::filesystem::path path(name_or_path);
  if (!std::filesystem::exists(path)) path = std::filesystem::path(machines_dir) / (name_or_path + ".yaml");
  if (!std::filesystem::exists(path)) {
    std::string known;
    for (const auto& name : machine_names(machines_dir)) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError("machine '" + name_or_path + "': no such profile file or name in " + machines_dir +
                      "; known machines: [" + known + "]");
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw ConfigError(path.string() + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw ConfigError(path.string() + ": expected a map of machine settings");
  MachineProfile profile;
  profile.key = path.stem().string();
  OptionSet options;
  declare_profile(options, profile);
  try {
    for (const auto& item : root) options.set(item.first.as<std::string>(), item.second);
    options.check_required();
    if (profile.tank_dead_volume_l >= profile.tank_l) {
      throw ConfigError("tank_dead_volume_l (" + std::to_string(profile.tank_dead_volume_l) +
                        " L) must be below tank_l (" + std::to_string(profile.tank_l) + " L)");
    }
    if (profile.max_flow_l_per_min > 0 && profile.min_flow_l_per_min > profile.max_flow_l_per_min) {
      throw ConfigError("min_flow_l_per_min is above max_flow_l_per_min");
    }
  } catch (...) {
    rethrow_with_context(path.string());
  }
  return profile;
}

MachineProfile generic_machine_profile() {
  MachineProfile profile;
  OptionSet options;
  declare_profile(options, profile);  // the declared defaults
  profile.name = "generic (no machine profile: no pump limits)";
  return profile;
}

}  // namespace fieldrx
