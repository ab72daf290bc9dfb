#!/usr/bin/env bash
# esmc build and the DuckDB reference on the same day of the same world, each with and
# without the behaviour features, runs interleaved: wall seconds and peak RSS of each
# process (GNU time's %e and %M). For any esmc binary (the dev build by default; the
# release figures come from `scripts/bench.sh build`, benches/build.rs).
#
#   benches/duckdb/side_by_side.sh WORLD DAY [RUNS]
#
#   ESMC, PYTHON   as in check.sh; MEMORY_MIB (default 2048) is both engines' pool
#
# Every esmc run starts from no samples and no daily feature aggregates (both removed
# first), so it computes the aggregates of D's history as a first build of D does; the
# DuckDB runs read the raw history. Prints one line per run:
#   engine features secs peak_mib samples [labels_secs features_secs]
# (the last two for DuckDB with features: build.sql's part, then features.sql's)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../scripts/env.sh"
esmc=${ESMC:-$CARGO_TARGET_DIR/debug/esmc}
py=${PYTHON:-$ESMC_CACHE/pyenv/bin/python}
world=${1:?usage: side_by_side.sh WORLD DAY [RUNS]}
day=${2:?usage: side_by_side.sh WORLD DAY [RUNS]}
runs=${3:-1}
mib=${MEMORY_MIB:-2048}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[features]\nenabled = false\n' >"$tmp/off.toml"

timed() { /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; exit 1; }; }
# esmc_run FEATURES(yes|no) [esmc build options]
esmc_run() {
    local what=$1
    shift
    rm -rf "$world/samples" "$world/features"
    timed "$esmc" build -q --root "$world" --dt "$day" --memory-mib "$mib" "$@"
    local rows secs kib
    rows=$("$py" -c "import duckdb; print(duckdb.connect().execute(\"SELECT count(*) FROM read_parquet('$world/samples/dt=$day/*.parquet')\").fetchone()[0])")
    read -r secs kib <"$tmp/time"
    echo "esmc $what $secs $((kib / 1024)) $rows"
}
# duck_run FEATURES(yes|no) [build.py options]
duck_run() {
    local what=$1 secs kib
    shift
    timed "$py" "$here/build.py" --root "$world" --dt "$day" --out "$tmp/duckdb.parquet" \
        --memory-limit "${mib}MB" "$@"
    read -r secs kib <"$tmp/time"
    # with --features build.py also prints the labels' and the features' seconds
    echo "duckdb $what $secs $((kib / 1024)) $(cut -d' ' -f1,4,5 "$tmp/out")"
}
echo "engine features secs peak_mib samples"
for _ in $(seq "$runs"); do
    esmc_run no --config "$tmp/off.toml"
    duck_run no
    esmc_run yes
    duck_run yes --features
done
