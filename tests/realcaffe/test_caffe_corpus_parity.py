"""Real Caffe through our backend reproduces every corpus reference.npz (same Caffe, same inputs).

Random-init models get their parameters back from the corpus fill rule, written
as a caffemodel by our own writer.  Expected: bit-identical (the reference was
made by the same Debian Caffe, OpenBLAS with 2 threads); allowed: 1e-6 of the
blob's scale, in case a host's OpenBLAS kernel rounds differently.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from caffe_backend import prepare_corpus_model
from corpus import model_dir, reference_meta, reference_models
from purecaffe.realcaffe import Backend, CaffeRun, run_real_caffe

pytestmark = pytest.mark.real_caffe

RELATIVE_TOLERANCE = 1e-6
V1_VARIANTS = {"googlenet": ["deploy_v1_2014.prototxt"]}


def _cases() -> list[tuple[str, str]]:
    try:
        models = reference_models()
    except BaseException:  # corpus missing: collected as one case that skips/fails with the reason
        return [("(corpus)", "")]
    cases = []
    for name in models:
        with np.load(model_dir(name) / "reference.npz") as reference:
            cases.append((name, reference_meta(reference)["prototxt"]))
        cases += [(name, variant) for variant in V1_VARIANTS.get(name, [])]
    return cases


def assert_matches_reference(run: CaffeRun, reference: np.lib.npyio.NpzFile) -> float:
    """Every stored blob, sample and shape; returns the worst difference relative to the blob's scale."""
    meta = reference_meta(reference)
    strides = meta["sampled_strides"]
    worst = 0.0
    checked: set[str] = set()
    for key in reference.files:
        if key.startswith("shape:"):
            assert run.blob_shapes[key[6:]] == tuple(reference[key]), key
            continue
        if key.startswith("paramshape:"):
            layer, index = key[len("paramshape:"):].rsplit(":", 1)
            assert run.param_shapes[layer][int(index)] == tuple(reference[key]), key
            continue
        if key.startswith("__") or (":" in key and not key.startswith("sample:")):
            continue
        name = key[len("sample:"):] if key.startswith("sample:") else key
        expected = reference[key]
        actual = run.blobs[name].reshape(-1)[::strides[name]] if key.startswith("sample:") else run.blobs[name]
        assert actual.shape == expected.shape, key
        stats = reference[f"stats:{name}"]
        scale = max(abs(float(stats[2])), abs(float(stats[3])), 1e-30)
        difference = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale if expected.size else 0.0
        assert difference <= RELATIVE_TOLERANCE, f"{key}: differs by {difference:.3g} of its scale"
        worst = max(worst, difference)
        checked.add(name)
    assert checked == set(meta["blob_order"]) - set(meta["skipped_auto_split_blobs"])
    return worst


@pytest.mark.parametrize(("name", "prototxt"), _cases())
def test_real_caffe_reproduces_the_reference(name: str, prototxt: str, real_caffe_backend: Backend,
                                             tmp_path: Path) -> None:
    source, caffemodel, inputs = prepare_corpus_model(name, prototxt, tmp_path)
    run = run_real_caffe(source, caffemodel, inputs, backend=real_caffe_backend, snapshots=False)
    assert run.ok, run.error
    with np.load(model_dir(name) / "reference.npz") as reference:
        worst = assert_matches_reference(run, reference)
        meta = reference_meta(reference)
    assert list(run.outputs) == meta["outputs"]
    print(f"{name}/{prototxt}: {run.seconds:.1f} s, worst difference {worst:.3g} of scale")
