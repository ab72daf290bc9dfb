#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install libtorch if missing, build esmc,
# check libtorch trains, then run ten nights of a simulated `eleme` shop as a ranking team
# would: each night one more day of logs lands, `esmc nightly --run` rebuilds the sample
# partitions of the attribution window and trains the ESMC model incrementally on every
# day that matured (test-then-train, a checkpoint per day); finally `esmc report` writes
# the run's report with charts.
#
#   scripts/main.sh [WAREHOUSE]     (default: $ESMC_CACHE/demo, replaced on each run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
warehouse=${1:-$ESMC_CACHE/demo}
cargo build -p esmc --bins  # esmc, and esmc-torch beside it (the commands that need libtorch)
esmc="$CARGO_TARGET_DIR/debug/esmc"
"$esmc" doctor

# The shop's logs are simulated up front into a staging area and land one day per night.
incoming="$warehouse.incoming"
rm -rf "$warehouse" "$incoming"
"$esmc" simulate --root "$incoming" --preset eleme --exposures-per-day 200000 --days 10 \
  --start 2026-11-01 --overwrite
mkdir -p "$warehouse/logs"
cp "$incoming/logs/_simulation.json" "$warehouse/logs/"
for day in 2026-11-{01..10}; do
  for table in "$incoming"/logs/*/; do
    name=$(basename "$table")
    mkdir -p "$warehouse/logs/$name"
    mv "$table/dt=$day" "$warehouse/logs/$name/"
  done
  echo "=== night of $day"
  # exit code 3 = nothing to do (nothing rebuilt, nothing newly matured)
  "$esmc" nightly --root "$warehouse" --dt "$day" --run esmc --model esmc || [ $? -eq 3 ]
done
rm -rf "$incoming"
"$esmc" report --root "$warehouse" --run esmc
echo "warehouse: $warehouse"
