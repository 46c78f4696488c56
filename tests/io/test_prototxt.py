"""Prototxt parsing (all corpus files, three input styles, V1 upgrade) and writing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import purecaffe
from corpus import all_files, collect_files, file_id, model_dir
from purecaffe.errors import FormatError
from purecaffe.io.netspec import input_shapes
from purecaffe.io.prototxt import net_to_text, parse_net_text


def _prototxts() -> list[Path]:
    return all_files(".prototxt")


@pytest.fixture(params=collect_files(".prototxt"), ids=file_id)
def prototxt(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_corpus_prototxt_count() -> None:
    assert len(_prototxts()) == 20  # 19 models + GoogLeNet's V1 copy


def test_every_corpus_prototxt_parses_and_round_trips(prototxt: Path, tmp_path: Path) -> None:
    net = purecaffe.load_net(prototxt)
    assert len(net.layer) > 0 and len(net.layers) == 0  # V1 always upgraded to V2
    out = tmp_path / "copy.prototxt"
    purecaffe.save_net(net, out)
    again = purecaffe.load_net(out)
    assert again == net
    assert input_shapes(again) == input_shapes(net) != {}


@pytest.mark.parametrize(("model", "style"), [
    ("mtcnn_det1_pnet", "input_dim"), ("ssd300_vgg16_voc", "input_shape"), ("lenet_mnist", "Input layer")])
def test_three_input_styles(model: str, style: str) -> None:
    reference = model_dir(model) / "reference.npz"
    prototxt = next(p for p in model_dir(model).glob("*.prototxt"))
    shapes = input_shapes(purecaffe.load_net(prototxt))
    assert list(shapes) == ["data"]
    if reference.exists():
        used = tuple(np.load(reference)["shape:data"])
        assert shapes["data"][1:] == used[1:]  # the reference forces batch 1
    else:
        assert shapes["data"] == (1, 3, 300, 300)


def test_v1_net_upgrades_like_caffe() -> None:
    """GoogLeNet's 2014 V1 file becomes the same layers as its V2 deploy file."""
    v1 = purecaffe.load_net(model_dir("googlenet") / "deploy_v1_2014.prototxt")
    v2 = purecaffe.load_net(model_dir("googlenet") / "deploy.prototxt")
    v2_layers = [l for l in v2.layer if l.type != "Input"]
    assert [(l.name, l.type, list(l.bottom), list(l.top)) for l in v1.layer] == \
        [(l.name, l.type, list(l.bottom), list(l.top)) for l in v2_layers]
    conv = v1.layer[0]
    assert conv.type == "Convolution" and conv.convolution_param.num_output == 64
    assert [p.lr_mult for p in conv.param] == [1.0, 2.0]  # from blobs_lr
    assert [p.decay_mult for p in conv.param] == [1.0, 0.0]  # from weight_decay


def test_v1_lenet_types() -> None:
    net = purecaffe.load_net(model_dir("lenet_mnist_v1") / "lenet.prototxt")
    assert [l.type for l in net.layer] == ["Convolution", "Pooling", "Convolution", "Pooling",
                                           "InnerProduct", "ReLU", "InnerProduct", "Softmax"]


def test_fork_params_parse_by_name() -> None:
    net = purecaffe.load_net(model_dir("ssd300_vgg16_voc") / "deploy.prototxt")
    by_type = {l.type: l for l in net.layer}
    assert by_type["Normalize"].norm_param.across_spatial is False
    assert list(by_type["Permute"].permute_param.order) == [0, 2, 3, 1]
    assert by_type["DetectionOutput"].detection_output_param.num_classes == 21


def test_enum_as_integer_and_colon_before_brace() -> None:
    sphere = purecaffe.load_net(model_dir("sphereface20") / "sphereface_deploy.prototxt")
    eltwise = [l for l in sphere.layer if l.type == "Eltwise"]
    assert eltwise and all(l.eltwise_param.operation == 1 for l in eltwise)  # `operation: 1` is SUM


@pytest.mark.parametrize(("text", "place", "message"), [
    ('name: "x"\nlayer {\n  name: "a"\n  tpye: "ReLU"\n}\n', "4:3", 'no field named "tpye"'),
    ('layer {\n  name: "a"\n', "2:9", 'Expected "}"'),
    ('layer { convolution_param { num_output: -3 } }', "1:41", "Value out of range: -3"),
    ('layer { type: 12 }', "1:15", "Expected string but found: '12'"),
])
def test_malformed_prototxt_reports_line_and_column(tmp_path: Path, text: str, place: str, message: str) -> None:
    path = tmp_path / "bad.prototxt"
    path.write_text(text)
    with pytest.raises(FormatError) as error:
        purecaffe.load_net(path)
    line = error.value.one_line()
    assert line.startswith(f"{path}:{place}: malformed prototxt")
    assert message in line and "\n" not in line


def test_binary_file_as_prototxt_is_refused() -> None:
    with pytest.raises(FormatError, match="binary data where a text prototxt was expected"):
        purecaffe.load_net(model_dir("lenet_mnist") / "lenet_iter_10000.caffemodel")


def test_written_prototxt_uses_caffe_layout() -> None:
    net = parse_net_text('name: "n" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8 '
                         'layer { name: "r" type: "ReLU" bottom: "data" top: "data" }')
    assert net_to_text(net) == ('name: "n"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\n'
                                'input_dim: 8\nlayer {\n  name: "r"\n  type: "ReLU"\n  bottom: "data"\n'
                                '  top: "data"\n}\n')
