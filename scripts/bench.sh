#!/usr/bin/env bash
# Benchmarks (release profile, same shared target directory).
#   scripts/bench.sh simulate [--exposures N] [--runs R] [--threads T]
#   scripts/bench.sh build    [--exposures N1,N2,...] [--runs R] [--threads T] [--memory-mib M]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
bench=${1:?usage: scripts/bench.sh simulate|build [args]}
shift
cargo bench --bench "$bench" -- "$@"
