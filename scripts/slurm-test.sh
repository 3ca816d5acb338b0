#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The farm batch on a real Slurm: a single-node cluster (slurm-wlm + munge from Debian) started
# here, deploy/slurm/fieldrx-batch.sbatch submitted as its array of 4 shards, `fieldrx merge`,
# and the merged summary compared byte for byte with a single-process `fieldrx batch`.
#   scripts/slurm-test.sh [BUILD]      BUILD holds the fieldrx binary (default: build)
# Registered in CTest as `slurm_array_merge` (label slurm): `make test` runs it, `make test-slurm`
# runs only it. Exit 0 passed, 1 failed (with the Slurm and munge logs), 77 skipped with a one-line
# reason: not root, or slurm-wlm/munge not installed (scripts/install-deps.sh installs them).
# Nothing outside one temp folder is touched: config, state, keys, sockets and logs live there; the
# nodes are named and addressed as localhost/127.0.0.1 (no dependence on the hostname resolving),
# the two ports are picked free, and every process started here is stopped on any exit.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
skip() {
  echo "SKIPPED: Slurm test: $*"
  exit 77
}
build=$(realpath "${1:-build}")
repo=$(cd "$(dirname "$0")/.." && pwd)
fieldrx="$build/fieldrx"
[ -x "$fieldrx" ] || { echo "no $fieldrx; build first" >&2; exit 1; }
cd "$repo"  # machine profiles are looked up in configs/machines, here and in the array tasks
[ "$(id -u)" -eq 0 ] || skip "needs root (it starts munged, slurmctld and slurmd)"
for tool in munged slurmctld slurmd sbatch sinfo squeue scancel; do
  command -v "$tool" >/dev/null || skip "no $tool: install slurm-wlm and munge (scripts/install-deps.sh as root)"
done
getent passwd munge >/dev/null || skip "no munge user: the munge package is not configured"
command -v python3 >/dev/null || skip "no python3 (picks the free ports)"

# Time limits, all well inside the CTest TIMEOUT (tests/CMakeLists.txt) so the cleanup below runs.
start_s=60 single_s=240 array_s=420

work=$(mktemp -d /tmp/fieldrx-slurm.XXXXXX)
chmod 755 "$work"
# Every process started below carries this in its environment (SLURM_CONF is exported before the
# first daemon starts and inherited by slurmstepd and the job steps): the cleanup finds them by it.
export SLURM_CONF="$work/slurm.conf"
ours() {
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] || continue
    { tr '\0' '\n' < "$environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF" && echo "$pid"
  done
  return 0
}
show_logs() {
  echo "---- slurm-test failed; logs from $work:"
  local log
  for log in "$work"/munge/munged.log "$work"/slurmctld.log "$work"/slurmd.log "$work"/jobs/*.log "$work"/*.out; do
    [ -s "$log" ] || continue
    # A daemon's .out repeats its .log; it is shown only when the daemon died before opening the log.
    case "$log" in
      */munged.out) [ -s "$work/munge/munged.log" ] && continue ;;
      *.out) [ -s "${log%.out}.log" ] && continue ;;
    esac
    echo "---- $log (last 40 lines)"
    tail -n 40 "$log"
  done
  sinfo -N -l 2>&1 || true
  squeue -l 2>&1 || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ "$status" -eq 0 ] || [ "$status" -eq 77 ] || show_logs
  timeout 10 scancel --quiet --full --user=root >/dev/null 2>&1 || true
  local pids
  pids=$(ours)
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  for _ in $(seq 50); do
    [ -n "$(ours)" ] || break
    sleep 0.1
  done
  pids=$(ours)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  wait 2>/dev/null || true  # reap the daemons started here (no zombies left behind)
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two TCP ports nothing listens on (bound together, so they differ), for slurmctld and slurmd.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

# munge: its own key (private folder) and socket (a folder everyone can enter) in $work.
mkdir -p "$work/munge-key" "$work/munge" "$work/jobs"
dd if=/dev/urandom of="$work/munge-key/munge.key" bs=1 count=1024 status=none
chown -R munge:munge "$work/munge-key" "$work/munge"
chmod 700 "$work/munge-key"
chmod 755 "$work/munge"
chmod 400 "$work/munge-key/munge.key"
setpriv --reuid=munge --regid=munge --init-groups munged --key-file="$work/munge-key/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge-key/seed" -F \
  >"$work/munged.out" 2>&1 &
for _ in $(seq 50); do [ -S "$work/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$work/munge/munge.socket" ] || { echo "munged did not start"; exit 1; }

# slurmctld takes "localhost" as this host, at 127.0.0.1; the node is `fieldrx-node` at 127.0.0.1
# (slurmd -N), so neither needs the machine's hostname to resolve.
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
mkdir -p "$work/state" "$work/spool"
cat > "$SLURM_CONF" <<CONF
ClusterName=fieldrx-test
SlurmctldHost=localhost(127.0.0.1)
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
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
NodeName=fieldrx-node NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=fieldrx-node Default=YES MaxTime=INFINITE State=UP
CONF
# No cgroup.conf: proctrack/linuxproc and task/none need no cgroups (containers often have none writable).
slurmctld -D -i > "$work/slurmctld.out" 2>&1 &
slurmd -D -N fieldrx-node > "$work/slurmd.out" 2>&1 &
up=0
for _ in $(seq $((start_s * 5))); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then up=1; break; fi
  sleep 0.2
done
[ "$up" = 1 ] || { echo "slurm did not come up within ${start_s}s"; exit 1; }

# A synthetic farm, a manifest, the single-process reference.
"$fieldrx" synth -o "$work/farm" --size 1500 --fields 20 --seed 5 -q >/dev/null
cat > "$work/farm.yaml" <<YAML
defaults: {rates: [12, 15, 18], cell_size_m: 10, min_zone_area_m2: 400, machine: dji-agras-t50, report: false}
jobs:
  - {name: farm, fields: farm/fields.geojson, field_id: field_id, crop_attribute: crop, image: farm/farm.tif}
YAML
timeout "$single_s" "$fieldrx" batch "$work/farm.yaml" -o "$work/single" -q --threads 2 >/dev/null ||
  { echo "single-process batch failed or took over ${single_s}s"; exit 1; }

# The array of 4, as shipped (resources scaled down to this machine), then the merge.
# Run from the repository (machine profiles are looked up in configs/machines), logs in $work/jobs.
# If sbatch --wait times out, the cleanup cancels the jobs and stops everything.
FIELDRX="$fieldrx" timeout "$array_s" sbatch --wait --cpus-per-task=1 --mem=512M --export=ALL --chdir="$repo" \
  --output="$work/jobs/fieldrx-batch-%A_%a.log" \
  "$repo/deploy/slurm/fieldrx-batch.sbatch" "$work/farm.yaml" "$work/sharded" >/dev/null ||
  { echo "sbatch --wait failed (exit $?; 124: over ${array_s}s)"; exit 1; }
shards=$(ls "$work/sharded"/summary-shard-*-of-4.json 2>/dev/null | wc -l)
[ "$shards" = 4 ] || { echo "$shards of 4 shard summaries written"; exit 1; }
"$fieldrx" merge "$work/sharded" >/dev/null
for file in summary.csv summary.json index.html; do
  cmp "$work/single/$file" "$work/sharded/$file"
done
echo "slurm: 4 array tasks ($shards shard summaries) merged == single-process batch ($(($(wc -l < "$work/single/summary.csv") - 1)) fields)"
