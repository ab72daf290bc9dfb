#!/usr/bin/env bash
# Benchmarks (release profile, same shared target directory). Arguments go to the bench.
#   scripts/bench.sh [--exposures N] [--runs R] [--threads T]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
cargo bench --bench simulate -- "$@"
