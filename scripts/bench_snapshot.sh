#!/usr/bin/env bash
# Nights of a shop whose item snapshot is rewritten every day: one world of 34 days whose
# daily item snapshots get new prices (every day's bytes differ, no item changes its
# category), a cold build of day 28 (every daily feature aggregate computed), then the
# nights of days 29, 30 and 31 in order, each binary in its own copy of the world, the
# binaries alternating night by night. Prints each night's wall and CPU seconds.
#   scripts/bench_snapshot.sh NEW_ESMC [OLD_ESMC] [--exposures N] [--threads T]
# Rewriting the snapshots needs DuckDB ($ESMC_CACHE/pyenv, scripts/setup-peer.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
usage="usage: scripts/bench_snapshot.sh NEW_ESMC [OLD_ESMC] [--exposures N] [--threads T]"
new=${1:?$usage}
shift
old=""
if [[ $# -gt 0 && $1 != --* ]]; then old=$1; shift; fi
exposures=50000 threads=2
while [[ $# -gt 0 ]]; do
    case $1 in
        --exposures) exposures=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
python=$ESMC_CACHE/pyenv/bin/python
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
"$new" simulate -q --root "$root/new" --days 34 --exposures-per-day "$exposures" \
    --start 2026-10-01 >/dev/null
# day i's snapshot: prices times 1 + i/100
"$python" - "$root/new" <<'EOF'
import duckdb, glob, os, sys
for i, d in enumerate(sorted(glob.glob(f"{sys.argv[1]}/logs/item/dt=*"))):
    for f in glob.glob(f"{d}/*.parquet"):
        duckdb.sql(f"COPY (SELECT * REPLACE (price * {1 + i / 100} AS price) "
                   f"FROM read_parquet('{f}')) TO '{f}.tmp' (FORMAT parquet)")
        os.replace(f"{f}.tmp", f)
EOF
bins=(new)
if [[ -n $old ]]; then cp -r "$root/new" "$root/old"; bins+=(old); fi
declare -A exe=([new]=$new [old]=$old)
build() { # build NAME DAY LABEL
    /usr/bin/time -f "%e %U %S" -o "$root/.time" "${exe[$1]}" build -q --root "$root/$1" \
        --threads "$threads" --dt "$2" >/dev/null
    awk -v b="$1" -v l="$3" '{printf "%-4s %-14s wall %6.2f s  cpu %6.2f s\n", b, l, $1, $2 + $3}' "$root/.time"
}
for b in "${bins[@]}"; do build "$b" 2026-10-28 "cold Oct 28"; done
for d in 29 30 31; do
    for b in "${bins[@]}"; do build "$b" "2026-10-$d" "night Oct $d"; done
done
if [[ -n $old ]]; then
    for d in 28 29 30 31; do
        cmp -s "$root/new/samples/dt=2026-10-$d/part-00000.parquet" \
            "$root/old/samples/dt=2026-10-$d/part-00000.parquet" &&
            echo "Oct $d: the same sample bytes" || echo "Oct $d: the samples DIFFER"
    done
fi
