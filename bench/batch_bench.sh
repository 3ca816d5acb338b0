#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak RSS and wall time of `fieldrx batch` over a synthetic farm of 200 and of 2000 fields
# (fieldrx synth; one job, one orthomosaic), and of the rerun that skips every field.
#   bench/batch_bench.sh [BUILD] [THREADS]       results: a table on stdout (append it to bench/README.md)
# The farms are sized so fields stay ~8 ha at 0.5 m: 200 fields on 6000 px, 2000 on 19000 px.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
fieldrx=$(realpath "$build/fieldrx")
work=$(mktemp -d "${TMPDIR:-/tmp}/fieldrx-batch-bench.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
echo "| fields | farm px | run | wall s | peak RSS MiB | failed |"
echo "|---:|---:|---|---:|---:|---:|"
IFS=";" read -r -a specs <<< "${SPECS:-200 6000;2000 19000}"  # SPECS="200 6000" for the small farm only
for spec in "${specs[@]}"; do
  set -- $spec
  fields=$1 size=$2
  farm="$work/farm-$fields"
  "$fieldrx" synth -o "$farm" --size "$size" --fields "$fields" --seed 3 -q >/dev/null
  cat > "$farm/manifest.yaml" <<YAML
defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 500, machine: dji-agras-t50, report: false}
jobs:
  - {name: farm, fields: fields.geojson, field_id: field_id, crop_attribute: crop, image: farm.tif}
YAML
  for run in first rerun; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$fieldrx" batch "$farm/manifest.yaml" -o "$farm/out" -q \
      --threads "$threads" > "$work/log" 2>&1 || [ $? = 5 ]
    read -r wall rss < "$work/time"
    failed=$(grep -c ',error,' "$farm/out/summary.csv" || true)
    echo "| $fields | $size | $run | $wall | $((rss / 1024)) | $failed |"
  done
  rm -rf "$farm"
done
