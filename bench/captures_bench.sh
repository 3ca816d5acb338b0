#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Seconds per capture of `fieldrx calibrate` (read + radiometric calibration + undistortion +
# band alignment + write), at 1 and 2 threads, on N copies of the real MicaSense RedEdge flight
# capture (../shared/data/micasense, IMG_0001_*): each copy gets its own CaptureId (same length,
# replaced in EXIF and XMP) so the folder holds N distinct 5-band captures.
#   N=8 REPEAT=3 BUILD=build bench/captures_bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
N=${N:-8}
REPEAT=${REPEAT:-3}
src="$root/../shared/data/micasense/data/0000SET/000"
[ -f "$src/IMG_0001_1.tif" ] || { echo "missing $src (the shared MicaSense sample)" >&2; exit 1; }

cmake -S "$root" -B "$root/$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/$BUILD" --target fieldrx >/dev/null
fieldrx="$root/$BUILD/fieldrx"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/flight"
python3 - "$src" "$work/flight" "$N" <<'PY'
import sys, os
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
old = b"g2R43Qr5m7EeTFGbkh1W"  # CaptureId of IMG_0001
for i in range(n):
    new = ("benchcapture%08d" % i).encode()
    assert len(new) == len(old)
    for band in range(1, 6):
        data = open(os.path.join(src, "IMG_0001_%d.tif" % band), "rb").read()
        assert old in data
        open(os.path.join(dst, "IMG_%04d_%d.tif" % (1000 + i, band)), "wb").write(data.replace(old, new))
PY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| threads | captures | wall s (median of $REPEAT) | s per capture (wall) | CPU s per capture | captures converged |"
echo "|---|---|---|---|---|---|"
for threads in 1 2; do
  times=()
  cpus=()
  for r in $(seq "$REPEAT"); do
    rm -rf "$work/out"
    # bash's `time`: wall, user and system seconds of the run.
    TIMEFORMAT='%R %U %S'
    t=$( { time "$fieldrx" calibrate "$work/flight" --sun-sensor --threads "$threads" -q -o "$work/out" >/dev/null; } 2>&1 | tail -1)
    times+=("$(echo "$t" | awk '{print $1}')")
    cpus+=("$(echo "$t" | awk '{print $2 + $3}')")
  done
  wall=$(printf '%s\n' "${times[@]}" | median)
  cpu=$(printf '%s\n' "${cpus[@]}" | median)
  converged=$(awk -F, 'NR > 1 && $NF == "yes" {c++} END {print c + 0}' "$work/out/captures.csv")
  printf '| %d | %d | %.2f | %.2f | %.2f | %d of %d |\n' "$threads" "$N" "$wall" \
    "$(echo "$wall / $N" | bc -l)" "$(echo "$cpu / $N" | bc -l)" "$converged" "$N"
done
