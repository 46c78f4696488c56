#!/usr/bin/env bash
# Quick start, part 2: set up and run the whole test suite.
# Real-Caffe tests build a Debian bullseye rootfs with python3-caffe (needs root and
# debootstrap) and the caffe-verify image from docker/Dockerfile (needs docker, or podman
# and runc); as root, what is missing is installed here. Without them the tests skip
# locally, and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
bash scripts/setup.sh
if [ "$(id -u)" = 0 ]; then
    missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }; then
        command -v podman >/dev/null 2>&1 || missing+=(podman)
        command -v runc >/dev/null 2>&1 || missing+=(runc)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
if [ "${CI:-}" = true ] && [ -n "${PURECAFFE_CACHE_DIR:-}" ]; then
    # Build the caffe-verify image (from docker/Dockerfile, ~4-6 min) while the tests before
    # the container tests run; their fixture waits on the build lock, then finds the image
    # (or, if this build failed, builds again and reports why).  Log in the cache dir.
    mkdir -p "$PURECAFFE_CACHE_DIR"
    "$PYTHON" -m purecaffe -v caffe-image >"$PURECAFFE_CACHE_DIR/caffe-image.log" 2>&1 &
    # The judges' venvs the same way (pip: mostly download and unpack, ~2-4 min for tpu-mlir's 2 GB),
    # one after the other; their fixtures wait on each build lock.
    { "$PYTHON" -m purecaffe -v mnn-venv && "$PYTHON" -m purecaffe -v tpu-mlir-venv; } \
        >"$PURECAFFE_CACHE_DIR/judge-venvs.log" 2>&1 &
fi
exec "$PYTHON" -m pytest -q -ra --durations=15 "$@"
