"""Caffemodels written by our writer load in real Caffe and give exactly what the originals give.

Round trip of every corpus caffemodel: load_weights(original) -> save_weights(net=deploy net).
The originals hold training nets, so layers with weights that the deploy net lacks
(e.g. MTCNN's conv5-3) are dropped first, as Caffe itself ignores them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import purecaffe
from caffe_backend import prepare_corpus_model
from corpus import model_dir, reference_meta, reference_models
from purecaffe.realcaffe import Backend, run_real_caffe

pytestmark = pytest.mark.real_caffe


def _models_with_caffemodels() -> list[str]:
    try:
        names = reference_models()
    except BaseException:
        return ["(corpus)"]
    found = []
    for name in names:
        with np.load(model_dir(name) / "reference.npz") as reference:
            if reference_meta(reference)["caffemodel"]:
                found.append(name)
    return found


@pytest.mark.parametrize("name", _models_with_caffemodels())
def test_our_caffemodel_gives_identical_blobs(name: str, real_caffe_backend: Backend, tmp_path: Path) -> None:
    with np.load(model_dir(name) / "reference.npz") as reference:
        prototxt = reference_meta(reference)["prototxt"]
    source, original, inputs = prepare_corpus_model(name, prototxt, tmp_path)
    deploy = purecaffe.load_net(source)
    deploy_layers = {layer.name for layer in deploy.layer}
    weights = {layer: blobs for layer, blobs in purecaffe.load_weights(original).items() if layer in deploy_layers}
    ours = tmp_path / "ours.caffemodel"
    purecaffe.save_weights(ours, weights, net=deploy)

    small = original.stat().st_size < 2_000_000  # per-layer snapshots too, where they are cheap
    expected = run_real_caffe(source, original, inputs, backend=real_caffe_backend, snapshots=small, params=True)
    actual = run_real_caffe(source, ours, inputs, backend=real_caffe_backend, snapshots=small, params=True)
    assert expected.ok, expected.error
    assert actual.ok, actual.error

    assert actual.param_shapes == expected.param_shapes
    assert list(actual.params) == list(expected.params)
    for layer, blobs in expected.params.items():
        for i, blob in enumerate(blobs):
            np.testing.assert_array_equal(actual.params[layer][i], blob, err_msg=f"param {layer}:{i}")
    assert list(actual.blobs) == list(expected.blobs)
    for blob, value in expected.blobs.items():
        np.testing.assert_array_equal(actual.blobs[blob], value, err_msg=blob)
    snapshots = [(layer.index, top, value) for layer, top, value in actual.snapshots()]
    assert len(snapshots) == len(list(expected.snapshots()))
    for (index, top, value), (layer, top_expected, value_expected) in zip(snapshots, expected.snapshots()):
        assert (index, top) == (layer.index, top_expected)
        np.testing.assert_array_equal(value, value_expected, err_msg=f"after {layer.name}: {top}")
