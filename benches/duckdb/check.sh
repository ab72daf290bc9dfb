#!/usr/bin/env bash
# The DuckDB reference against esmc on small simulated worlds: labels and every behaviour
# feature column of a day must be equal (build.py --features --compare). Exits 1 on the
# first world that differs. About a minute with a dev build; nothing is kept.
#
#   benches/duckdb/check.sh [WORK_DIR]
#
#   ESMC    the esmc binary (default: $CARGO_TARGET_DIR/debug/esmc, `cargo build --bin esmc`)
#   PYTHON  a Python with duckdb (default: $ESMC_CACHE/pyenv/bin/python; install it with
#           `$ESMC_CACHE/pyenv/bin/pip install duckdb`)
#
# Worlds: eleme and taobao (30k rec exposures a day, 8 days, compared on the last day and,
# for eleme, on the first, which has no history); eleme with duplicates, late rows,
# clicks without exposure ids and malformed rows; string ids with late rows; a stress
# world derived from the first (stress.py: times truncated to the minute, 10% of the
# items out of the snapshots, 2% of the clicks, carts and purchases copied into the next
# day's partition); 36 days of a small eleme world, so that the 30-day window is cut,
# under the default feature config and under another (windows 2 and 5 days, no
# smoothing, a 10-day cart TTL longer than every window, sequences of 3).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../scripts/env.sh"
esmc=${ESMC:-$CARGO_TARGET_DIR/debug/esmc}
py=${PYTHON:-$ESMC_CACHE/pyenv/bin/python}
"$py" -c "import duckdb" || { echo "check.sh: no duckdb in $py (set PYTHON)" >&2; exit 2; }
[[ -x "$esmc" ]] || { echo "check.sh: no esmc at $esmc (cargo build --bin esmc, or set ESMC)" >&2; exit 2; }
if [[ $# -ge 1 ]]; then
    work=$1
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi

sim() { "$esmc" simulate -q --root "$work/$1" --start "${START:-2026-11-01}" "${@:2}" >/dev/null; }
build() { "$esmc" build -q --root "$work/$1" "${@:2}" >/dev/null; }
# compare WORLD DAY [build.py feature options]: prints the world, day and verdict
compare() {
    local w=$1 d=$2 log="$work/$1-$2.txt"
    if "$py" "$here/build.py" --root "$work/$w" --dt "$d" --out "$work/$w-$d.parquet" \
        --features "${@:3}" --compare "$work/$w/samples" >"$log"; then
        echo "$w $d: $(tail -1 "$log") ($(sed -n 2p "$log" | cut -d';' -f1))"
    else
        cat "$log"
        echo "$w $d: DIFFERENT (above)" >&2
        exit 1
    fi
}

days=(--from 2026-11-01 --to 2026-11-08)
sim eleme --preset eleme --exposures-per-day 30000 --days 8
build eleme "${days[@]}"
compare eleme 2026-11-08
compare eleme 2026-11-01

sim taobao --preset taobao --exposures-per-day 30000 --days 8 --seed 3
build taobao "${days[@]}"
compare taobao 2026-11-08

sim messy --preset eleme --exposures-per-day 30000 --days 8 --seed 7 --duplicate-rate 0.02 \
    --late-rate 0.02 --missing-exposure-id-rate 0.1 --malformed-rate 0.003
echo "max_reject_rate = 0.05" >"$work/messy.toml"
build messy --config "$work/messy.toml" "${days[@]}"
compare messy 2026-11-08

sim strings --preset eleme --exposures-per-day 20000 --days 8 --seed 11 --string-ids \
    --duplicate-rate 0.01 --late-rate 0.05
build strings "${days[@]}"
compare strings 2026-11-08

"$py" "$here/stress.py" --src "$work/eleme" --dst "$work/stress"
build stress "${days[@]}"
compare stress 2026-11-08

START=2026-10-01 sim long --preset eleme --exposures-per-day 4000 --days 36 --seed 5 \
    --late-rate 0.01 --duplicate-rate 0.01
build long --dt 2026-11-05
compare long 2026-11-05
mkdir -p "$work/config" && cp -r "$work/long/logs" "$work/config/"
printf '[features]\nwindows_days = [2, 5]\nsmoothing = 0.0\ncart_ttl_days = 10\nsequence_len = 3\n' \
    >"$work/config.toml"
build config --config "$work/config.toml" --dt 2026-11-05
compare config 2026-11-05 --windows-days 2,5 --smoothing 0 --cart-ttl-days 10 --sequence-len 3
echo "check.sh: every world identical (labels and features)"
