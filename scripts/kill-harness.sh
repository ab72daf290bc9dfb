#!/usr/bin/env bash
# The kill harness's full run: SIGKILLs `esmc build`, `esmc nightly` and `esmc train` at
# random instants (tests/kill.rs), checking after each kill that no partition or
# checkpoint is a mix, that reruns complete, and that resumed trainings end bit-identical
# to an uninterrupted one. Usage: scripts/kill-harness.sh [kills (default 120)] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ESMC_KILLS="${1:-120}" ESMC_KILL_SEED="${2:-7}" \
  cargo test -p esmc --test kill -- --nocapture
