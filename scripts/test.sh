#!/usr/bin/env bash
# Quick start, part 2: set up and run the whole test suite.
# Real-Caffe tests build a Debian bullseye rootfs with python3-caffe (needs root and
# debootstrap) and the caffe-verify image from docker/Dockerfile (needs docker, or podman
# and runc); as root, what is missing is installed here. Without them the tests skip
# locally, and fail under CI=true.
#
# Each stage's wall seconds (setup, system packages, each judge build, each judge's readiness as
# the tests found it, the test run) go to $PURECAFFE_STAGES_LOG (default: stages.log in the cache
# dir, else none) and are printed together at the end: "stage <name>: <seconds> s".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
if [ -z "${PURECAFFE_STAGES_LOG:-}" ] && [ -n "${PURECAFFE_CACHE_DIR:-}" ]; then
    mkdir -p "$PURECAFFE_CACHE_DIR"
    export PURECAFFE_STAGES_LOG="$PURECAFFE_CACHE_DIR/stages.log"
fi
if [ -n "${PURECAFFE_STAGES_LOG:-}" ]; then : >"$PURECAFFE_STAGES_LOG"; fi
# stage NAME COMMAND...: run it, log "stage NAME: <seconds> s (exit N)"; keeps the command's status.
stage() {
    local name="$1" start status=0
    shift
    start=$(date +%s)
    "$@" || status=$?
    if [ -n "${PURECAFFE_STAGES_LOG:-}" ]; then
        echo "stage $name: $(($(date +%s) - start)) s (exit $status)" >>"$PURECAFFE_STAGES_LOG"
    fi
    return "$status"
}
stage setup bash scripts/setup.sh
if [ "$(id -u)" = 0 ]; then
    missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }; then
        command -v podman >/dev/null 2>&1 || missing+=(podman)
        command -v runc >/dev/null 2>&1 || missing+=(runc)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        stage "system packages" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null' \
            apt "${missing[@]}"
    fi
fi
if [ "${CI:-}" = true ] && [ -n "${PURECAFFE_CACHE_DIR:-}" ]; then
    # Build the caffe-verify image (from docker/Dockerfile, ~4-6 min) while the tests before
    # the container tests run; their fixture waits on the build lock, then finds the image
    # (or, if this build failed, builds again and reports why).  Log in the cache dir.
    mkdir -p "$PURECAFFE_CACHE_DIR"
    stage "judge build: caffe-verify image (background)" "$PYTHON" -m purecaffe -v caffe-image \
        >"$PURECAFFE_CACHE_DIR/caffe-image.log" 2>&1 &
    # The judges' venvs the same way (pip: mostly download and unpack, ~2-4 min for tpu-mlir's 2 GB),
    # one after the other; their fixtures wait on each build lock.
    { stage "judge build: MNN venv (background)" "$PYTHON" -m purecaffe -v mnn-venv &&
        stage "judge build: tpu-mlir venv (background)" "$PYTHON" -m purecaffe -v tpu-mlir-venv; } \
        >"$PURECAFFE_CACHE_DIR/judge-venvs.log" 2>&1 &
fi
status=0
stage "test run" "$PYTHON" -m pytest -q -ra --durations=15 "$@" || status=$?
if [ -n "${PURECAFFE_STAGES_LOG:-}" ]; then
    echo "== seconds per stage (judge ready: as the tests found it, waits on a background build included):"
    cat "$PURECAFFE_STAGES_LOG"
fi
exit "$status"
