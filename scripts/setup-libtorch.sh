#!/usr/bin/env bash
# Installs libtorch 2.13.0 (the version tch 0.26 expects) from PyPI wheels into a cache
# directory outside the work tree, once. Idempotent: a complete install is left alone.
#
#   ESMC_CACHE   cache root (default: $HOME/.cache/esmc)
#   LIBTORCH     install directory (default: $ESMC_CACHE/libtorch-2.13.0)
#
# The torch wheel gives lib/ and include/ (its CUDA libraries skipped); libtorch_cpu.so also
# links libcudart.so.13 and libcupti.so.13, taken from the nvidia-cuda-runtime and
# nvidia-cuda-cupti wheels. Everything lands in $LIBTORCH/lib, where libtorch's own
# $ORIGIN rpath and the esmc binaries' rpath find it.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_SPEC='nvidia-cuda-runtime==13.0.96.*'
CUPTI_SPEC='nvidia-cuda-cupti==13.0.85.*'

ESMC_CACHE=${ESMC_CACHE:-$HOME/.cache/esmc}
LIBTORCH=${LIBTORCH:-$ESMC_CACHE/libtorch-$TORCH_VERSION}
stamp="$LIBTORCH/.esmc-complete"

if [[ -f "$stamp" ]]; then
  exit 0
fi

log() { [[ -n "${ESMC_QUIET:-}" ]] || echo "setup-libtorch: $*" >&2; }
PYTHON=${PYTHON:-$(command -v python3 || command -v python)}
[[ -n "$PYTHON" ]] || { echo "setup-libtorch: python3 with pip is required" >&2; exit 1; }

work=$(mktemp -d "${ESMC_CACHE%/}/.libtorch-dl.XXXXXX" 2>/dev/null || { mkdir -p "$ESMC_CACHE"; mktemp -d "${ESMC_CACHE%/}/.libtorch-dl.XXXXXX"; })
trap 'rm -rf "$work"' EXIT

wheels="$ESMC_CACHE/wheels"
mkdir -p "$wheels"
fetch() { # fetch SPEC: downloads one wheel (no deps) into the wheel cache unless present
  local spec=$1 pattern=$2
  if ! compgen -G "$wheels/$pattern" >/dev/null; then
    log "downloading $spec from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" "$spec"
  fi
  compgen -G "$wheels/$pattern" | head -n 1
}

torch_whl=$(fetch "torch==$TORCH_VERSION" "torch-$TORCH_VERSION-*.whl")
cudart_whl=$(fetch "$CUDART_SPEC" "nvidia_cuda_runtime-13.0.96*.whl")
cupti_whl=$(fetch "$CUPTI_SPEC" "nvidia_cuda_cupti-13.0.85*.whl")

log "unpacking libtorch into $LIBTORCH"
stage="$work/libtorch"
mkdir -p "$stage/lib"
"$PYTHON" - "$torch_whl" "$cudart_whl" "$cupti_whl" "$stage" <<'PY'
import sys, zipfile, os, shutil
torch_whl, cudart_whl, cupti_whl, stage = sys.argv[1:]
def extract(whl, keep):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            rel = keep(info.filename)
            if rel is None or info.is_dir():
                continue
            dst = os.path.join(stage, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(info) as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(dst, mode)
# CUDA-side libraries are skipped: esmc runs libtorch on the CPU. libtorch.so names
# libtorch_cuda.so, but the linker drops it (--as-needed): nothing of it is used.
SKIP = ("cuda", "nvrtc", "nvshmem", "torch_python")
def torch_keep(name):
    if name.startswith("torch/lib/") and any(s in os.path.basename(name) for s in SKIP):
        return None
    for prefix in ("torch/lib/", "torch/include/"):
        if name.startswith(prefix):
            return name[len("torch/"):]
    return None
def lib_named(*wanted):
    def keep(name):
        base = os.path.basename(name)
        return "lib/" + base if base in wanted else None
    return keep
extract(torch_whl, torch_keep)
extract(cudart_whl, lib_named("libcudart.so.13"))
extract(cupti_whl, lib_named("libcupti.so.13"))
for lib in ("libtorch_cpu.so", "libc10.so", "libcudart.so.13", "libcupti.so.13"):
    if not os.path.exists(os.path.join(stage, "lib", lib)):
        sys.exit(f"setup-libtorch: {lib} missing after unpacking")
PY
echo "$TORCH_VERSION" > "$stage/build-version"
touch "$stage/.esmc-complete"
rm -rf "$LIBTORCH"
mkdir -p "$(dirname "$LIBTORCH")"
mv "$stage" "$LIBTORCH"
log "libtorch $TORCH_VERSION ready in $LIBTORCH"
