#!/usr/bin/env bash
# Installs the Debian 12 packages fieldrx needs to build and test. As root it installs what
# is missing; otherwise it prints the exact command to run. Idempotent and quiet when done.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # libraries (design card + well-kept helpers)
  libgdal-dev gdal-bin libopencv-dev libtbb-dev libproj-dev proj-bin
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libmuparser-dev libexiv2-dev libzbar-dev
  libtinyxml2-dev libzip-dev
  # tests: independent readers and validators
  catch2 python3-gdal python3-numpy libxml2-utils zip unzip
  # tests: the farm batch on a real single-node Slurm (scripts/slurm-test.sh; its daemons are
  # started by the test, in a temp folder; the packages' own services are not configured)
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js + npm (for the isoxml and geotiff npm readers in tests): the machine's own if it
# has one (it may come from another repository than Debian's), else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "fieldrx needs these Debian packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
