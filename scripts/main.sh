#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install libtorch if missing, build esmc,
# check libtorch trains, simulate a small `eleme` world and print what was written.
#
#   scripts/main.sh [WAREHOUSE]     (default: $ESMC_CACHE/demo, replaced on each run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
warehouse=${1:-$ESMC_CACHE/demo}
cargo build --bin esmc
esmc="$CARGO_TARGET_DIR/debug/esmc"
"$esmc" doctor
"$esmc" simulate --root "$warehouse" --preset eleme --exposures-per-day 200000 --days 7 --overwrite
echo "warehouse: $warehouse"
