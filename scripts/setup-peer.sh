#!/usr/bin/env bash
# Installs the Python side of the trainer benchmark: PyTorch 2.13.0 (the same release as
# esmc's libtorch) in a virtual environment at $ESMC_CACHE/pyenv, to run the reference
# loop benches/peer/esmm_torch.py next to esmc. Benchmark-only; about 5 GiB (PyPI's
# torch wheel pulls the CUDA libraries even for CPU use). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
venv="$ESMC_CACHE/pyenv"
if "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet torch==2.13.0 numpy
