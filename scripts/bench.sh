#!/usr/bin/env bash
# Benchmarks (release profile, same shared target directory).
#   scripts/bench.sh simulate [--exposures N] [--runs R] [--threads T]
#   scripts/bench.sh build    [--exposures N1,N2,...] [--runs R] [--threads T] [--memory-mib M]
#   scripts/bench.sh train    [--n N] [--runs R] [--threads T] [--no-python]
#     (train also installs the PyTorch peer with scripts/setup-peer.sh unless --no-python)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
bench=${1:?usage: scripts/bench.sh simulate|build|train [args]}
shift
case "$bench" in
    train)
        [[ " $* " == *" --no-python "* ]] || "$ESMC_ROOT/scripts/setup-peer.sh"
        cargo bench --bench train -- "$@" ;;
    *) cargo bench --bench "$bench" -- "$@" ;;
esac
