#!/usr/bin/env bash
# The main job on the bundled sample (run by `make demo` after the build).
set -euo pipefail
fieldrx=${1:-build/fieldrx}
cd "$(dirname "$0")/.."
rm -rf demo-out
echo "== vegetation indices of the real drone clip samples/plantcv-615/615.tif"
"$fieldrx" run configs/indices.yaml
echo
echo "Outputs are in $(pwd)/demo-out/:"
find demo-out -type f | sort | sed 's/^/  /'
