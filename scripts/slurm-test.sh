#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The farm batch on a real Slurm: a single-node cluster (slurm-wlm + munge from Debian) started
# here, deploy/slurm/fieldrx-batch.sbatch submitted as its array of 4 shards, `fieldrx merge`,
# and the merged summary compared byte for byte with a single-process `fieldrx batch`.
#   scripts/slurm-test.sh [BUILD]          (root; installs slurm-wlm and munge when missing)
# Everything (config, state, logs) lives in a temp folder; the daemons are stopped at the end.
set -euo pipefail
build=$(realpath "${1:-build}")
repo=$(cd "$(dirname "$0")/.." && pwd)
fieldrx="$build/fieldrx"
[ -x "$fieldrx" ] || { echo "no $fieldrx; build first" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
fi
work=$(mktemp -d /tmp/fieldrx-slurm.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# munge: its own key (private folder) and socket (a folder everyone can enter) in $work.
mkdir -p "$work/munge-key" "$work/munge"
dd if=/dev/urandom of="$work/munge-key/munge.key" bs=1 count=1024 status=none
chown -R munge:munge "$work/munge-key" "$work/munge"
chmod 700 "$work/munge-key"
chmod 755 "$work/munge"
chmod 400 "$work/munge-key/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$work/munge-key/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge-key/seed" -F \
  >"$work/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/munge/munge.socket" ] && break; sleep 0.1; done

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<CONF
ClusterName=fieldrx-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# No cgroup.conf: proctrack/linuxproc and task/none need no cgroups (containers often have none writable).
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i > "$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D > "$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.2; done
sinfo -h -o "%P %T %c" | grep -q idle || { echo "slurm did not come up:"; tail -n 20 "$work"/slurm*.log "$work"/*.out; exit 1; }

# A synthetic farm, a manifest, the single-process reference.
"$fieldrx" synth -o "$work/farm" --size 1500 --fields 20 --seed 5 -q
cat > "$work/farm.yaml" <<YAML
defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 400, machine: dji-agras-t50, report: false}
jobs:
  - {name: farm, fields: farm/fields.geojson, field_id: field_id, crop_attribute: crop, image: farm/farm.tif}
YAML
"$fieldrx" batch "$work/farm.yaml" -o "$work/single" -q --threads 2 >/dev/null || { echo "single-process batch failed"; exit 1; }

# The array of 4, as shipped (resources scaled down to this machine), then the merge.
# Run from the repository (machine profiles are looked up in configs/machines), logs in $work.
FIELDRX="$fieldrx" sbatch --wait --cpus-per-task=1 --mem=512M --export=ALL --chdir="$repo" \
  --output="$work/fieldrx-batch-%A_%a.log" \
  "$repo/deploy/slurm/fieldrx-batch.sbatch" "$work/farm.yaml" "$work/sharded" >/dev/null
ls "$work/sharded"/summary-shard-*-of-4.json >/dev/null
"$fieldrx" merge "$work/sharded" >/dev/null
for file in summary.csv summary.json index.html; do
  cmp "$work/single/$file" "$work/sharded/$file"
done
echo "slurm: 4 array tasks ($(ls "$work/sharded"/summary-shard-*.json | wc -l) shard summaries) merged == single-process batch ($(($(wc -l < "$work/single/summary.csv") - 1)) fields)"
