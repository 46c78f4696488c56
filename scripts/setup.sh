#!/usr/bin/env bash
# Install purecaffe (editable) and what it needs into the current Python.
# torch is pinned to the CPU build first, so that nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${PURECAFFE_TORCH_VERSION:-2.13.0}"
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet "torch==${TORCH_VERSION}"
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
