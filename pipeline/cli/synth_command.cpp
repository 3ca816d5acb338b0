// SPDX-License-Identifier: Apache-2.0
// `fieldrx synth`: a synthetic farm orthomosaic and its field boundaries, for tests and benchmarks.
#include <iostream>
#include <memory>

#include "pipeline/cli/subcommands.hpp"
#include "pipeline/errors.hpp"
#include "pipeline/log.hpp"
#include "pipeline/synth/farm_synth.hpp"

namespace fieldrx {

Subcommand add_synth_command(CLI::App& app) {
  struct Args {
    std::string output, sample_type = "uint16", compress = "none";
    synth::FarmSpec spec;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "synth", "synthetic farm: OUTDIR/farm.tif (5-band tiled GeoTIFF, UTM) and OUTDIR/fields.geojson");
  command->add_option("-o,--output", args->output, "output folder")->required();
  command->add_option("--size", args->spec.size_px, "raster edge in px, 128-40000 (default 2000)");
  command->add_option("--pixel-size", args->spec.pixel_size_m, "ground sample distance in m (default 0.5)");
  command->add_option("--dtype", args->sample_type, "uint16 (reflectance x 65535, default) or float32");
  command->add_option("--compress", args->compress, "GeoTIFF compression: none (default) or deflate");
  command->add_option("--fields", args->spec.fields, "number of fields (default 12)");
  command->add_option("--utm-zone", args->spec.utm_zone, "WGS 84 / UTM zone, north: 51, 52 (default) or 53");
  command->add_option("--origin-lat", args->spec.origin_lat, "farm centre latitude (default: the zone's, e.g. 47.2)");
  command->add_option("--origin-lon", args->spec.origin_lon,
                      "farm centre longitude (default 126.5 in zone 52, 132.6 in zone 53)");
  command->add_option("--seed", args->spec.seed, "random seed: same seed, same bytes (default 1)");
  command->add_option("--threads", args->spec.threads, "worker threads (default: all cores)");
  command->add_flag("--quiet,-q", args->quiet, "no progress bar or info lines");
  return {command, [args] {
            set_log_quiet(args->quiet);
            synth::FarmSpec spec = args->spec;
            if (args->sample_type == "uint16") {
              spec.sample_type = synth::SampleType::uint16;
            } else if (args->sample_type == "float32") {
              spec.sample_type = synth::SampleType::float32;
            } else {
              throw ConfigError("--dtype " + args->sample_type + ": use uint16 or float32");
            }
            if (args->compress == "none") {
              spec.compression = synth::Compression::none;
            } else if (args->compress == "deflate") {
              spec.compression = synth::Compression::deflate;
            } else {
              throw ConfigError("--compress " + args->compress + ": use none or deflate");
            }
            const synth::SynthOutputs outputs = synth::write_farm(spec, args->output, !args->quiet);
            std::cout << outputs.raster << "\n" << outputs.fields << "\n";
            return 0;
          }};
}

}  // namespace fieldrx
