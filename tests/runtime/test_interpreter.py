"""The interpreter: in-place semantics, per-layer snapshots, weights checks, errors naming layers."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import rng

from purecaffe.errors import PurecaffeError, ShapeError, UnsupportedError
from purecaffe.io.prototxt import parse_net_text
from purecaffe.runtime import Interpreter, infer_shapes, run
from purecaffe.runtime.layers.activation import neuron_shapes
from purecaffe.runtime.plan import PlannedLayer
from purecaffe.runtime.registry import LayerKind

IN_PLACE = '''
input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "c"
        convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "double" type: "Power" bottom: "c" top: "before_relu" power_param { scale: 2 } }
layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
layer { name: "scale" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
layer { name: "after" type: "Power" bottom: "c" top: "after" power_param { shift: 1 } }
'''


@pytest.fixture
def in_place_case() -> tuple:
    r = rng(0)
    x = r.standard_normal((1, 2, 3, 3)).astype(np.float32)
    weights = {"conv": [r.standard_normal((2, 2, 1, 1)).astype(np.float32), np.zeros(2, np.float32)],
               "scale": [np.array([2.0, 3.0], np.float32), np.array([0.5, -0.5], np.float32)]}
    conv = np.einsum("oc,nchw->nohw", weights["conv"][0][:, :, 0, 0], x)
    return parse_net_text(IN_PLACE), weights, x, conv


def test_in_place_chain_snapshots_each_layer(in_place_case) -> None:
    net, weights, x, conv = in_place_case
    result = run(net, weights, {"data": x})
    relu = np.maximum(conv, 0)
    scaled = relu * np.array([2, 3]).reshape(1, 2, 1, 1) + np.array([0.5, -0.5]).reshape(1, 2, 1, 1)
    atol = 1e-6  # a 2-term float32 dot product and one multiply-add
    assert [step.name for step in result.steps] == ["conv", "double", "relu", "scale", "after"]
    np.testing.assert_allclose(result.step("conv").tops[0][1], conv, atol=atol)
    np.testing.assert_allclose(result.step("relu").tops[0][1], relu, atol=atol)
    np.testing.assert_allclose(result.step("scale").tops[0][1], scaled, atol=atol)
    # a layer between writers sees the value of its time; later layers and the result see the last writer
    np.testing.assert_allclose(result.blobs["before_relu"], 2 * conv, atol=atol)
    np.testing.assert_allclose(result.blobs["after"], scaled + 1, atol=atol)
    np.testing.assert_allclose(result.blobs["c"], scaled, atol=atol)
    assert result.step("conv").tops[0][0] == "c"


def test_keep_steps_false(in_place_case) -> None:
    net, weights, x, _ = in_place_case
    result = run(net, weights, {"data": x}, keep_steps=False)
    assert result.steps == () and set(result.blobs) == {"data", "c", "before_relu", "after"}


def test_missing_weights_name_the_layer(in_place_case) -> None:
    net, weights, x, _ = in_place_case
    del weights["scale"]
    with pytest.raises(PurecaffeError, match=r"layer 'scale' \(Scale\).*none for this layer"):
        run(net, weights, {"data": x})


def test_wrong_blob_count_and_shape(in_place_case) -> None:
    net, weights, x, _ = in_place_case
    with pytest.raises(PurecaffeError, match=r"layer 'conv' \(Convolution\): needs 2 parameter blob"):
        run(net, {**weights, "conv": weights["conv"][:1]}, {"data": x})
    with pytest.raises(ShapeError, match=r"layer 'conv'.*\(2, 3, 1, 1\), Caffe allocates \(2, 2, 1, 1\)"):
        run(net, {**weights, "conv": [np.zeros((2, 3, 1, 1)), np.zeros(2)]}, {"data": x})


def test_legacy_four_d_blob_shapes_are_accepted() -> None:
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 3 input_dim: 1 input_dim: 1 '
                         'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
                         '        inner_product_param { num_output: 2 } }')
    weights = {"ip": [np.ones((1, 1, 2, 3)), np.ones((1, 1, 1, 2))]}           # V1 num/channels/height/width
    result = run(net, weights, {"x": np.ones((1, 3, 1, 1))})
    np.testing.assert_array_equal(result.blobs["y"], [[4, 4]])


def test_weights_for_other_layers_are_ignored(in_place_case) -> None:
    net, weights, x, _ = in_place_case
    plain = run(net, weights, {"data": x})
    extra = run(net, {**weights, "train_only_layer": [np.zeros(3)]}, {"data": x})
    assert set(extra.blobs) == set(plain.blobs) and "train_only_layer" not in {s.name for s in extra.steps}
    for name, value in plain.blobs.items():
        np.testing.assert_array_equal(extra.blobs[name], value)


def test_layer_errors_are_reraised_naming_the_layer() -> None:
    def explode(bottoms):
        raise ValueError("boom")

    layer = PlannedLayer("mine", "Boom", ("x",), ("y",), LayerKind("Boom", dict, neuron_shapes, explode), {})
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1')
    with pytest.raises(ValueError, match=r"while running layer 'mine' \(Boom\): boom"):
        Interpreter(net, {}).run_layer(layer, {"x": None}, [], {})


def test_layer_problems_become_purecaffe_errors() -> None:
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1 '
                         'layer { name: "e" type: "Embed" bottom: "x" top: "y" '
                         '        embed_param { num_output: 2 input_dim: 3 } }')
    with pytest.raises(PurecaffeError, match=r"layer 'e' \(Embed\): non-integer"):
        run(net, {"e": [np.zeros((3, 2)), np.zeros(2)]}, {"x": np.full((1, 1, 1, 1), 0.5)})


def test_unknown_layer_type() -> None:
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1 '
                         'layer { name: "odd" type: "Mystery" bottom: "x" top: "y" }')
    with pytest.raises(UnsupportedError, match=r"layer 'odd' \(Mystery\).*'Mystery' is not supported"):
        infer_shapes(net)


def test_test_phase_filtering() -> None:
    net = parse_net_text('''
        input: "x" input_dim: 1 input_dim: 2 input_dim: 1 input_dim: 1
        layer { name: "train_only" type: "Dropout" bottom: "x" top: "t" include { phase: TRAIN } }
        layer { name: "not_test" type: "Dropout" bottom: "x" top: "u" exclude { phase: TEST } }
        layer { name: "test_only" type: "AbsVal" bottom: "x" top: "v" include { phase: TEST } }
        layer { name: "staged" type: "AbsVal" bottom: "x" top: "w" include { stage: "deploy" } }''')
    assert [step.name for step in infer_shapes(net).steps] == ["test_only"]


def test_inputs_override_declared_batch() -> None:
    net = parse_net_text('layer { name: "data" type: "Input" top: "data" '
                         '        input_param { shape { dim: 10 dim: 3 } } } '
                         'layer { name: "sm" type: "Softmax" bottom: "data" top: "p" }')
    assert infer_shapes(net).blobs["p"] == (10, 3)
    result = run(net, None, {"data": np.zeros((1, 3))})
    np.testing.assert_allclose(result.blobs["p"], np.full((1, 3), 1 / 3), rtol=1e-6)
    assert result.step("data").tops[0][0] == "data"


def test_input_errors() -> None:
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1')
    with pytest.raises(PurecaffeError, match="no value given for net input"):
        run(net, None, {})
    with pytest.raises(PurecaffeError, match="not net inputs: y"):
        run(net, None, {"x": np.zeros((1, 1, 1, 1)), "y": np.zeros(1)})


def test_data_layers_need_input_shapes() -> None:
    net = parse_net_text('layer { name: "d" type: "Data" top: "data" top: "label" } '
                         'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
                         '        inner_product_param { num_output: 3 } } '
                         'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }')
    with pytest.raises(ShapeError, match="data layer tops data, label need shapes"):
        infer_shapes(net)
    inferred = infer_shapes(net, {"data": (4, 1, 2, 2), "label": (4,)})
    assert inferred.blobs["ip"] == (4, 3) and inferred.blobs["loss"] == ()
    assert inferred.param_shapes == {"ip": [(3, 4), (3,)]}


def test_unknown_bottom() -> None:
    net = parse_net_text('layer { name: "r" type: "ReLU" bottom: "nowhere" top: "r" }')
    with pytest.raises(ShapeError, match=r"layer 'r' \(ReLU\): bottom 'nowhere' is not produced"):
        infer_shapes(net)


def test_v1_net_objects_are_upgraded() -> None:
    net = parse_net_text('input: "x" input_dim: 1 input_dim: 2 input_dim: 1 input_dim: 1 '
                         'layers { name: "r" type: RELU bottom: "x" top: "x" }', upgrade=False)
    result = run(net, None, {"x": -np.ones((1, 2, 1, 1))})
    np.testing.assert_array_equal(result.blobs["x"], np.zeros((1, 2, 1, 1)))
