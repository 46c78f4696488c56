"""Each legalization rule on the two NPU toolchain targets: the runtime, then the target's judge.

sophgo is judged by tpu-mlir's Caffe front end and top-level fp32 interpreter (`verify(...,
backend="tpu-mlir")`, float32 bounds), mnn by MNNConvert and MNN's CPU runtime (`backend="mnn"`,
`MNN_RTOL`: its Winograd convolutions).  Every case names the rules it exercises; each rule of
`rules_affine`/`rules_forms` (and each common rule these targets use) appears at least once
(`test_every_rule_has_a_case`).  mnn files must also parse with MNN's own caffe.proto.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from corpus import corpus_dir
from purecaffe.targets import TARGETS
from torch_compare import run_compare_torch


class _Fn(nn.Module):
    def __init__(self, fn, *modules: nn.Module) -> None:  # noqa: ANN001
        super().__init__()
        self.fn = fn
        self.parts = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, *self.parts)


class _BiasOnlyNorm(nn.Module):
    """layer_norm with a bias and no weight: a one-bottom Bias."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.linspace(-1.0, 1.0, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.layer_norm(x, (7,), None, self.bias)


class _ChannelFactor(nn.Module):
    """x times a learned factor per channel (a one-bottom Scale without bias, `mul`), then the blob `mul_1`."""

    def __init__(self) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.linspace(0.5, 1.5, 3).view(3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x * self.factor) * 2.0


def _conv(i: int, o: int) -> nn.Module:
    return nn.Conv2d(i, o, 1)


# name -> (module factory, input shape, the rules it needs on sophgo, on mnn)
CASES = {
    "affine": (lambda: _Fn(lambda x: x * 2.5 + 1.0), (1, 3, 5, 7), {"power_as_scale"}, set()),
    "affine_3d": (lambda: _Fn(lambda x: x.reshape(1, 7, 15) * 0.5 - 2.0), (1, 3, 5, 7),
                  {"power_as_scale", "scale_as_4d"}, set()),
    "affine_1d": (lambda: _Fn(lambda x: x.mean((1, 2, 3)) + 1.0), (2, 3, 5, 7),
                  {"power_as_scale", "reduction_as_pooling"}, set()),
    "square": (lambda: _Fn(lambda x: (x * 0.5 + 1.0).pow(2.0)), (1, 3, 5, 7), {"power_as_scale"}, set()),
    "sub": (lambda: _Fn(lambda x, c: c(x) - x, _conv(3, 3)), (1, 3, 5, 7), {"eltwise_coeff_as_power"}, set()),
    "axpy": (lambda: _Fn(lambda x, c: torch.add(c(x), x, alpha=0.5), _conv(3, 3)), (1, 3, 5, 7),
             {"eltwise_coeff_as_power"}, {"eltwise_coeff_as_power"}),
    "clamp_min": (lambda: _Fn(lambda x: torch.clamp(x * 4.0, min=-0.5)), (1, 3, 7, 5),
                  {"clip_as_relus", "eltwise_coeff_as_power", "power_as_scale"},
                  {"clip_as_relus", "eltwise_coeff_as_power"}),
    "gelu_tanh": (lambda: nn.Sequential(_conv(3, 4), nn.GELU(approximate="tanh")), (1, 3, 5, 7),
                  {"eltwise_coeff_as_power", "power_as_lrn"}, {"eltwise_coeff_as_power"}),
    "se_gate": (lambda: _Fn(lambda x, c: x * torch.sigmoid(c(x.mean((2, 3), keepdim=True))), _conv(3, 3)),
                (1, 3, 5, 7), set(), {"broadcast_as_eltwise"}),
    "channel_bias": (lambda: _Fn(lambda x, c: x + c(x.mean((2, 3), keepdim=True)), _conv(3, 3)), (1, 3, 5, 7),
                     {"broadcast_as_eltwise"}, {"broadcast_as_eltwise"}),
    "position_gate": (lambda: _Fn(lambda x: x * x.mean(1, keepdim=True)), (1, 3, 5, 7), {"broadcast_as_eltwise"},
                      {"broadcast_as_eltwise"}),
    "instance_norm": (lambda: nn.InstanceNorm2d(3, affine=True), (1, 3, 5, 7), {"power_as_lrn", "broadcast_as_eltwise"},
                      {"broadcast_as_eltwise", "reduction_coeff_as_power"}),
    "norm_bias_only": (lambda: _BiasOnlyNorm(), (1, 3, 5, 7), {"bias_as_scale", "power_as_lrn", "scale_as_4d"},
                       {"bias_as_scale", "scale_as_diagonal_product"}),
    "group_norm": (lambda: nn.GroupNorm(3, 6), (1, 6, 5, 7), {"power_as_lrn", "scale_as_4d"}, {"broadcast_as_eltwise"}),
    "layer_norm": (lambda: nn.LayerNorm(7), (1, 3, 5, 7), {"power_as_lrn", "scale_as_4d", "scale_as_diagonal_product"},
                   {"scale_as_diagonal_product", "broadcast_as_eltwise"}),
    "position_scale": (lambda: _Fn(lambda x: x * torch.arange(7.0).view(1, 1, 1, 7) + 1.0), (1, 3, 5, 7),
                       {"scale_as_diagonal_product", "inner_product_as_2d"}, {"scale_as_diagonal_product"}),
    "position_bias": (lambda: _Fn(lambda x: x + torch.arange(35.0).view(1, 1, 5, 7) / 10), (1, 3, 5, 7),
                      {"scale_as_diagonal_product", "inner_product_as_2d"}, {"scale_as_diagonal_product"}),
    "avgpool_exclude_pad": (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (1, 3, 12, 9),
                            {"scale_as_diagonal_product"}, {"scale_as_diagonal_product", "floor_pooling_as_ceil"}),
    "linear_last_axis": (lambda: nn.Linear(7, 6), (1, 3, 5, 7), {"inner_product_as_2d"}, set()),
    "bilinear_half": (lambda: nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 3, 5, 7),
                      {"inner_product_as_2d"}, set()),
    "bilinear_from_1": (lambda: _Fn(lambda x: nn.functional.interpolate(x.mean((2, 3), keepdim=True), size=(3, 5),
                                                                         mode="bilinear")), (1, 3, 5, 7),
                        {"inner_product_as_2d"}, set()),
    "prelu_shared": (lambda: nn.PReLU(), (1, 3, 5, 7), {"shared_prelu_as_channels"}, set()),
    "deconv_groups": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (1, 4, 5, 7),
                      {"grouped_deconvolution_as_groups"}, set()),
    "dilation_h": (lambda: nn.Conv2d(3, 4, (3, 1), padding=(2, 0), dilation=(2, 1)), (1, 3, 9, 7),
                   {"rectangular_dilation_as_dense_kernel"}, {"rectangular_dilation_as_dense_kernel"}),
    "dilation_hw": (lambda: nn.Conv2d(3, 4, 3, padding=(1, 3), dilation=(1, 3), groups=1), (1, 3, 9, 11),
                    {"rectangular_dilation_as_dense_kernel"}, {"rectangular_dilation_as_dense_kernel"}),
    "radix_sum": (lambda: _Fn(lambda x: x.view(1, 2, 3, 4, 5).sum(dim=1)), (1, 6, 4, 5), set(),
                  {"even_slice_as_points"}),
    "sppf_small_map": (lambda: nn.Sequential(nn.MaxPool2d(5, 1, 2), nn.MaxPool2d(5, 1, 2)), (1, 3, 5, 5),
                       {"full_max_pooling_as_two"}, set()),
    "batchnorm_1d": (lambda: nn.BatchNorm1d(3), (1, 3, 7), {"scale_as_4d"}, set()),
    "attention": (lambda: _Fn(lambda x: torch.softmax(x @ x.transpose(-2, -1) * 0.25, -1) @ x), (1, 2, 5, 4),
                  {"tile_as_concat", "reduction_as_pooling", "power_as_scale"},
                  {"tile_as_concat", "reduction_as_lower_rank"}),
    "reduce_sum": (lambda: _Fn(lambda x: x.view(2, 3, 35).sum(dim=2) * 2.0), (2, 3, 5, 7),
                   {"reduction_as_pooling"}, set()),
    "flatten": (lambda: _Fn(lambda x: x.flatten(2) * 2.0), (1, 3, 5, 7), {"flatten_as_reshape"},
                {"flatten_as_reshape"}),
    "tile": (lambda: _Fn(lambda x: x.repeat(1, 2, 1, 3) + 1.0), (1, 3, 5, 7), {"tile_as_concat"},
             {"tile_as_concat"}),
    "maxpool_floor": (lambda: nn.MaxPool2d(3, 2), (1, 3, 10, 12), set(), {"floor_pooling_as_ceil"}),
    "hardtanh": (lambda: nn.Sequential(_conv(3, 4), nn.Hardtanh(-1.5, 2.0)), (1, 3, 9, 11),
                 {"clip_as_relus", "eltwise_coeff_as_power", "power_as_scale"}, {"clip_as_relus"}),
    "silu": (lambda: nn.Sequential(_conv(3, 4), nn.SiLU()), (1, 3, 9, 11), {"swish_as_sigmoid"},
             {"swish_as_sigmoid"}),
    "hardswish": (lambda: nn.Sequential(_conv(3, 4), nn.Hardswish()), (1, 3, 9, 11),
                  {"hardswish_as_gate", "clip_as_relus"}, {"hardswish_as_gate", "clip_as_relus"}),
    "relu6": (lambda: nn.Sequential(_conv(3, 4), nn.ReLU6()), (1, 3, 9, 11), set(), set()),
    "elu": (lambda: nn.Sequential(_conv(3, 4), nn.ELU(0.7)), (1, 3, 5, 7),
            {"elu_as_sigmoid", "power_as_lrn", "power_as_scale"}, set()),
    "rsqrt": (lambda: _Fn(lambda x: torch.rsqrt(x.abs() * 0.5 + 0.1)), (1, 3, 5, 7),
              {"power_as_lrn", "power_as_scale"}, set()),
    "reciprocal_3d": (lambda: _Fn(lambda x: 1.0 / (x.reshape(1, 15, 7) + 20.0)), (1, 3, 5, 7),
                      {"power_as_lrn", "power_as_scale", "scale_as_4d"}, set()),
    "cube": (lambda: _Fn(lambda x: x.pow(3.0)), (1, 3, 5, 7), {"power_as_lrn"}, set()),
    "tile_one_channel": (lambda: _Fn(lambda x: torch.cat([x, x.mean(1, keepdim=True).repeat(1, 70, 1, 1)], 1)),
                         (1, 3, 5, 7), {"tile_of_one_as_convolution"}, {"tile_of_one_as_convolution"}),
    "tile_one_column": (lambda: _Fn(lambda x: x.flatten(1)[:, :1].repeat(1, 80) * 2.0), (1, 3, 5, 7),
                        {"tile_of_one_as_convolution"}, {"tile_of_one_as_convolution"}),
    "layer_norm_3d": (lambda: nn.LayerNorm(8), (1, 4, 8), {"power_as_lrn", "scale_as_4d"},
                      {"scale_as_diagonal_product"}),
    # exact GELU's Exp (absent on both) as sigmoid(x) / sigmoid(-x)
    "gelu_erf": (lambda: nn.Sequential(_conv(3, 4), nn.GELU()), (1, 3, 5, 7),
                 {"gelu_exp_as_sigmoids", "power_as_lrn", "power_as_scale"}, {"gelu_exp_as_sigmoids"}),
    # constant channels (ENet's zeros, per-channel values): a zero-weight 1x1 Convolution (a net rule)
    "cat_zeros": (lambda: _Fn(lambda x: torch.cat([torch.max_pool2d(x, 2), torch.zeros(1, 5, 2, 3)], 1)),
                  (1, 3, 5, 7), set(), set()),
    "cat_channel_constant": (lambda: _Fn(lambda x: torch.cat(
        [torch.arange(-2.0, 2.0).view(1, 4, 1, 1).expand(1, 4, 5, 7), torch.sigmoid(x)], 1) * 3.0), (1, 3, 5, 7),
        set(), set()),
    # a bias-less Scale `mul` beside the blob `mul_1`: tpu-mlir names the Scale's made-up zero bias `mul_1` too
    "scale_weight_name": (lambda: _ChannelFactor(), (1, 3, 5, 7), set(), set()),
    # a vector norm: (L mean)^(1/2) as the root, then a Power of scale sqrt(L) (fp16-safe); sophgo has no square root
    "l2_normalize": (lambda: _Fn(lambda x: nn.functional.normalize(x, dim=1)), (1, 3, 5, 7), None,
                     {"root_before_scale"}),
}
# Cases a target refuses (None above), with the text of the reason.
REFUSED: dict[tuple[str, str], str] = {("l2_normalize", "sophgo"): "through LRN is NaN at y = 0"}
# Refused by a limit no rule lifts: the layer, the finding's text.
LIMITS = {
    ("avgpool_ceil_overhang", "sophgo"): (lambda: nn.AvgPool2d(3, 2, ceil_mode=True), (1, 3, 10, 12),
                                          "sophgo divides AVE Pooling by the whole window"),
    ("ave_full_kernel", "sophgo"): (lambda: nn.AvgPool2d(5, 1, 2), (1, 3, 5, 5),
                                    "sophgo reads a Pooling whose kernel"),
    ("sqrt", "sophgo"): (lambda: _Fn(lambda x: torch.sqrt(x.abs())), (1, 3, 5, 7),
                         "through LRN is NaN at y = 0"),
    ("fourth_power", "sophgo"): (lambda: _Fn(lambda x: x.pow(4.0)), (1, 3, 5, 7), "is even in y"),
    ("lstm", "mnn"): (lambda: _Fn(lambda x, r: r(x)[0], nn.LSTM(5, 4)), (6, 1, 5), "mnn has no LSTM layer"),
}


def _inputs(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 4.0


def _converted(case: str, target: str) -> tuple[nn.Module, torch.Tensor, purecaffe.ConvertedNet | None]:
    make, shape = CASES[case][:2]
    torch.manual_seed(0)
    model = make().eval()
    x = _inputs(shape)
    if (case, target) in REFUSED:
        with pytest.raises(purecaffe.UnsupportedError, match=REFUSED[case, target]):
            purecaffe.convert(model, (x,), target=target)
        return model, x, None
    return model, x, purecaffe.convert(model, (x,), target=target)


def _legalized_by(case: str, target: str) -> set[str]:
    """The rules legalization applied to the case (from the conversion log)."""
    import logging

    from purecaffe.targets import rules as common

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    logger = logging.getLogger(common.__name__)
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        _converted(case, target)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    return {record.getMessage().split(": ")[1].split(" ")[0] for record in records if " -> " in record.getMessage()}


@pytest.mark.parametrize("target", ["sophgo", "mnn"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_case_takes_the_rules_named(case: str, target: str) -> None:
    wanted = CASES[case][2 if target == "sophgo" else 3]
    if wanted is None:
        _converted(case, target)  # the refusal is checked there
        return
    assert wanted <= _legalized_by(case, target)


def test_every_rule_has_a_case() -> None:
    """Every rule of `rules_affine`, `rules_forms` and `rules_powers` that these targets use is exercised by a case."""
    named = set().union(*(rules for case in CASES.values() for rules in case[2:] if rules))
    ours = ("purecaffe.targets.rules_affine", "purecaffe.targets.rules_forms", "purecaffe.targets.rules_powers")
    for target in ("sophgo", "mnn"):
        used = {rule.__name__ for rule in TARGETS[target].rules if rule.__module__ in ours}
        assert used - named == set(), target


@pytest.mark.parametrize("target", ["sophgo", "mnn"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_output_is_legal_and_right_in_the_runtime(case: str, target: str, tmp_path: Path) -> None:
    _, _, net = _converted(case, target)
    if net is None:
        return
    types = {layer.type for layer in net.net.layer}
    outside = sorted(t for t in types if not TARGETS[target].has(t))
    assert not outside, f"{target} file holds {outside}, which {target} does not have"
    files = net.save(tmp_path / "net")
    schema = TARGETS[target].schema
    if schema is not None:
        parsed = purecaffe.load_net(files.prototxt, proto=corpus_dir() / "protos" / schema)
        assert [layer.name for layer in parsed.layer] == [layer.name for layer in net.net.layer]
    make, shape = CASES[case][:2]
    run_compare_torch(make(), [_inputs(shape)], target=target, backend="runtime")


@pytest.mark.parametrize("key", sorted(LIMITS), ids=lambda key: "-".join(key))
def test_a_limit_no_rule_lifts_is_a_refusal(key: tuple[str, str]) -> None:
    make, shape, reason = LIMITS[key]
    with pytest.raises(purecaffe.UnsupportedError, match=reason):
        purecaffe.convert(make().eval(), (_inputs(shape),), target=key[1])


@pytest.mark.tpu_mlir
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_in_tpumlir(case: str, tmp_path: Path, tpumlir_venv: Path) -> None:
    """tpu-mlir's own front end and top-level fp32 interpreter, every tensor it kept."""
    model, x, net = _converted(case, "sophgo")
    if net is None:
        return
    net.save(tmp_path / "net")
    report = purecaffe.verify(model, (x,), tmp_path / "net", backend="tpu-mlir")
    assert report.passed, report.to_table()


@pytest.mark.mnn
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_in_mnn(case: str, tmp_path: Path, mnn_venv: Path) -> None:
    """MNN's converter and CPU runtime, every tensor it exposes."""
    model, x, net = _converted(case, "mnn")
    if net is None:
        return
    net.save(tmp_path / "net")
    report = purecaffe.verify(model, (x,), tmp_path / "net", backend="mnn")
    assert report.passed, report.to_table()
