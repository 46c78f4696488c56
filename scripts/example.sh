#!/usr/bin/env bash
# Quick start, part 1: set up, convert the bundled example model, and prove parity
# layer by layer in-process (no Caffe needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
bash scripts/setup.sh
purecaffe() { "$PYTHON" -m purecaffe "$@"; }
purecaffe convert purecaffe.examples.tiny_resnet:tiny_resnet --input-shape 1,3,64,64 -o out/tiny_resnet
purecaffe inspect out/tiny_resnet.prototxt out/tiny_resnet.caffemodel
purecaffe verify purecaffe.examples.tiny_resnet:tiny_resnet out/tiny_resnet --input-shape 1,3,64,64 \
    --report out/tiny_resnet.report.html
