"""Reading what the runner left: Caffe's refusal text from stderr, and CaffeRun save/load."""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from purecaffe.realcaffe import CaffeRun, LayerSnapshot, caffe_error_text, load_caffe_run
from purecaffe.realcaffe.result import read_bundle_result

UNKNOWN_TYPE_STDERR = """\
WARNING: Logging before InitGoogleLogging() is written to STDERR
W1126 00:37:56.698200 26081 upgrade_proto.cpp:74] Note that future Caffe releases will only support input layers.
F1126 00:38:01.123456 26300 layer_factory.hpp:81] Check failed: registry.count(type) == 1 (0 vs. 1) \
Unknown layer type: NoSuchLayer (known types: AbsVal, Accuracy)
*** Check failure stack trace: ***
"""

PARSE_STDERR = """\
[libprotobuf ERROR google/protobuf/text_format.cc:309] Error parsing text-format caffe.NetParameter: 3:82: \
Message type "caffe.LayerParameter" has no field named "frobnicate_param".
F1126 00:38:02.086668 26307 upgrade_proto.cpp:90] Check failed: ReadProtoFromTextFile(param_file, param) \
Failed to parse NetParameter file: /tmp/job/bundle/net.prototxt
*** Check failure stack trace: ***
"""


def test_error_text_keeps_caffes_fatal_check() -> None:
    text = caffe_error_text(UNKNOWN_TYPE_STDERR, -6)
    assert text.splitlines()[0].startswith("Check failed: registry.count(type) == 1 (0 vs. 1) Unknown layer type: "
                                          "NoSuchLayer")
    assert "[layer_factory.hpp:81]" in text
    assert "Note that future" not in text
    assert text.endswith("(real Caffe aborted)")


def test_error_text_keeps_protobuf_parse_errors_first() -> None:
    lines = caffe_error_text(PARSE_STDERR, 134).splitlines()
    assert 'has no field named "frobnicate_param"' in lines[0]
    assert "Failed to parse NetParameter file" in lines[1]


def test_error_text_falls_back_to_a_python_exception_or_the_tail() -> None:
    traceback = 'Traceback (most recent call last):\n  File "x", line 1\nRuntimeError: Could not open file n.caffemodel\n'
    assert caffe_error_text(traceback, 1).splitlines()[0] == "RuntimeError: Could not open file n.caffemodel"
    assert caffe_error_text("", 1) == "(no output)\n(real Caffe exit status 1)"


def test_no_result_json_means_refusal(tmp_path: Path) -> None:
    run = read_bundle_result(tmp_path, backend="rootfs", returncode=-6, stderr=UNKNOWN_TYPE_STDERR, seconds=0.5)
    assert not run.ok and "Unknown layer type: NoSuchLayer" in run.error and run.log == UNKNOWN_TYPE_STDERR
    assert run.blobs == {} and run.layers == ()


def _small_run() -> CaffeRun:
    conv = np.arange(6, dtype=np.float32).reshape(1, 6) - 3
    relu = np.maximum(conv, 0)
    layers = (
        LayerSnapshot(0, "conv1", "Convolution", ("data",), ("conv1",), MappingProxyType({"conv1": conv}),
                      ((6, 1), (6,))),
        LayerSnapshot(1, "relu1", "ReLU", ("conv1",), ("conv1",), MappingProxyType({"conv1": relu}), ()),
    )
    return CaffeRun(backend="rootfs", error=None, blobs=MappingProxyType({"conv1": relu}), layers=layers,
                    blob_shapes=MappingProxyType({"conv1": (1, 6)}),
                    param_shapes=MappingProxyType({"conv1": ((6, 1), (6,))}), inputs=("data",), outputs=("conv1",))


def test_save_and_load_keep_every_snapshot(tmp_path: Path) -> None:
    run = _small_run()
    run.save(tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz") as saved:
        assert set(saved.files) == {"blob:conv1", "after:0:conv1:conv1", "shape:conv1", "paramshape:conv1:0",
                                    "paramshape:conv1:1", "__result__"}
    back = load_caffe_run(tmp_path / "run.npz")
    assert back.ok and back.inputs == ("data",) and back.param_shapes == {"conv1": ((6, 1), (6,))}
    assert [layer.in_place for layer in back.layers] == [(), ("conv1",)]
    np.testing.assert_array_equal(back.after("conv1"), run.after("conv1"))
    np.testing.assert_array_equal(back.after("relu1", "conv1"), back.blobs["conv1"])
    assert [(layer.name, top) for layer, top, _ in back.snapshots()] == [("conv1", "conv1"), ("relu1", "conv1")]
