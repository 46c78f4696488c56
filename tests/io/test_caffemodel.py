"""Binary caffemodel reading (against Caffe's own summaries) and the streaming writer."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import purecaffe
from corpus import all_files, collect_files, file_id, model_dir, reference_models
from purecaffe.errors import FormatError, ModelTooLargeError
from purecaffe.io.caffemodel import WeightLayer, caffemodel_size, owned_blob_shape, read_caffemodel, \
    write_caffemodel


def _caffemodels() -> list[Path]:
    return all_files(".caffemodel")


@pytest.fixture(params=collect_files(".caffemodel"), ids=file_id)
def caffemodel(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_corpus_has_the_expected_caffemodels() -> None:
    assert len(_caffemodels()) == 8


def test_reader_matches_caffe_summary(caffemodel: Path) -> None:
    """Layer names/types/bottoms/tops, blob counts, sums and first values equal what caffe_pb2 read."""
    summary = json.loads(Path(f"{caffemodel}.summary.json").read_text())
    model = read_caffemodel(caffemodel)
    assert model.name == summary["net_name"]
    assert model.format == summary["format"].split()[0]
    assert len(model.layers) == summary["n_layers"]
    for expected, layer in zip(summary["layers"], model.layers):
        assert layer.name == expected["name"]
        assert list(layer.bottoms) == expected["bottom"] and list(layer.tops) == expected["top"]
        if model.format == "V2":
            assert layer.type == expected["type"]
        assert len(layer.blobs) == len(expected["blobs"])
        for index, (blob, blob_summary) in enumerate(zip(layer.blobs, expected["blobs"])):
            assert blob.dtype == np.float32
            assert blob.size == blob_summary["count"]
            if blob_summary["shape_field"].startswith("legacy"):
                assert blob.shape == owned_blob_shape(layer.type, index, blob_summary["shape"])
            else:
                assert list(blob.shape) == blob_summary["shape"]
            # float64 sums of identical float32 values: only summation order differs (1e-9 relative).
            values = blob.astype(np.float64)
            assert values.sum() == pytest.approx(blob_summary["sum"], rel=1e-9, abs=1e-9)
            assert np.abs(values).sum() == pytest.approx(blob_summary["sum_abs"], rel=1e-9)
            assert np.array_equal(blob.reshape(-1)[:4], np.asarray(blob_summary["first"], dtype=np.float32))


@pytest.mark.parametrize("model", ["lenet_mnist_v1", "cifar10_quick_v1", "lenet_mnist", "mtcnn_det3_onet"])
def test_blob_shapes_are_those_caffe_layers_own(model: str) -> None:
    """V1 legacy 1x1xNxK / 1x1x1xN blobs come out as Caffe's layers allocate them (reference paramshape)."""
    reference = np.load(model_dir(model) / "reference.npz")
    weights = purecaffe.load_weights(next(model_dir(model).glob("*.caffemodel")))
    checked = 0
    for key in reference.files:
        if key.startswith("paramshape:"):
            layer, index = key.split(":", 1)[1].rsplit(":", 1)
            assert weights[layer][int(index)].shape == tuple(reference[key]), key
            checked += 1
    assert checked > 0


def test_round_trip_is_equal(caffemodel: Path, tmp_path: Path) -> None:
    """read -> write -> read gives the same layers and bit-identical blobs."""
    original = read_caffemodel(caffemodel)
    out = tmp_path / "copy.caffemodel"
    written = write_caffemodel(out, original.layers, name=original.name)
    assert written == out.stat().st_size
    again = read_caffemodel(out)
    assert again.name == original.name and again.format == "V2"
    assert [(l.name, l.type, l.bottoms, l.tops) for l in again.layers] == \
        [(l.name, l.type, l.bottoms, l.tops) for l in original.layers]
    for a, b in zip(original.layers, again.layers):
        assert len(a.blobs) == len(b.blobs)
        for x, y in zip(a.blobs, b.blobs):
            assert x.shape == y.shape and np.array_equal(x, y)


def test_writer_output_parses_with_protobuf(tmp_path: Path) -> None:
    """The raw-bytes writer produces a message protobuf itself decodes to the same values."""
    rng = np.random.default_rng(0)
    layers = [WeightLayer("conv1", "Convolution", ("data",), ("conv1",),
                          (rng.standard_normal((4, 3, 3, 3)).astype(np.float32), np.arange(4, dtype=np.float32))),
              WeightLayer("relu1", "ReLU", ("conv1",), ("conv1",), ()),
              WeightLayer("fc", "InnerProduct", ("conv1",), ("fc",), (np.float64(2.5) * np.ones((2, 36)),))]
    out = tmp_path / "m.caffemodel"
    write_caffemodel(out, layers, name="tiny")
    net = purecaffe.load_schema().NetParameter.FromString(out.read_bytes())
    assert net.name == "tiny" and [l.name for l in net.layer] == ["conv1", "relu1", "fc"]
    assert list(net.layer[0].blobs[0].shape.dim) == [4, 3, 3, 3]
    assert np.array_equal(np.asarray(net.layer[0].blobs[0].data, dtype=np.float32), layers[0].blobs[0].ravel())
    assert list(net.layer[2].blobs[0].data) == [2.5] * 72


def test_save_weights_takes_layer_info_from_the_net(tmp_path: Path) -> None:
    prototxt = model_dir("mtcnn_det1_pnet") / "det1.prototxt"
    net = purecaffe.load_net(prototxt)
    deploy_weights = purecaffe.load_weights(model_dir("mtcnn_det1_pnet") / "det1.caffemodel", net=net)
    assert list(deploy_weights) == ["conv1", "PReLU1", "conv2", "PReLU2", "conv3", "PReLU3", "conv4-1", "conv4-2"]
    out = tmp_path / "pnet.caffemodel"
    purecaffe.save_weights(out, deploy_weights, net=net)
    model = read_caffemodel(out)
    by_name = {l.name: l for l in net.layer}
    for layer in model.layers:
        assert layer.type == by_name[layer.name].type
        assert list(layer.bottoms) == list(by_name[layer.name].bottom)


def test_save_weights_refuses_layers_not_in_net(tmp_path: Path) -> None:
    net = purecaffe.load_net(model_dir("mtcnn_det1_pnet") / "det1.prototxt")
    out = tmp_path / "x.caffemodel"
    with pytest.raises(purecaffe.PurecaffeError, match="weights for layers the net does not have: nope"):
        purecaffe.save_weights(out, {"nope": [np.zeros(3, np.float32)]}, net=net)
    assert not out.exists()


def test_model_over_2gb_is_refused_before_writing(tmp_path: Path) -> None:
    huge = np.broadcast_to(np.float32(0.0), (600_000_000,))  # 2.4 GB of float data, no memory used
    layers = [WeightLayer("fc", "InnerProduct", (), (), (huge,))]
    assert caffemodel_size(layers) > 2**31 - 1
    out = tmp_path / "huge.caffemodel"
    with pytest.raises(ModelTooLargeError, match="Caffe cannot read binary protos over 2 GiB"):
        write_caffemodel(out, layers)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "m.caffemodel"
    out.write_bytes(b"previous content")
    good = WeightLayer("a", "Scale", (), (), (np.ones(1000, np.float32),))
    bad = WeightLayer("b", "Scale", (), (), (np.array(["not", "floats"]),))  # fails after "a" is written
    with pytest.raises(ValueError):
        write_caffemodel(out, [good, bad])
    assert out.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["m.caffemodel"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"PK\x03\x04rest-of-a-zip", "zip archive"),
    (b"\x89PNG\r\n\x1a\n....", "PNG image"),
    (b'name: "LeNet"\nlayer {}', "text prototxt"),
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "not a caffemodel"),
    (b"\x0f\x00\x00", "not a caffemodel"),
])
def test_foreign_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message) as error:
        read_caffemodel(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("cut", [10, 1000, 100_000, -1])
def test_truncated_caffemodel_names_the_byte(tmp_path: Path, cut: int) -> None:
    data = (model_dir("lenet_mnist") / "lenet_iter_10000.caffemodel").read_bytes()
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(data[:cut])
    with pytest.raises(FormatError, match=r"truncated") as error:
        read_caffemodel(path)
    assert "byte " in error.value.one_line() and str(path) in error.value.one_line()


def test_binaryproto_mean_file() -> None:
    path = model_dir("cifar10_quick_v1") / "mean.binaryproto"
    summary = json.loads(Path(f"{path}.summary.json").read_text())
    blob = purecaffe.load_blob(path)
    assert list(blob.shape) == summary["shape"]  # legacy 4-D dims kept, as Caffe's Blob::FromProto does
    assert float(blob.astype(np.float64).sum()) == pytest.approx(summary["sum"], rel=1e-9)


def test_reference_models_listed() -> None:
    assert len(reference_models()) == 15


def test_zero_dimensional_blob_round_trips(tmp_path: Path) -> None:
    """Caffe's shared PReLU slope is a 0-D blob (BlobShape with no dims); it stays 0-D."""
    out = tmp_path / "prelu.caffemodel"
    write_caffemodel(out, [WeightLayer("prelu", "PReLU", ("x",), ("x",), (np.array(0.25, dtype=np.float32),))])
    blob = read_caffemodel(out).layers[0].blobs[0]
    assert blob.shape == () and float(blob) == 0.25


def test_named_net_without_layers_is_valid(tmp_path: Path) -> None:
    """save_weights of a parameter-free net writes a named, layer-less NetParameter; it reads back empty."""
    out = tmp_path / "empty.caffemodel"
    write_caffemodel(out, [], name="no_params")
    model = read_caffemodel(out)
    assert model.name == "no_params" and model.layers == ()
    assert purecaffe.load_weights(out) == {}
