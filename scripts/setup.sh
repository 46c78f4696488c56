#!/usr/bin/env bash
# Install purecaffe (editable) and what it needs into $PYTHON (default python3), or into .venv
# when that Python is externally managed (PEP 668; see scripts/python_env.sh).
# torch and torchvision are installed first, as one matched pair, so that nothing else picks a torch.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
# torch and torchvision as one matched pair, both from this machine's disk (PyPI's torchvision does not
# import beside the CPU-only torch 2.13 file: "operator torchvision::nms does not exist").  The tests build
# real architectures with torchvision, timm and segmentation_models_pytorch, which need a working torchvision.
TORCH_VERSION="${PURECAFFE_TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${PURECAFFE_TORCHVISION_VERSION:-0.29.1}"
if ! "$PYTHON" - "$TORCH_VERSION" "$TORCHVISION_VERSION" <<'PY' 2>/dev/null
import sys, torch, torchvision
sys.exit(0 if (torch.__version__.split("+")[0], torchvision.__version__.split("+")[0]) == tuple(sys.argv[1:]) else 1)
PY
then
    "$PYTHON" -m pip install --quiet "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"
fi
"$PYTHON" -m pip install --quiet -e ".[test,zoo]"
# Ultralytics (tests build YOLOv8 from its packaged YAML) without its declared dependencies: they would
# pull opencv-python over the headless build and a platform client.
if ! "$PYTHON" -c "import ultralytics" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet --no-deps "ultralytics==8.4.190" "ultralytics-thop>=2"
fi
# facenet-pytorch (tests convert its InceptionResnetV1, random init) pins torch<2.3, so without its dependencies
# too; what its model file imports (torch, requests) is already installed.
if ! "$PYTHON" -c "import facenet_pytorch" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet --no-deps "facenet-pytorch==2.6.0"
fi
