# Sourced by the project's scripts: the one place that says where esmc's caches live.
# Installs libtorch on first use and points cargo at it; nobody exports anything by hand.
#
#   ESMC_CACHE        cache root, outside the work tree (default: $HOME/.cache/esmc)
#   LIBTORCH          libtorch install (default: $ESMC_CACHE/libtorch-2.13.0)
#   CARGO_TARGET_DIR  build directory (default: $ESMC_CACHE/target), shared by the
#                     README commands, .ci/run and later sessions on the same machine
ESMC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ESMC_CACHE=${ESMC_CACHE:-$HOME/.cache/esmc}
export LIBTORCH=${LIBTORCH:-$ESMC_CACHE/libtorch-2.13.0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ESMC_CACHE/target}
# The binaries carry an rpath to $LIBTORCH/lib (build/rpath.rs); this is the fallback for
# anything linked before LIBTORCH was known.
export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bash "$ESMC_ROOT/scripts/setup-libtorch.sh"
# insta finds snapshots under the workspace it was compiled in; the shared target dir
# may hold a test binary compiled from another checkout, so name this one at run time.
export INSTA_WORKSPACE_ROOT="$ESMC_ROOT"
