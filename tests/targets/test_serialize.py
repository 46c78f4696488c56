"""Serialization (`purecaffe.targets.serialize`): the prototxt says exactly what the canonical layer says."""
from __future__ import annotations

import pytest

from purecaffe.canonical import Blob, CaffeLayer, builders, make_layer
from purecaffe.errors import ConverterBugError
from purecaffe.runtime.plan import plan_layer
from purecaffe.targets import TARGETS, Target, get_target, net_parameter
from purecaffe.targets.serialize import layer_parameter, packers

X = Blob("x", (1, 6, 13, 11))

LAYERS = [
    builders.input_layer("data", [X]),
    builders.convolution("conv", X, "conv", num_output=6, kernel=(3, 1), stride=(2, 1), pad=(1, 0), group=3),
    builders.convolution("conv_sq", X, "conv_sq", num_output=4, kernel=3, dilation=2, bias_term=False),
    builders.deconvolution("up", X, "up", num_output=6, kernel=2, stride=2, group=6, bias_term=False),
    builders.pooling("pool", X, "pool", method="AVE", kernel=(3, 2), stride=2, pad=(1, 0)),
    builders.pooling("gap", X, "gap", method="MAX", global_pooling=True),
    builders.batch_norm("bn", X, "bn", eps=1e-3),
    builders.scale("sc", [X], "sc", bias_term=True),
    builders.power("pw", X, "pw", power=-0.5, shift=1e-5),
    builders.eltwise("sum", [X, X], "sum", coeff=(1.0, -1.0)),
    builders.eltwise("prod", [X, X], "prod", operation="PROD"),
    builders.slice_layer("cut", X, ["a", "b", "c"], axis=2, slice_point=(3, 7)),
    builders.reshape("rs", X, "rs", dims=(0, -1), axis=0),
    builders.reduction("red", X, "red", operation="MEAN", axis=2),
    builders.clip("clip", X, "clip", min=-1.0, max=2.5),
    builders.permute("perm", X, "perm", order=(0, 2, 3, 1)),
    builders.tile("tile", X, "tile", axis=3, tiles=3),
]


def _taking(layer: CaffeLayer) -> Target:
    """A target that allows `layer` (serialization writes only legal layers)."""
    return next(target for target in TARGETS.values() if target.allows(layer))


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_written_layer_reads_back_to_the_same_parameters(layer: CaffeLayer) -> None:
    message = layer_parameter(layer, _taking(layer), packers())
    planned = plan_layer(message)
    if layer.type != "Input":
        assert planned.kwargs == dict(layer.params)
    assert (message.name, message.type, tuple(message.bottom), tuple(message.top)) == (
        layer.name, layer.type, layer.bottom_names, layer.top_names)


def test_square_sizes_are_written_as_kernel_size() -> None:
    message = layer_parameter(LAYERS[2], get_target("bvlc"), packers())
    assert list(message.convolution_param.kernel_size) == [3]
    assert not message.convolution_param.HasField("kernel_h")
    rect = layer_parameter(LAYERS[1], get_target("bvlc"), packers())
    assert (rect.convolution_param.kernel_h, rect.convolution_param.kernel_w) == (3, 1)


def test_floor_pooling_cannot_be_written_for_a_target_without_round_mode() -> None:
    floor = builders.pooling("p", X, "p", method="MAX", kernel=3, stride=2, round_mode="FLOOR")
    assert layer_parameter(floor, get_target("bvlc"), packers()).pooling_param.round_mode == 1
    with pytest.raises(ConverterBugError, match="not legal for caffe1 after legalization: caffe1's Pooling has no round_mode"):
        layer_parameter(floor, get_target("caffe1"), packers())


def test_nnie_declares_inputs_as_net_fields() -> None:
    net = net_parameter(LAYERS[:2], name="n", target=get_target("nnie"))
    assert list(net.input) == ["x"] and list(net.input_shape[0].dim) == [1, 6, 13, 11]
    assert [layer.type for layer in net.layer] == ["Convolution"]
    bvlc = net_parameter(LAYERS[:2], name="n", target=get_target("bvlc"))
    assert [layer.type for layer in bvlc.layer] == ["Input", "Convolution"]


def test_every_layer_type_a_target_lists_has_a_packer() -> None:
    listed = set().union(*(target.layers for target in TARGETS.values()))
    assert listed - set(packers()) == set()


SSD_LAYERS = [
    make_layer("LRN", "lrn", [X], ["lrn"], local_size=3, alpha=1e-4, beta=0.75, k=2.0, norm_region="WITHIN_CHANNEL"),
    make_layer("LRN", "lrn_across", [X], ["lrn_across"], local_size=5),
    make_layer("ArgMax", "argmax", [X], ["argmax"], top_k=2, axis=1),
    make_layer("ArgMax", "argmax_all", [X], ["argmax_all"], out_max_val=True),
    make_layer("Embed", "embed", [Blob("ids", (4, 3))], ["embed"], num_output=5, input_dim=10, bias_term=False),
    make_layer("PriorBox", "prior", [X, Blob("image", (1, 3, 104, 88))], ["prior"], min_size=(30.0,),
               max_size=(60.0,), aspect_ratio=(2.0,), clip=True, variance=(0.1, 0.1, 0.2, 0.2), step=(8.0, 8.0)),
    make_layer("PriorBox", "prior_rect", [X], ["prior_rect"], min_size=(16.0,), flip=False, img=(104, 88),
               step=(8.0, 7.5), offset=0.25),
    make_layer("DetectionOutput", "detections", [Blob("loc", (1, 16)), Blob("conf", (1, 12)),
                                                 Blob("priors", (1, 2, 16))], ["detections"], num_classes=3,
               keep_top_k=50),
]


@pytest.mark.parametrize("layer", SSD_LAYERS, ids=lambda layer: layer.name)
def test_the_ssd_and_other_listed_layers_read_back_to_the_same_parameters(layer: CaffeLayer) -> None:
    message = layer_parameter(layer, _taking(layer), packers())
    assert plan_layer(message).kwargs == dict(layer.params)


def test_square_prior_box_sizes_are_written_once() -> None:
    square, rect = (layer_parameter(layer, _taking(layer), packers()).prior_box_param for layer in SSD_LAYERS[5:7])
    assert square.step == 8.0 and not square.HasField("step_h") and not square.HasField("img_size")
    assert (rect.img_h, rect.img_w, rect.step_h, rect.step_w) == (104, 88, 8.0, 7.5)
    assert not rect.flip and rect.offset == 0.25
