#!/usr/bin/env bash
# Installs the npm packages the tests use as independent readers into BUILD/node_modules:
# isoxml (ISO 11783-10 parser) and geotiff (a GeoTIFF reader that is not GDAL).
set -euo pipefail
build=${1:-build}
mkdir -p "$build/npm"
cd "$build/npm"
if [ ! -f node_modules/isoxml/package.json ] || [ ! -f node_modules/geotiff/package.json ]; then
  [ -f package.json ] || echo '{"name":"fieldrx-test-readers","private":true}' > package.json
  npm install --silent --no-audit --no-fund isoxml@1.11.2 geotiff@2.1.3 >/dev/null
fi
