#!/usr/bin/env bash
# Install purecaffe (editable) and what it needs into $PYTHON (default python3), or into .venv
# when that Python is externally managed (PEP 668; see scripts/python_env.sh).
# torch is pinned to the CPU build first, so that nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
TORCH_VERSION="${PURECAFFE_TORCH_VERSION:-2.13.0}"
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet "torch==${TORCH_VERSION}"
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
