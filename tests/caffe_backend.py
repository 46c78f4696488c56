"""Real Caffe for any test: the session fixture `real_caffe_backend` (defined in tests/conftest.py).

Usage from any test directory (tests/ is on sys.path, see tests/conftest.py):

    import pytest
    from purecaffe.realcaffe import run_real_caffe

    @pytest.mark.real_caffe
    def test_my_net_matches_caffe(real_caffe_backend, tmp_path):
        run = run_real_caffe(prototxt, caffemodel, {"data": x}, backend=real_caffe_backend)
        assert run.ok, run.error
        np.testing.assert_allclose(mine, run.blobs["prob"], ...)   # or run.after("relu1")

Outside fixtures, call `get_real_caffe_backend()`.  The backend is resolved once per process, however many
modules import the fixture: as root the Debian rootfs (built on first use, ~1.5-4 min,
cached on disk across runs under the user cache dir; the cheapest route per run), otherwise
"auto" (a container engine when one answers, see purecaffe.realcaffe.backend), else the
test is skipped with the reason -- or FAILS under CI=true, where real Caffe is required.
The container route has its own tests (tests/realcaffe/test_container_route.py), which
check it gives the rootfs route's blobs bit for bit.  Each run_real_caffe call then costs about 0.5 s plus the
forward pass.

Environment: PURECAFFE_CAFFE_BACKEND=auto|docker|rootfs (default: rootfs as root, else auto),
PURECAFFE_ROOTFS_DIR=DIR (default: purecaffe's cache dir).

`prepare_corpus_model(name, prototxt, work)` gives what real Caffe needs to
reproduce a corpus reference.npz: the prototxt (type substitutions applied), a
caffemodel (the real one, or the fill-rule parameters written by our writer) and
the inputs.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

import purecaffe
from corpus import fill_rule_weights, model_dir, reference_meta
from judges import Judge
from purecaffe.realcaffe import Backend, resolve_backend
from purecaffe.realcaffe.rootfs import is_root

log = logging.getLogger(__name__)

BACKEND_ENV = "PURECAFFE_CAFFE_BACKEND"
ROOTFS_ENV = "PURECAFFE_ROOTFS_DIR"

REAL_CAFFE: Judge[Backend] = Judge(
    "real Caffe backend", "real Caffe is not available",
    lambda: resolve_backend(os.environ.get(BACKEND_ENV) or default_backend_name(),
                            rootfs_dir=os.environ.get(ROOTFS_ENV) or None),
    lambda backend: backend.describe())


def default_backend_name() -> str:
    """rootfs as root (no container start per run), else auto."""
    return "rootfs" if is_root() else "auto"


def get_real_caffe_backend() -> Backend:
    """The ready backend (cached per process); skips, or fails under CI=true, when there is none."""
    return REAL_CAFFE.get()


def prepare_corpus_model(name: str, prototxt: str, work: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """(prototxt as Caffe should load it, caffemodel, inputs) for a corpus model with a reference.npz."""
    folder = model_dir(name)
    with np.load(folder / "reference.npz") as reference:
        meta = reference_meta(reference)
        inputs = {key[len("input:"):]: reference[key] for key in reference.files if key.startswith("input:")}
        weights = None if meta["caffemodel"] else fill_rule_weights(reference)
    source = folder / prototxt
    if meta["substitutions"]:
        text = source.read_text()
        for substitution in meta["substitutions"]:  # e.g. DepthwiseConvolution=Convolution
            old, new = substitution.split("=")
            text = re.sub(rf'type:\s*"{re.escape(old)}"', f'type: "{new}"', text)
        source = work / prototxt
        source.write_text(text)
    if weights is None:
        caffemodel = folder / meta["caffemodel"]
    else:
        caffemodel = work / "fill_rule.caffemodel"
        purecaffe.save_weights(caffemodel, weights, net=purecaffe.load_net(source))
    return source, caffemodel, inputs
