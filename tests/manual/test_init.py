"""`purecaffe.init_weights`: Caffe's parameter shapes and Caffe's fillers, without Caffe.

Shapes are checked against `paramshape:` keys of the corpus `reference.npz`
files (written by real BVLC Caffe) for every model that has one; the
real-Caffe comparison is in test_real_caffe.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from corpus import model_dir, reference_meta, reference_models

import purecaffe
from purecaffe.errors import UnsupportedError
from purecaffe.inspect import inspect_files
from purecaffe.manual import FillerError, init_weights


def reference_prototxt(name: str) -> Path:
    with np.load(model_dir(name) / "reference.npz") as reference:
        return model_dir(name) / reference_meta(reference)["prototxt"]


def caffe_param_shapes(name: str) -> dict[str, tuple[int, ...]]:
    with np.load(model_dir(name) / "reference.npz") as reference:
        return {key.split(":", 1)[1]: tuple(int(d) for d in reference[key])
                for key in reference.files if key.startswith("paramshape:")}


def corpus_reference_models() -> list[str]:
    try:
        return reference_models()
    except BaseException:  # corpus missing: a single case that skips (or fails under CI) with the reason
        return ["<corpus>"]


@pytest.mark.parametrize("name", corpus_reference_models())
def test_init_shapes_equal_real_caffe_paramshapes(name: str) -> None:
    if name == "<corpus>":
        reference_models()
    weights = init_weights(reference_prototxt(name))
    ours = {f"{layer}:{i}": tuple(blob.shape) for layer, blobs in weights.items() for i, blob in enumerate(blobs)}
    assert ours == caffe_param_shapes(name)
    assert all(blob.dtype == np.float32 and np.isfinite(blob).all() for blobs in weights.values() for blob in blobs)


def test_googlenet_v1_prototxt_gets_the_same_shapes() -> None:
    weights = init_weights(model_dir("googlenet") / "deploy_v1_2014.prototxt")
    ours = {f"{layer}:{i}": tuple(b.shape) for layer, blobs in weights.items() for i, b in enumerate(blobs)}
    assert ours == caffe_param_shapes("googlenet")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.prototxt"
    path.write_text(text)
    return path


DEFAULTS_NET = """\
input: "data" input_shape { dim: 1 dim: 4 dim: 6 dim: 6 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 8 kernel_size: 3 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "prelu" type: "PReLU" bottom: "conv" top: "conv" }
layer { name: "prelu_shared" type: "PReLU" bottom: "conv" top: "conv" prelu_param { channel_shared: true } }
layer { name: "bias" type: "Bias" bottom: "conv" top: "conv" }
layer { name: "scale2" type: "Scale" bottom: "conv" bottom: "conv" top: "prod" scale_param { axis: 0 bias_term: true } }
layer { name: "ip" type: "InnerProduct" bottom: "prod" top: "ip" inner_product_param { num_output: 3 } }
"""


def test_caffe_default_fillers_per_layer_type(tmp_path: Path) -> None:
    weights = init_weights(write(tmp_path, DEFAULTS_NET))
    expected = {
        "conv": [np.zeros((8, 4, 3, 3)), np.zeros(8)],            # FillerParameter default: constant 0
        "bn": [np.zeros(8), np.zeros(8), np.zeros(1)],             # BatchNorm: all three zero
        "scale": [np.ones(8), np.zeros(8)],                        # Scale: constant 1; bias_filler default 0
        "prelu": [np.full(8, 0.25)],                               # PReLU: constant 0.25
        "prelu_shared": [np.full((), 0.25)],                       # channel_shared: one 0-axis slope
        "bias": [np.zeros(8)],                                     # Bias: filler default constant 0
        "scale2": [np.zeros((1, 8, 4, 4))],                        # scale from bottom[1]: only the bias blob
        "ip": [np.zeros((3, 128)), np.zeros(3)],
    }
    assert list(weights) == list(expected)
    for layer, blobs in expected.items():
        assert [b.shape for b in weights[layer]] == [b.shape for b in blobs], layer
        for ours, value in zip(weights[layer], blobs):
            np.testing.assert_array_equal(ours, value.astype(np.float32))


DECLARED_NET = """\
input: "data" input_shape { dim: 1 dim: 16 dim: 10 dim: 10 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 64 kernel_size: 3 weight_filler { type: "msra" variance_norm: FAN_OUT }
                      bias_filler { type: "constant" value: 0.1 } } }
layer { name: "up" type: "Deconvolution" bottom: "conv" top: "up"
  convolution_param { num_output: 64 group: 64 kernel_size: 4 stride: 2 pad: 1 bias_term: false
                      weight_filler { type: "bilinear" } } }
layer { name: "scale" type: "Scale" bottom: "up" top: "up"
  scale_param { filler { type: "uniform" min: 2 max: 3 } bias_term: true bias_filler { type: "constant" value: -1 } } }
layer { name: "prelu" type: "PReLU" bottom: "up" top: "up" prelu_param { filler { type: "constant" value: 0.1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "up" top: "ip"
  inner_product_param { num_output: 100 weight_filler { type: "gaussian" std: 0.01 } } }
"""


def test_declared_fillers_are_used(tmp_path: Path) -> None:
    weights = init_weights(write(tmp_path, DECLARED_NET), seed=3)
    weight = weights["conv"][0].astype(np.float64)
    fan_out = 64 * 9  # Caffe: count / shape[1]
    assert weight.shape == (64, 16, 3, 3)
    assert abs(weight.std() - math.sqrt(2 / fan_out)) < 6 * math.sqrt(2 / fan_out) / math.sqrt(2 * weight.size)
    np.testing.assert_array_equal(weights["conv"][1], np.full(64, 0.1, np.float32))
    np.testing.assert_allclose(weights["up"][0][5, 0], np.outer(*[[0.25, 0.75, 0.75, 0.25]] * 2), atol=1e-7)
    assert weights["scale"][0].min() >= 2 and weights["scale"][0].max() < 3
    np.testing.assert_array_equal(weights["scale"][1], np.full(64, -1, np.float32))
    np.testing.assert_array_equal(weights["prelu"][0], np.full(64, 0.1, np.float32))
    ip = weights["ip"][0].astype(np.float64)
    assert ip.shape == (100, 64 * 16 * 16) and abs(ip.std() - 0.01) < 6 * 0.01 / math.sqrt(2 * ip.size)


def test_same_seed_same_file_other_seed_other_values(tmp_path: Path) -> None:
    prototxt = write(tmp_path, DECLARED_NET)
    a, b = tmp_path / "a.caffemodel", tmp_path / "b.caffemodel"
    init_weights(prototxt, a, seed=1)
    init_weights(prototxt, b, seed=1)
    assert a.read_bytes() == b.read_bytes()
    other = init_weights(prototxt, seed=2)
    assert not np.array_equal(other["conv"][0], purecaffe.load_weights(a)["conv"][0])
    np.testing.assert_array_equal(other["up"][0], purecaffe.load_weights(a)["up"][0])  # bilinear: no randomness


def test_output_loads_back_with_the_net_layer_types(tmp_path: Path) -> None:
    output = tmp_path / "random.caffemodel"
    weights = init_weights(write(tmp_path, DEFAULTS_NET), output)
    report = inspect_files([output])
    assert [(row.name, row.type) for row in report.rows] == [
        ("conv", "Convolution"), ("bn", "BatchNorm"), ("scale", "Scale"), ("prelu", "PReLU"),
        ("prelu_shared", "PReLU"), ("bias", "Bias"), ("scale2", "Scale"), ("ip", "InnerProduct")]
    loaded = purecaffe.load_weights(output)
    for layer, blobs in weights.items():
        for ours, back in zip(blobs, loaded[layer]):
            np.testing.assert_array_equal(ours, back)


def test_recurrent_and_embed_shapes(tmp_path: Path) -> None:
    prototxt = write(tmp_path, """\
input: "words" input_shape { dim: 5 dim: 2 }
input: "cont" input_shape { dim: 5 dim: 2 }
layer { name: "embed" type: "Embed" bottom: "words" top: "emb"
  embed_param { input_dim: 20 num_output: 6 weight_filler { type: "uniform" min: -1 max: 1 } } }
layer { name: "lstm" type: "LSTM" bottom: "emb" bottom: "cont" top: "h"
  recurrent_param { num_output: 7 weight_filler { type: "xavier" } bias_filler { type: "constant" value: 1 } } }
layer { name: "rnn" type: "RNN" bottom: "h" bottom: "cont" top: "r" recurrent_param { num_output: 3 } }
""")
    weights = init_weights(prototxt)
    assert {k: [b.shape for b in v] for k, v in weights.items()} == {
        "embed": [(20, 6), (6,)], "lstm": [(28, 6), (28,), (28, 7)],
        "rnn": [(3, 7), (3,), (3, 3), (3, 3), (3,)]}
    np.testing.assert_array_equal(weights["lstm"][1], np.ones(28, np.float32))
    assert 0 < np.abs(weights["lstm"][2]).max() <= math.sqrt(3 / 7)  # xavier: fan_in of W_hc is 7


def test_shared_params_are_one_array(tmp_path: Path) -> None:
    prototxt = write(tmp_path, """\
input: "x" input_shape { dim: 1 dim: 4 }
layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" param { name: "w" }
  inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
layer { name: "b" type: "InnerProduct" bottom: "y" top: "z" param { name: "w" }
  inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
""")
    weights = init_weights(prototxt)
    np.testing.assert_array_equal(weights["a"][0], weights["b"][0])
    assert np.abs(weights["a"][0]).max() > 0


@pytest.mark.parametrize(("layer", "error", "message"), [
    ('layer { name: "up" type: "Deconvolution" bottom: "data" top: "up" convolution_param { num_output: 2 '
     'kernel_h: 3 kernel_w: 4 weight_filler { type: "bilinear" } } }', FillerError,
     "net.prototxt:up: blob 0 (weight) 2x2x3x4: bilinear filler needs a square kernel, got 3x4"),
    ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 '
     'kernel_size: 1 weight_filler { type: "xavir" } } }', FillerError,
     "net.prototxt:c: blob 0 (weight) 2x2x1x1: unknown filler type 'xavir' (Caffe knows bilinear, constant, "
     "gaussian, msra, positive_unitball, uniform, xavier)"),
    ('layer { name: "p" type: "Parameter" top: "p" parameter_param { shape { dim: 2 } } }', None, None),
])
def test_init_errors_name_the_layer(tmp_path: Path, layer: str, error: type | None, message: str | None) -> None:
    prototxt = write(tmp_path, 'input: "data" input_shape { dim: 1 dim: 2 dim: 5 dim: 5 }\n' + layer + "\n")
    output = tmp_path / "out.caffemodel"
    if error is None:  # Parameter: Caffe leaves the blob zeroed, so do we
        np.testing.assert_array_equal(init_weights(prototxt, output)["p"][0], np.zeros(2, np.float32))
        return
    with pytest.raises(error) as caught:
        init_weights(prototxt, output)
    assert str(caught.value) == f"{tmp_path}/{message}"
    assert not output.exists()


def test_unknown_parameter_layer_type_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import purecaffe.manual.init as init_module

    prototxt = write(tmp_path, 'input: "x" input_shape { dim: 1 dim: 2 }\n'
                               'layer { name: "odd" type: "ReLU" bottom: "x" top: "x" }\n')
    monkeypatch.setattr(init_module, "net_param_shapes", lambda net, shapes=None, path=None: {"odd": [(2,)]})
    with pytest.raises(UnsupportedError, match=r"net.prototxt:odd: no filler is known for layer type ReLU"):
        init_weights(prototxt, tmp_path / "out.caffemodel")
    assert not (tmp_path / "out.caffemodel").exists()
