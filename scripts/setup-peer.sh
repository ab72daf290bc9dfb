#!/usr/bin/env bash
# Installs the Python side of the benchmarks: PyTorch 2.13.0 (the same release as esmc's
# libtorch) and DuckDB 2.0.1 in a virtual environment at $ESMC_CACHE/pyenv, to run the
# reference loop benches/peer/esmm_torch.py and the DuckDB references benches/duckdb/
# next to esmc. Benchmark-only; about 5 GiB (PyPI's
# torch wheel pulls the CUDA libraries even for CPU use). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
venv="$ESMC_CACHE/pyenv"
if "$venv/bin/python" -c "import duckdb, torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0' or duckdb.__version__ != '2.0.1')" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet torch==2.13.0 numpy duckdb==2.0.1
