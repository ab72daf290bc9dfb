#!/usr/bin/env bash
# The feature history's cost: one world of 34 days, the builds of the days with 1, 8 and
# 30 days of history before them (days 2, 9 and 31; the last three days hold the
# labels' days after), each binary's runs interleaved, medians of R.
#   scripts/bench_history.sh NEW_ESMC [OLD_ESMC] [--exposures N] [--runs R] [--threads T]
# The last lines compare day 30 with itself: its 30 days of history against a copy of
# the world without the logs before D-3 (the labels' window is the same in both).
# NEW_ESMC runs four ways per day: with its daily feature aggregates already present (a
# first, untimed build of the 31st day computes them; its time is printed as "cold") and
# the day before built first, untimed, as the nightly would have (its prior state is
# what the day's prior counts roll from),
# with ESMC_FEATURES_FROM_SCRATCH=1 (re-reading the raw history, as before), without
# features (the labels' own cost, whose window is shorter on day 2), and with the click
# sequences cut to one click (`seq1`: what the history costs besides the sequences, which
# are nearly empty on day 2 and full on day 31, so the samples themselves grow). OLD_ESMC, when
# given, is a binary of an older tree, timed as it is.
set -euo pipefail
new=${1:?usage: scripts/bench_history.sh NEW_ESMC [OLD_ESMC] [--exposures N] [--runs R] [--threads T]}
shift
old=""
if [[ $# -gt 0 && $1 != --* ]]; then old=$1; shift; fi
exposures=50000 runs=3 threads=2
while [[ $# -gt 0 ]]; do
    case $1 in
        --exposures) exposures=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
"$new" simulate -q --root "$root" --days 34 --exposures-per-day "$exposures" --start 2026-10-01 >/dev/null
day() { date -u -d "2026-10-01 + $1 days" +%F; }
printf '[features]\nenabled = false\n' >"$root/nofeat.toml"
printf '[features]\nsequence_len = 1\n' >"$root/seq1.toml"
secs() { # secs ENV BINARY DAY [ARGS]: "wall,cpu" seconds of one build of DAY (cpu: user + sys)
    env $1 /usr/bin/time -f "%e %U %S" -o "$root/.time" "$2" build -q --root "$root" \
        --threads "$threads" --dt "$3" "${@:4}" >/dev/null
    awk '{print $1 "," $2 + $3}' "$root/.time"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cold=$(secs X=1 "$new" "$(day 30)")
# the same day 30 with only the history its labels read anyway (D-3..D-1): a copy whose
# logs before D-3 are gone, so the two builds differ by the feature history alone
trim="$root/trim"
mkdir -p "$trim/logs"
cp "$root/logs/_simulation.json" "$trim/logs/" 2>/dev/null || true
for table in "$root"/logs/*/; do
    for part in "$table"dt=*; do
        d=${part##*dt=}
        [[ $d < $(day 27) ]] && continue
        mkdir -p "$trim/logs/$(basename "$table")"
        cp -r "$part" "$trim/logs/$(basename "$table")/"
    done
done
trimsecs() { # trimsecs [DAY]: as secs, in the trimmed copy, day 30 unless DAY
    /usr/bin/time -f "%e %U %S" -o "$root/.time" "$new" build -q --root "$trim" \
        --threads "$threads" --dt "$(day "${1:-30}")" >/dev/null
    awk '{print $1 "," $2 + $3}' "$root/.time"
}
trimsecs >/dev/null # its daily aggregates
trimsecs 29 >/dev/null # and the day before, whose prior state day 30 rolls from
echo "cold: new binary, day with 30 days of history, every daily aggregate computed: wall,cpu ${cold} s"
declare -A t
for r in $(seq "$runs"); do
    for h in 1 8 30; do
        # the nightly built the day before: its prior state is what day h rolls from
        # (untimed; a build of D removes the states older than D-4, so it is redone)
        secs X=1 "$new" "$(day $((h - 1)))" >/dev/null
        t[daily,$h]+=" $(secs X=1 "$new" "$(day "$h")")"
        t[scratch,$h]+=" $(secs ESMC_FEATURES_FROM_SCRATCH=1 "$new" "$(day "$h")")"
        t[nofeat,$h]+=" $(secs X=1 "$new" "$(day "$h")" --config "$root/nofeat.toml")"
        t[seq1,$h]+=" $(secs X=1 "$new" "$(day "$h")" --config "$root/seq1.toml")"
        [[ -n $old ]] && t[old,$h]+=" $(secs X=1 "$old" "$(day "$h")")"
    done
    t[trim,30]+=" $(trimsecs)"
done
modes="daily scratch nofeat seq1"
[[ -n $old ]] && modes+=" old"
pick() { for x in $2; do echo "$x" | cut -d, -f"$1"; done; }
for k in 1 2; do
    [[ $k == 1 ]] && echo "wall seconds, medians of $runs" || echo "cpu seconds (user + sys), medians of $runs"
    printf '%-8s %8s %8s %8s %8s %8s\n' mode 1d 8d 30d 8d/1d 30d/1d
    for m in $modes; do
        # shellcheck disable=SC2046
        a=$(median $(pick $k "${t[$m,1]}")) b=$(median $(pick $k "${t[$m,8]}"))
        # shellcheck disable=SC2046
        c=$(median $(pick $k "${t[$m,30]}"))
        printf '%-8s %8.2f %8.2f %8.2f %8.2f %8.2f\n' "$m" "$a" "$b" "$c" \
            "$(echo "$b / $a" | bc -l)" "$(echo "$c / $a" | bc -l)"
    done
done
for k in 1 2; do
    a=$(median $(pick $k "${t[trim,30]}")) c=$(median $(pick $k "${t[daily,30]}"))
    printf 'day 30, daily aggregates, %s: 3 days of history %.2f s, 30 days %.2f s, 30d/3d %.2f\n' \
        "$([[ $k == 1 ]] && echo wall || echo cpu)" "$a" "$c" "$(echo "$c / $a" | bc -l)"
done
