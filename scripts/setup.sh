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
"$PYTHON" -m pip install --quiet -e ".[test,zoo]"
# Ultralytics (tests build YOLOv8 from its packaged YAML) without its declared dependencies:
# they would pull opencv-python over the headless build.  It reads torchvision's version at
# import (and imports torchvision only for NMS/transforms, which the tests do not use), so
# torchvision's matching release goes in without dependencies too (it must not replace torch).
if ! "$PYTHON" -c "import ultralytics" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet --no-deps "ultralytics==8.4.190" "ultralytics-thop>=2"
    if ! "$PYTHON" -c "import importlib.metadata as m; m.version('torchvision')" 2>/dev/null; then
        "$PYTHON" -m pip install --quiet --no-deps "torchvision==0.28.0"
    fi
fi
