#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install libtorch if missing, build esmc,
# check libtorch trains, simulate a small 7-day `eleme` world, and build its samples
# nightly-style (every partition of the last attribution window), printing each step.
#
#   scripts/main.sh [WAREHOUSE]     (default: $ESMC_CACHE/demo, replaced on each run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
warehouse=${1:-$ESMC_CACHE/demo}
cargo build --bin esmc
esmc="$CARGO_TARGET_DIR/debug/esmc"
"$esmc" doctor
"$esmc" simulate --root "$warehouse" --preset eleme --exposures-per-day 200000 --days 7 \
  --start 2026-11-01 --overwrite
rm -rf "$warehouse/samples" "$warehouse/quarantine"
# 2026-11-04 + 3-day attribution window = the last simulated day: its labels are mature
"$esmc" nightly --root "$warehouse" --dt 2026-11-04
echo "warehouse: $warehouse"
