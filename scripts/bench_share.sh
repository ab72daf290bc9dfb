#!/usr/bin/env bash
# Trainings that share a machine: samples/s of one `esmc train` alone, of two at once,
# and of one beside a looping `esmc build`, medians of R rounds, with the ratios to half
# the solo figure from the same invocation (docs/benchmarks.md#trainings-that-share-a-machine).
#
#   scripts/bench_share.sh [--bin PATH] [--runs R] [--exposures N] [--days D] [--keep DIR]
#                          [-- extra `esmc train` arguments, e.g. --train-threads 1]
#
# --bin defaults to the dev build ($CARGO_TARGET_DIR/debug/esmc). Each round measures the
# governed team (the default) and the fixed one (ESMC_FIXED_THREADS=1, the behaviour
# before the governor), so both columns and their ratios come from one invocation; the
# rounds alternate the scenarios so that the machine's drift touches them alike. On a
# machine where other jobs run, `nice -n -10 scripts/bench_share.sh` (root) keeps them
# from drowning the figures; every process the script starts inherits the priority.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" >/dev/null
bin=$CARGO_TARGET_DIR/debug/esmc
runs=3
exposures=100000
days=1
keep=
while (($#)); do
    case "$1" in
        --bin) bin=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --exposures) exposures=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
extra=("$@")
[[ -x $bin ]] || { echo "no binary at $bin (cargo build -p esmc --bins)" >&2; exit 1; }

work=${keep:-$(mktemp -d)}
[[ -n $keep ]] || trap 'rm -rf "$work"' EXIT
from=2026-11-01
to=$(date -u -d "$from + $((days - 1)) day" +%F)

# two worlds from one seed: trainings read the first, the looping build rewrites the second
for w in train build; do
    if [[ ! -d $work/$w/samples ]]; then
        "$bin" -q simulate --root "$work/$w" --preset eleme --exposures-per-day "$exposures" \
            --days "$days" --start "$from" >/dev/null
        "$bin" -q build --root "$work/$w" --from "$from" --to "$to" >/dev/null
    fi
done

# samples/s of one training (total samples over total training seconds, from its table)
train() {
    local run=$1
    rm -rf "$work/train/models/$run"
    "$bin" -q train --root "$work/train" --run "$run" --from "$from" --to "$to" \
        --allow-provisional "${extra[@]}" |
        awk '/^20[0-9][0-9]-/ { n += $2; s += $2 / $4 } END { printf "%.0f\n", n / s }'
}

# rebuilds the build world's days until $work/stop exists; prints each build's seconds
build_loop() {
    while [[ ! -e $work/stop ]]; do
        local t0=$EPOCHREALTIME
        "$bin" -q build --root "$work/build" --from "$from" --to "$to" >/dev/null
        awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.2f\n", a - b }'
    done
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# each round measures both team policies: the governed team (the default) and a fixed
# one (ESMC_FIXED_THREADS=1, what training did before the governor)
policies=(governed fixed)
for p in "${policies[@]}"; do
    for f in solo pair_slow pair_fast beside build_alone build_beside; do : >"$work/$p.$f"; done
done
round() {
    local p=$1 r=$2
    if [[ $p == fixed ]]; then export ESMC_FIXED_THREADS=1; else unset ESMC_FIXED_THREADS; fi
    train solo >>"$work/$p.solo"
    train a >"$work/a" & local pa=$!
    train b >"$work/b" & local pb=$!
    wait "$pa" "$pb"
    sort -g "$work/a" "$work/b" | head -1 >>"$work/$p.pair_slow"
    sort -g "$work/a" "$work/b" | tail -1 >>"$work/$p.pair_fast"
    rm -f "$work/stop"
    build_loop >"$work/builds" & local pl=$!
    train beside >>"$work/$p.beside"
    touch "$work/stop"
    wait "$pl"
    median <"$work/builds" >>"$work/$p.build_beside"
    rm -f "$work/stop"
    local t0=$EPOCHREALTIME
    "$bin" -q build --root "$work/build" --from "$from" --to "$to" >/dev/null
    awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.2f\n", a - b }' >>"$work/$p.build_alone"
    echo "round $r, $p team: solo $(tail -1 "$work/$p.solo"), pair $(cat "$work/a") + $(cat "$work/b"), beside a build $(tail -1 "$work/$p.beside") samples/s; build alone $(tail -1 "$work/$p.build_alone") s, beside a training $(tail -1 "$work/$p.build_beside") s" >&2
}
for ((r = 1; r <= runs; r++)); do
    for p in "${policies[@]}"; do round "$p" "$r"; done
done
unset ESMC_FIXED_THREADS

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b / 2) }'; }
echo "binary: $bin; $(nproc) cores; $days day(s) of $exposures exposures; train args: ${extra[*]:-(defaults)}; medians of $runs rounds"
printf "%-34s %12s %6s %12s %6s\n" "samples/s (x half of solo)" "governed" "" "fixed" ""
row() {
    local name=$1 f=$2 out=() p v
    for p in "${policies[@]}"; do
        v=$(median <"$work/$p.$f")
        if [[ $f == solo ]]; then out+=("$v" ""); else out+=("$v" "$(ratio "$v" "$(median <"$work/$p.solo")")"); fi
    done
    printf "%-34s %12s %6s %12s %6s\n" "$name" "${out[@]}"
}
row "one training alone" solo
row "two at once, the slower one" pair_slow
row "two at once, the faster one" pair_fast
row "one beside a looping build" beside
for p in "${policies[@]}"; do
    printf "build of %s day(s), %s team: alone %.2f s, beside a training %.2f s\n" "$days" "$p" \
        "$(median <"$work/$p.build_alone")" "$(median <"$work/$p.build_beside")"
done
