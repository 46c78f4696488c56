#!/usr/bin/env bash
# Quick start, part 2: set up and run the whole test suite.
# Real-Caffe tests build a Debian bullseye rootfs with python3-caffe (needs root and
# debootstrap, installed here when we are root); without them they skip locally,
# and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
bash scripts/setup.sh
if [ "$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi
exec "$PYTHON" -m pytest -q -ra --durations=15 "$@"
