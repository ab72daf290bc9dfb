#!/usr/bin/env bash
# A real Apache Ballista cluster on this machine: one `esmc cluster scheduler` and two
# `esmc cluster executor` processes on free ports. Simulates a small shop, builds one
# day locally and the same day on the cluster, compares the partitions byte for byte,
# and prints one final line with the verdict and both wall times. Every process it
# started is stopped by its id on exit, also when a step fails.
#
#   scripts/cluster.sh            the comparison (exit 0 when the partitions are equal)
#   scripts/cluster.sh --kill     also: an executor killed (SIGKILL) in the middle of a
#                                 cluster build; the build must complete with the same
#                                 bytes, or fail with the day's previous partition intact
#
# EXPOSURES (default 100000 per day) sizes the world, EXECUTORS (default 2) the cluster;
# KEEP=1 keeps the work directory.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
kill_mode=false
[ "${1:-}" = "--kill" ] && kill_mode=true
cargo build -p esmc --bins  # esmc, and esmc-torch beside it (the commands that need libtorch)
esmc="$CARGO_TARGET_DIR/debug/esmc"
work=$(mktemp -d "${TMPDIR:-/tmp}/esmc-cluster.XXXXXX")
pids=()
sampler=""
cleanup() {
  set +e # stop everything, whatever fails on the way
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

sp=$(free_port)
"$esmc" cluster scheduler --port "$sp" --executor-timeout-secs 8 >"$work/scheduler.log" 2>&1 &
pids+=($!)
wait_port "$sp"
start_executor() { # $1: name; further arguments: environment for the executor
  local name=$1 fp gp
  shift
  fp=$(free_port)
  gp=$(free_port)
  env "$@" "$esmc" cluster executor --scheduler "df://localhost:$sp" --port "$fp" \
    --grpc-port "$gp" --concurrent-tasks 2 --heartbeat-secs 2 --work-dir "$work/$name" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_port "$fp"
}
hold=()
$kill_mode && hold=(ESMC_HOLD_ATTRIBUTE_MS=4000)
executors=${EXECUTORS:-2}
for i in $(seq "$executors"); do start_executor "exec$i" "${hold[@]}"; done
executor1=${pids[1]}
sleep 3 # the executors' first heartbeats

"$esmc" simulate --root "$work/local" --preset eleme --exposures-per-day "${EXPOSURES:-100000}" \
  --days 5 --start 2026-11-01 --overwrite --quiet >/dev/null
mkdir -p "$work/cluster"
cp -r "$work/local/logs" "$work/cluster/logs"
day=2026-11-03
t0=$(now)
"$esmc" build --root "$work/local" --dt "$day" --threads 2 --quiet >/dev/null
t1=$(now)
# the executors' shuffle files are removed when the job ends: sample their size meanwhile
(
  set +e +o pipefail # files come and go under find
  peak=0
  while :; do
    n=$(find "$work"/exec* -type f -printf '%s\n' 2>/dev/null | awk '{n += $1} END {print n + 0}')
    [ "$n" -gt "$peak" ] && peak=$n && echo "$peak" >"$work/shuffle-peak"
    sleep 0.05
  done
) &
sampler=$!
"$esmc" build --root "$work/cluster" --dt "$day" --threads 4 --quiet \
  --cluster "df://localhost:$sp" >"$work/cluster-build.log" 2>&1 || {
  cat "$work/cluster-build.log"
  echo "cluster.sh: FAILED: the cluster build of $day failed (logs in $work; KEEP=1 keeps them)"
  exit 1
}
t2=$(now)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

same_partition() { # the part files of $day in two warehouses
  local a="$1/samples/dt=$day" b="$2/samples/dt=$day" f n=0
  for f in "$a"/*.parquet; do
    cmp -s "$f" "$b/$(basename "$f")" || return 1
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] && [ "$(ls "$b"/*.parquet | wc -l)" -eq "$n" ]
}
# what the cluster build cost: shuffle files left in the executors' work dirs, and each
# executor's peak resident memory
shuffle=$(cat "$work/shuffle-peak" 2>/dev/null || echo 0)
rss=""
for p in "${pids[@]:1}"; do
  rss="$rss $(awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$p/status" 2>/dev/null) MiB"
done
echo "cluster.sh: executors' shuffle files at most ${shuffle} bytes at once; their peak RSS:$rss"
rows=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows'])" \
  "$work/local/samples/dt=$day/_manifest.json")
verdict=DIFFERENT
same_partition "$work/local" "$work/cluster" && verdict=SAME
line="cluster.sh: $verdict partition of $day ($rows samples): local $(secs "$t0" "$t1") s, cluster ($executors executors) $(secs "$t1" "$t2") s"

if $kill_mode; then
  # the cluster's partition of $day is now the previous one; rebuild it and kill an
  # executor once the attribution has started writing
  before=$(md5sum "$work/cluster/samples/dt=$day"/*.parquet | md5sum)
  "$esmc" build --root "$work/cluster" --dt "$day" --threads 4 --quiet \
    --cluster "df://localhost:$sp" --cluster-job-timeout-secs 60 >"$work/kill-build.log" 2>&1 &
  build=$!
  for _ in $(seq 600); do
    find "$work/cluster/samples" -name '.labelled-*.tmp' 2>/dev/null | grep -q . && break
    sleep 0.05
  done
  kill -9 "$executor1"
  k0=$(now)
  if wait "$build"; then
    outcome="completed after the kill in $(secs "$k0" "$(now)") s"
    same_partition "$work/local" "$work/cluster" || verdict=DIFFERENT
  else
    after=$(md5sum "$work/cluster/samples/dt=$day"/*.parquet | md5sum)
    [ "$before" = "$after" ] || verdict=CORRUPTED
    outcome="failed after the kill ($(tail -1 "$work/kill-build.log")); previous partition intact"
  fi
  line="$line; executor killed mid-build: $outcome"
fi
echo "$line"
[ "$verdict" = SAME ]
