"""The runner in real Caffe: one snapshot per layer (in-place ones too), and Caffe's refusals as data."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import purecaffe
from corpus import model_dir
from purecaffe.realcaffe import Backend, load_caffe_run, run_real_caffe
from purecaffe.realcaffe.result import read_bundle_result

pytestmark = pytest.mark.real_caffe

INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }\n'
IN_PLACE_CHAIN = INPUT + """\
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
"""


def _conv_same_3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Cross-correlation, stride 1, pad 1, in float64 (checked by eye, not fast)."""
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((x.shape[0], weight.shape[0], x.shape[2], x.shape[3]))
    for i in range(x.shape[2]):
        for j in range(x.shape[3]):
            patch = padded[:, :, i:i + 3, j:j + 3]
            out[:, :, i, j] = np.tensordot(patch, weight.astype(np.float64), axes=([1, 2, 3], [1, 2, 3]))
    return out + bias.reshape(1, -1, 1, 1)


def _write_net(tmp_path: Path, text: str, weights: dict[str, list[np.ndarray]] | None) -> tuple[Path, Path | None]:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "t"\n' + text)
    if weights is None:
        return prototxt, None
    caffemodel = tmp_path / "net.caffemodel"
    purecaffe.save_weights(caffemodel, weights, net=purecaffe.load_net(prototxt))
    return prototxt, caffemodel


def test_each_in_place_layer_gets_its_own_snapshot(real_caffe_backend: Backend, tmp_path: Path) -> None:
    rng = np.random.RandomState(7)
    weight = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    beta = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    prototxt, caffemodel = _write_net(tmp_path, IN_PLACE_CHAIN, {"conv1": [weight, bias], "scale1": [gamma, beta]})

    run = run_real_caffe(prototxt, caffemodel, {"data": x}, backend=real_caffe_backend)
    assert run.ok, run.error
    assert [(layer.name, layer.type, layer.tops) for layer in run.layers] == [
        ("data", "Input", ("data",)), ("conv1", "Convolution", ("conv1",)),
        ("relu1", "ReLU", ("conv1",)), ("scale1", "Scale", ("conv1",))]
    assert [layer.in_place for layer in run.layers] == [(), (), ("conv1",), ("conv1",)]
    after_conv, after_relu, after_scale = (run.after(name, "conv1") for name in ("conv1", "relu1", "scale1"))
    assert not np.array_equal(after_conv, after_relu) and not np.array_equal(after_relu, after_scale)

    # float32 GEMM vs float64 by hand: 1e-5 of the output's scale covers 18-term dot products
    expected_conv = _conv_same_3x3(x, weight, bias)
    np.testing.assert_allclose(after_conv, expected_conv, rtol=0, atol=1e-5 * np.abs(expected_conv).max())
    np.testing.assert_array_equal(after_relu, np.maximum(after_conv, 0))
    np.testing.assert_allclose(after_scale, after_relu * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(run.blobs["conv1"], after_scale)
    np.testing.assert_array_equal(run.blobs["data"], x)
    assert run.blob_shapes == {"data": (1, 2, 5, 5), "conv1": (1, 3, 5, 5)}
    assert run.param_shapes == {"conv1": ((3, 2, 3, 3), (3,)), "scale1": ((3,), (3,))}

    run.save(tmp_path / "run.npz")
    again = load_caffe_run(tmp_path / "run.npz")
    for name in ("conv1", "relu1", "scale1"):
        np.testing.assert_array_equal(again.after(name), run.after(name))


def test_final_only_keeps_last_values(real_caffe_backend: Backend, tmp_path: Path) -> None:
    prototxt, _ = _write_net(tmp_path, IN_PLACE_CHAIN, None)  # Caffe's own fillers
    x = np.random.RandomState(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    run = run_real_caffe(prototxt, None, {"data": x}, backend=real_caffe_backend, snapshots=False)
    assert run.ok, run.error
    assert "conv1" not in run.layer("conv1").outputs and "conv1" not in run.layer("relu1").outputs
    np.testing.assert_array_equal(run.after("scale1"), run.blobs["conv1"])


def test_inputs_are_reshaped_to_the_arrays_given(real_caffe_backend: Backend, tmp_path: Path) -> None:
    prototxt, _ = _write_net(tmp_path, IN_PLACE_CHAIN, None)
    x = np.zeros((2, 2, 7, 4), np.float32)
    run = run_real_caffe(prototxt, None, {"data": x}, backend=real_caffe_backend)
    assert run.ok, run.error
    assert run.blob_shapes["conv1"] == (2, 3, 7, 4)


@pytest.mark.parametrize(("text", "expected"), [
    (INPUT + 'layer { name: "weird" type: "NoSuchLayer" bottom: "data" top: "out" }\n',
     "Unknown layer type: NoSuchLayer"),
    (INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" frobnicate_param { x: 1 } }\n',
     'has no field named "frobnicate_param"'),
    (INPUT + 'layer { name: "c" type: "Convolution" bottom: "missing" top: "c" '
             'convolution_param { num_output: 1 kernel_size: 1 } }\n',
     "Unknown bottom blob 'missing'"),
], ids=["unknown-type", "unknown-field", "unknown-bottom"])
def test_caffe_refusal_comes_back_as_data(text: str, expected: str, real_caffe_backend: Backend,
                                          tmp_path: Path) -> None:
    prototxt, _ = _write_net(tmp_path, text, None)
    run = run_real_caffe(prototxt, None, None, backend=real_caffe_backend)
    assert not run.ok
    assert expected in run.error
    assert expected in run.log
    assert run.blobs == {} and run.layers == ()


def test_weights_of_the_wrong_shape_are_refused(real_caffe_backend: Backend, tmp_path: Path) -> None:
    text = INPUT + ('layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" '
                    'convolution_param { num_output: 3 kernel_size: 3 } }\n')
    prototxt, _ = _write_net(tmp_path, text, None)
    caffemodel = tmp_path / "wrong.caffemodel"
    purecaffe.save_weights(caffemodel, {"conv1": [np.zeros((3, 2, 5, 5), np.float32), np.zeros(3, np.float32)]},
                           net=purecaffe.load_net(prototxt))
    run = run_real_caffe(prototxt, caffemodel, None, backend=real_caffe_backend)
    assert not run.ok
    assert "Cannot copy param 0 weights from layer 'conv1'; shape mismatch" in run.error


def test_inputs_the_net_does_not_have(real_caffe_backend: Backend, tmp_path: Path) -> None:
    prototxt, _ = _write_net(tmp_path, IN_PLACE_CHAIN, None)
    run = run_real_caffe(prototxt, None, {"image": np.zeros((1, 2, 5, 5), np.float32)}, backend=real_caffe_backend)
    assert not run.ok
    assert "inputs ['image'] are not blobs of the net" in run.error and "net inputs: ['data']" in run.error


def test_a_hand_made_bundle_without_request(real_caffe_backend: Backend, tmp_path: Path) -> None:
    """What `docker run -v "$PWD/out:/bundle" caffe-verify` sees: any *.prototxt, *.caffemodel, inputs.npz."""
    folder = model_dir("mtcnn_det1_pnet")
    with real_caffe_backend.workspace() as bundle:
        shutil.copyfile(folder / "det1.prototxt", bundle / "det1.prototxt")
        shutil.copyfile(folder / "det1.caffemodel", bundle / "det1.caffemodel")
        with np.load(folder / "reference.npz") as reference:
            np.savez(bundle / "inputs.npz", data=reference["input:data"])
            expected = reference["prob1"]
        output = real_caffe_backend.run_bundle(bundle, timeout=300)
        run = read_bundle_result(bundle, backend=real_caffe_backend.name, returncode=output.returncode,
                                 stderr=output.stderr, seconds=output.seconds)
        assert output.returncode == 0 and run.ok, run.error
        assert json.loads((bundle / "result.json").read_text())["request"]["caffemodel"] == "det1.caffemodel"
    np.testing.assert_array_equal(run.blobs["prob1"], expected)
