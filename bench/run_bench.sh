#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NDVI on a 20000 x 20000 5-band UInt16 orthomosaic: fieldrx against gdal_calc.py, OTB and the
# raw GDAL read of the same tiles, on an uncompressed and a DEFLATE copy of one synthetic farm,
# in one run, hot page cache, same 64 MiB GDAL cache where a tool lets us set it.
#
#   bench/run_bench.sh                      # everything; results to $BENCH_DIR/results.md
#   UPDATE_README=1 bench/run_bench.sh      # also replace the results section of bench/README.md
#
# Environment: FIELDRX (binary; default: build it in $BUILD_DIR), BUILD_DIR (build-bench),
# BENCH_DIR (/tmp/fieldrx-bench; needs ~25 GB), SIZE (20000), FIELDS (200), SEED (1),
# THREADS (2), REPEAT (3: the median run is reported), KEEP=1 keeps the big files,
# PEERS=0 times only fieldrx and the read floor (no gdal_calc.py / OTB),
# FIELDRX_BASELINE=/path/to/an/older/fieldrx adds each fieldrx row run with that binary too.
# All jobs of one input run in turn, REPEAT rounds (interleaved), so a load that comes and goes
# on a shared machine spreads over every row instead of landing on one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$repo/build-bench}
BENCH_DIR=${BENCH_DIR:-/tmp/fieldrx-bench}
SIZE=${SIZE:-20000}
FIELDS=${FIELDS:-200}
SEED=${SEED:-1}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
PEERS=${PEERS:-1}
FIELDRX_BASELINE=${FIELDRX_BASELINE:-}
CACHE_MB=64  # fieldrx's GDAL block cache (pipeline/io/gdal_io.cpp: gdal_cache_for_budget)
load_before=$(cut -d" " -f1-3 /proc/loadavg)

# ---- bench-only packages (not in scripts/install-deps.sh: the tests do not need them) ----
bench_packages=(otb-bin time gdal-bin python3-gdal python3-numpy g++ libgdal-dev)
missing=()
for p in "${bench_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # One by one, so a missing OTB does not stop the rest; OTB's absence is reported below.
    for p in "${missing[@]}"; do apt-get install -y -qq --no-install-recommends "$p" >/dev/null || echo "bench: could not install $p" >&2; done
  else
    echo "bench: missing packages: ${missing[*]}; install with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  fi
fi
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time, package 'time') is required for CPU and peak RSS" >&2; exit 1; }
have_otb=0
[ "$PEERS" = 1 ] && command -v otbcli_RadiometricIndices >/dev/null && have_otb=1

# ---- fieldrx ----
if [ -z "${FIELDRX:-}" ]; then
  cmake -S "$repo" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target fieldrx >/dev/null
  FIELDRX=$BUILD_DIR/fieldrx
fi
[ -x "$FIELDRX" ] || { echo "bench: no fieldrx binary at $FIELDRX" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
work=$(cd "$BENCH_DIR" && pwd)
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$work/plain" "$work/deflate" "$work/out" "$work/read_blocks"; }
trap cleanup EXIT

# ---- the I/O floor: every block of all 5 bands, one RasterIO per block, one handle per thread ----
cat > "$work/read_blocks.cpp" <<'CPP'
// Reads every block of all bands of a tiled raster in file order: the I/O floor of any per-tile
// tool. One GDALDataset per thread (GDAL 3.6 datasets are not thread-safe), all bands in one
// RasterIO per block, native data type, 64 MiB block cache.
#include <gdal_priv.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
int main(int argc, char** argv) {
  if (argc != 3) { std::fprintf(stderr, "usage: read_blocks FILE THREADS\n"); return 2; }
  GDALAllRegister();
  GDALSetCacheMax64(64LL << 20);
  GDALDataset* probe = GDALDataset::Open(argv[1], GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR);
  if (!probe) return 1;
  const int w = probe->GetRasterXSize(), h = probe->GetRasterYSize(), n = probe->GetRasterCount();
  int bx = 0, by = 0;
  probe->GetRasterBand(1)->GetBlockSize(&bx, &by);
  const GDALDataType type = probe->GetRasterBand(1)->GetRasterDataType();
  GDALClose(probe);
  const long nbx = (w + bx - 1) / bx, total = nbx * ((h + by - 1) / by);
  std::atomic<long> next{0};
  std::atomic<unsigned long long> checksum{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    GDALDataset* ds = GDALDataset::Open(argv[1], GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR);
    if (!ds) { failed = true; return; }
    std::vector<unsigned char> buffer(static_cast<size_t>(bx) * by * n * GDALGetDataTypeSizeBytes(type));
    unsigned long long sum = 0;
    for (long k; (k = next++) < total;) {
      const int x = static_cast<int>(k % nbx) * bx, y = static_cast<int>(k / nbx) * by;
      const int ww = std::min(bx, w - x), hh = std::min(by, h - y);
      if (ds->RasterIO(GF_Read, x, y, ww, hh, buffer.data(), ww, hh, type, n, nullptr, 0, 0, 0, nullptr) != CE_None) {
        failed = true;
        break;
      }
      sum += buffer[0] + buffer[buffer.size() / 2];
    }
    checksum += sum;
    GDALClose(ds);
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::atoi(argv[2]); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::printf("%ld blocks of %dx%d x %d bands, checksum %llu\n", total, bx, by, n, checksum.load());
  return failed ? 1 : 0;
}
CPP
g++ -O2 -std=c++17 $(gdal-config --cflags) "$work/read_blocks.cpp" -o "$work/read_blocks" $(gdal-config --libs) -pthread

# ---- inputs ----
echo "bench: generating ${SIZE}x${SIZE} px farms (uncompressed and DEFLATE)" >&2
for kind in plain deflate; do
  compress=none
  [ "$kind" = deflate ] && compress=deflate
  if [ ! -f "$work/$kind/farm.tif" ]; then
    /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB peak RSS" -o "$work/synth-$kind.time" \
      "$FIELDRX" synth -q -o "$work/$kind" --size "$SIZE" --fields "$FIELDS" --seed "$SEED" --compress "$compress" >/dev/null
    echo "bench: synth $kind: $(tail -1 "$work/synth-$kind.time")" >&2
  fi
done

results=$work/times.txt
: > "$results"
: > "$work/crosscheck.txt"
mkdir -p "$work/out"

# job NAME OUTPUT_DIR COMMAND...: queue a job; run_jobs KIND runs the queue REPEAT rounds, every
# job once per round (interleaved), one line per run in $results.
job_names=()
job_outs=()
job_commands=()
job() {
  job_names+=("$1")
  job_outs+=("$2")
  shift 2
  job_commands+=("$(printf '%q ' "$@")")
}
# fieldrx_job NAME OUTPUT_DIR ARGS...: fieldrx ARGS -o OUTPUT_DIR, and the baseline binary's run.
fieldrx_job() {
  local name=$1 out=$2
  shift 2
  job "$name" "$out" "$FIELDRX" "$@" -o "$out"
  if [ -n "$FIELDRX_BASELINE" ]; then
    job "$name [baseline]" "${out}_baseline" "$FIELDRX_BASELINE" "$@" -o "${out}_baseline"
  fi
}
run_jobs() {
  local kind=$1 i j
  for i in $(seq "$REPEAT"); do
    for j in "${!job_names[@]}"; do
      local name=${job_names[$j]} out=${job_outs[$j]}
      rm -rf "$out"
      mkdir -p "$out"
      sync
      if eval "/usr/bin/time -f '%e %U %S %M' -o '$work/time.txt' ${job_commands[$j]}" >"$work/log.txt" 2>&1; then
        echo "$name|$kind|$i|$(tail -1 "$work/time.txt")" >>"$results"
      else
        echo "bench: FAILED: $name on $kind:" >&2
        tail -5 "$work/log.txt" >&2
        echo "$name|$kind|$i|FAILED" >>"$results"
      fi
      cp "$work/log.txt" "$out.log"
    done
  done
  job_names=()
  job_outs=()
  job_commands=()
}

# Cross-check: every tool computed the same NDVI (a window in the middle), so nobody is timed
# on a wrong channel or a skipped band.
crosscheck() {
  local kind=$1
  /usr/bin/python3 - "$work/out/$kind" "$kind" >>"$work/crosscheck.txt" <<'PY'
import glob, os, sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
base, kind = sys.argv[1], sys.argv[2]
ref_path = os.path.join(base, "fieldrx_raw", "ndvi.tif")
ref_ds = gdal.Open(ref_path)
w, h = ref_ds.RasterXSize, ref_ds.RasterYSize
side = min(2048, w, h)
win = ((w - side) // 2, (h - side) // 2, side, side)
ref = ref_ds.ReadAsArray(*win).astype(np.float64)
for path in sorted(glob.glob(os.path.join(base, "*", "*.tif"))):
    if path == ref_path or os.path.basename(path) not in ("ndvi.tif", "ndvi_otb.tif", "ndvi_calc.tif"):
        continue
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    v = band.ReadAsArray(*win).astype(np.float64)
    nd = band.GetNoDataValue()
    valid_other = np.isfinite(v) if nd is None or np.isnan(nd) else (v != nd) & np.isfinite(v)
    both = np.isfinite(ref) & valid_other
    diff = np.abs(ref[both] - v[both]).max() if both.any() else float("nan")
    extra = int((~np.isfinite(ref) & valid_other).sum())
    print(f"{kind}: {os.path.relpath(path, base)}: max |NDVI - fieldrx| = {diff:.2e} on {int(both.sum())} px; "
          f"{extra} px valid where fieldrx has nodata")
# Every fieldrx output that claims to be a COG is checked by GDAL's validator.
try:
    from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
except ImportError:
    validate = None
for path in sorted(glob.glob(os.path.join(base, "fieldrx_*", "*.tif"))):
    if validate is None:
        print(f"{kind}: {os.path.relpath(path, base)}: COG not checked (osgeo_utils missing)")
        continue
    _, errors, _ = validate(path, full_check=False)
    print(f"{kind}: {os.path.relpath(path, base)}: " + ("valid COG" if not errors else "NOT a valid COG: " + "; ".join(errors)))
PY
}

calc_expr='(B.astype(float32)-A)/(B.astype(float32)+A)'  # A = Red (band 3), B = NIR (band 5)
for kind in plain deflate; do
  in=$work/$kind/farm.tif
  out=$work/out/$kind
  mkdir -p "$out"
  cat "$in" >/dev/null  # hot page cache (twice the inputs fit in RAM)
  cat "$in" >/dev/null
  job "read: all 5 bands, tile by tile (C++ GDAL, ${THREADS} handles)" "$out/read" \
    "$work/read_blocks" "$in" "$THREADS"
  fieldrx_job "fieldrx index ndvi (default: ZSTD COG + overviews + preview)" "$out/fieldrx_default" \
    index "$in" --index ndvi --threads "$THREADS" -q
  fieldrx_job "fieldrx index ndvi --compress none --no-overviews --no-preview" "$out/fieldrx_raw" \
    index "$in" --index ndvi --threads "$THREADS" -q --compress none --no-overviews --no-preview
  if [ "$kind" = plain ]; then
    # Where the default's time goes: the same run without each output extra.
    fieldrx_job "fieldrx index ndvi --compress none (COG + overviews + preview)" "$out/fieldrx_cog_none" \
      index "$in" --index ndvi --threads "$THREADS" -q --compress none
    fieldrx_job "fieldrx index ndvi --no-overviews --no-preview (ZSTD COG)" "$out/fieldrx_zstd_only" \
      index "$in" --index ndvi --threads "$THREADS" -q --no-overviews --no-preview
    fieldrx_job "fieldrx index ndvi --compress none --no-overviews (preview only)" "$out/fieldrx_preview_only" \
      index "$in" --index ndvi --threads "$THREADS" -q --compress none --no-overviews
  fi
  fieldrx_job "fieldrx index ndvi,ndre (default output; memory check)" "$out/fieldrx_ndvi_ndre" \
    index "$in" --index ndvi,ndre --threads "$THREADS" -q
  if [ "$PEERS" = 1 ]; then
    job "gdal_calc.py (default)" "$out/calc_default" \
      gdal_calc.py -A "$in" --A_band 3 -B "$in" --B_band 5 --calc "$calc_expr" --type Float32 --quiet --overwrite \
      --outfile "$out/calc_default/ndvi_calc.tif"
    job "gdal_calc.py (tuned: TILED=YES, GDAL_CACHEMAX=${CACHE_MB} MiB)" "$out/calc_tuned" \
      env GDAL_CACHEMAX=$CACHE_MB gdal_calc.py -A "$in" --A_band 3 -B "$in" --B_band 5 --calc "$calc_expr" \
      --type Float32 --co TILED=YES --quiet --overwrite --outfile "$out/calc_tuned/ndvi_calc.tif"
  fi
  if [ "$have_otb" = 1 ]; then
    job "OTB RadiometricIndices Vegetation:NDVI (${THREADS} threads)" "$out/otb" \
      env ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$THREADS OTB_LOGGER_LEVEL=WARNING otbcli_RadiometricIndices \
      -in "$in" -out "$out/otb/ndvi_otb.tif" float -channels.red 3 -channels.nir 5 -list Vegetation:NDVI
  fi
  run_jobs "$kind"
  crosscheck "$kind"
  rm -rf "$out"  # GBs; the cross-check is done
done

# ---- report ----
machine() {
  echo "- machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "- Debian $(cat /etc/debian_version), $(gdalinfo --version | cut -d, -f1), oneTBB $(dpkg-query -W -f='${Version}' libtbb12 2>/dev/null || echo '?')," \
       "OTB $(dpkg-query -W -f='${Version}' otb-bin 2>/dev/null || echo 'not installed')"
  echo "- fieldrx $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
}
/usr/bin/python3 - "$results" "$SIZE" "$REPEAT" >"$work/table.md" <<'PY'
import statistics, sys
from collections import OrderedDict
path, size, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = OrderedDict()
for line in open(path):
    name, kind, _, rest = line.rstrip("\n").split("|", 3)
    runs.setdefault((name, kind), []).append(None if rest == "FAILED" else [float(x) for x in rest.split()])
mpx = size * size / 1e6
def median_run(values):
    ok = [v for v in values if v]
    if not ok:
        return None
    ok.sort(key=lambda v: v[0])
    return ok[len(ok) // 2]
rows = {k: median_run(v) for k, v in runs.items()}
best = {k: min((v[0] for v in vs if v), default=None) for k, vs in runs.items()}
print(f"{size}x{size} px ({mpx:.0f} Mpx), 5 bands UInt16, NDVI to Float32; median of {repeat} runs by wall time.")
print("CPU = user + sys. RSS = peak resident set (GNU time). x fieldrx raw / x read = wall / wall of `fieldrx raw` /")
print("of the read floor on the same input (the goal: fieldrx raw within 1.5x of the read floor).")
print("best = the fastest of the runs (least disturbed by other load).\n")
print("| job | input | wall s | best wall s | CPU s | peak RSS MiB | Mpx/s | x fieldrx raw | x read |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for (name, kind), r in rows.items():
    raw = rows.get(("fieldrx index ndvi --compress none --no-overviews --no-preview", kind))
    read = next((v for (n, k), v in rows.items() if n.startswith("read:") and k == kind and v), None)
    if r is None:
        print(f"| {name} | {kind} | failed | | | | | | |")
        continue
    wall, user, sys_, rss = r
    ratio = f"{wall / raw[0]:.2f}" if raw else ""
    to_read = f"{wall / read[0]:.2f}" if read else ""
    print(f"| {name} | {kind} | {wall:.2f} | {best[(name, kind)]:.2f} | {user + sys_:.2f} | {rss / 1024:.0f} | {mpx / wall:.0f} | {ratio} | {to_read} |")
mem = [r for (name, kind), r in rows.items() if name.startswith("fieldrx index ndvi,ndre") and r]
if mem:
    peak = max(r[3] for r in mem) / 1024
    print(f"\nMemory check, fieldrx NDVI+NDRE: peak RSS {peak:.0f} MiB: {'PASS' if peak < 1024 else 'FAIL'} (< 1024 MiB).")
PY
{
  echo "### Results"
  echo
  machine
  echo "- inputs: \`fieldrx synth --size $SIZE --fields $FIELDS --seed $SEED [--compress deflate]\`; generation: plain $(tail -1 "$work/synth-plain.time" 2>/dev/null || echo '(reused)'), deflate $(tail -1 "$work/synth-deflate.time" 2>/dev/null || echo '(reused)')"
  if [ "$PEERS" != 1 ]; then
    echo "- PEERS=0: fieldrx and the read floor only (no gdal_calc.py / OTB rows)."
  elif [ "$have_otb" != 1 ]; then
    echo "- OTB: otbcli_RadiometricIndices is not installed (package otb-bin could not be installed); no OTB rows."
  fi
  [ -z "$FIELDRX_BASELINE" ] || echo "- [baseline] rows: the same command with \`$FIELDRX_BASELINE\`, run in turn with the others."
  echo "- jobs run in turn, $REPEAT rounds (interleaved): a load that comes and goes spreads over every row."
  echo
  cat "$work/table.md"
  echo
  echo "Cross-check (2048x2048 px window in the middle, each output against fieldrx raw):"
  echo
  sed 's/^/    /' "$work/crosscheck.txt"
} >"$work/results.md"
cat "$work/results.md"

if [ "${UPDATE_README:-0}" = 1 ]; then
  /usr/bin/python3 - "$here/README.md" "$work/results.md" <<'PY'
import sys
readme, results = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + results + "\n" + end + tail)
PY
  echo "bench: results written into $here/README.md" >&2
fi
