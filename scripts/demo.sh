#!/usr/bin/env bash
# The main job on the bundled samples (run by `make demo` after the build).
set -euo pipefail
fieldrx=$(realpath "${1:-build/fieldrx}")
cd "$(dirname "$0")/.."
rm -rf demo-out
echo "== 1. vegetation index maps of the real drone clip samples/plantcv-615/615.tif"
"$fieldrx" run configs/indices.yaml --quiet
echo
echo "== 2. a synthetic Heilongjiang farm (UTM 52N): 5-band orthomosaic + field boundaries"
"$fieldrx" synth -o demo-out/farm --size 3000 --fields 12 --quiet
echo
echo "== 3. zones and variable-rate prescriptions for every field (configs/prescription.yaml)"
"$fieldrx" run configs/prescription.yaml --quiet
echo
echo "Outputs are in $(pwd)/demo-out/:"
echo "  indices/                 NDVI, NDRE, GNDVI, OSAVI, WDRVI as COG + PNG of the real clip"
echo "  farm/                    the synthetic farm (farm.tif, fields.geojson)"
echo "  prescriptions/<field>/   TASKDATA/, TASKDATA.zip, zones.shp/.geojson/.kml, rx_wgs84.tif/.tfw,"
echo "                           report.html, summary.json, map_*.png"
echo "  prescriptions/summary.csv  one row per field"
echo "Open demo-out/prescriptions/F001/report.html in a browser."
