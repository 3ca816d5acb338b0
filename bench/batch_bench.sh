#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak RSS and wall time of `fieldrx batch` over a synthetic farm of 200 and of 2000 fields
# (fieldrx synth; one job, one orthomosaic), and of the rerun that skips every field.
#   bench/batch_bench.sh [BUILD] [THREADS]       results: a table on stdout (append it to bench/README.md)
# The farms are sized so fields stay ~4-8 ha at 0.5 m: 200 fields on 6000 px, 2000 on 19000 px
# (a 3.6 GB 5-band raster; the farm folder is removed after its runs). Fields write no report
# (`report: false`): the HTML report and its maps are per-field output whose cost does not grow
# with the field count, and leaving them out keeps the 2000-field run to minutes.
# Peak RSS is GNU time's maximum resident set size: it includes the shared library pages the
# process touched (~45 MiB of it; see bench/README.md).
set -euo pipefail
build=$(realpath "${1:-build}")
threads=${2:-2}
fieldrx="$build/fieldrx"
cd "$(dirname "$0")/.."  # machine profiles are looked up in configs/machines
work=$(mktemp -d "${TMPDIR:-/tmp}/fieldrx-batch-bench.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM; $fieldrx built $(date -r "$fieldrx" '+%F %H:%M'); source tree now at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); --threads $threads"
echo
echo "| fields | farm px | run | wall s | peak RSS MiB | failed | load avg (1 min) before |"
echo "|---:|---:|---|---:|---:|---:|---:|"
IFS=";" read -r -a specs <<< "${SPECS:-200 6000;2000 19000}"  # SPECS="200 6000" for the small farm only
for spec in "${specs[@]}"; do
  set -- $spec
  fields=$1 size=$2
  farm="$work/farm-$fields"
  "$fieldrx" synth -o "$farm" --size "$size" --fields "$fields" --seed 3 -q --threads "$threads" >/dev/null
  cat > "$farm/manifest.yaml" <<YAML
defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 500, machine: dji-agras-t50, report: false}
jobs:
  - {name: farm, fields: fields.geojson, field_id: field_id, crop_attribute: crop, image: farm.tif}
YAML
  for run in first rerun; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e %M" -o "$work/time" "$fieldrx" batch "$farm/manifest.yaml" -o "$farm/out" -q \
      --threads "$threads" > "$work/log" 2>&1 || [ $? = 5 ]
    read -r wall rss < "$work/time"
    # From the result line "N fields: R run, S up to date, F failed" (summary.csv's header also
    # holds ",error,", so counting that pattern in the file would count one too many).
    failed=$(sed -n 's/^[0-9]* fields: .*, \([0-9]*\) failed$/\1/p' "$work/log")
    echo "| $fields | $size | $run | $wall | $((rss / 1024)) | $failed | $load |"
  done
  rm -rf "$farm"
done
