#!/usr/bin/env bash
# The whole test suite: install libtorch if missing, build with the dev profile into the
# shared target directory, run every test of every crate.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ESMC_ROOT"
cargo test --workspace "$@"
