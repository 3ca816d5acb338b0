// SPDX-License-Identifier: Apache-2.0
#pragma once
// Machine profiles (configs/machines/<name>.yaml): what a sprayer or spray drone can do and
// which files it takes. A new machine is a new YAML file, not new code. Example:
//   name: DJI Agras T50
//   kind: drone                 # drone | boom
//   swath_m: 11                 # effective spray swath
//   speed_m_per_s: 7            # planned ground speed
//   min_flow_l_per_min: 1.5     # pump envelope
//   max_flow_l_per_min: 24
//   tank_l: 40
//   tank_dead_volume_l: 0.5
//   reserve_fraction: 0.1       # extra product for overlaps and turns
//   rate_attribute: RATE        # attribute names in the zone Shapefile / GeoJSON
//   zone_attribute: ZONE
//   exports: [shapefile, geojson, kml, geotiff, isoxml]   # the files this machine loads: every
//                               # export is written for every field; the report names these
#include <string>
#include <vector>

namespace fieldrx {

struct MachineProfile {
  std::string key;          // file stem, e.g. "dji-agras-t50"; empty for no machine
  std::string name;
  std::string kind = "drone";
  double swath_m = 0;
  double speed_m_per_s = 0;
  double min_flow_l_per_min = 0;
  double max_flow_l_per_min = 0;
  double tank_l = 0;
  double tank_dead_volume_l = 0;
  double reserve_fraction = 0.1;
  std::string rate_attribute = "RATE";
  std::string zone_attribute = "ZONE";
  std::vector<std::string> exports;
  bool has_pump_envelope() const { return swath_m > 0 && speed_m_per_s > 0 && max_flow_l_per_min > 0; }
};

// Every export a machine may ask for.
const std::vector<std::string>& known_exports();

// Loads `name_or_path`: a path to a YAML file, or the stem of a file in `machines_dir`.
// Unknown keys and out-of-range values are ConfigErrors naming the file and key.
MachineProfile load_machine_profile(const std::string& name_or_path, const std::string& machines_dir);

// The profile used without --machine: no pump envelope, a 1000 L tank, every export.
MachineProfile generic_machine_profile();

// Machine stems available in `machines_dir` (for error messages and `fieldrx stages`).
std::vector<std::string> machine_names(const std::string& machines_dir);

}  // namespace fieldrx
