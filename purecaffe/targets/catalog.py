"""The targets: which Caffe each toolchain reads, as data.

Facts and their sources (each limit names its own):
BVLC master as Debian ships it; the Caffe 1.0 release (no round_mode, Clip, Swish);
HiSilicon NNIE (Caffe 1.0 + extension layers + its limits); Rockchip RKNN-Toolkit2's
Caffe front end; OpenCV DNN 4.x; Sophgo tpu-mlir's and Alibaba MNN's Caffe converters
(measured on them, README "tpu-mlir judge" and "MNN judge").  A target (`target.Target`) is its layer set, its
limits (`limits`: what it refuses in the layers it has), its rules (`rules`: exact
rewrites of what it refuses), its schema (its own caffe.proto, where public, and the
fields it lacks), its serialization policy (input declaration, in-place tops) and the
real consumer that proves a file for it, with that judge's tolerance (`judges`).
Adding a target is adding an entry here.
"""
from __future__ import annotations

from purecaffe.errors import PurecaffeError
from purecaffe.targets import mnn_rules, opencv_rules, rknn_rules, sophgo_rules
from purecaffe.targets.judges import JUDGES
from purecaffe.targets import rules_affine, rules_constants, rules_forms, rules_powers
from purecaffe.targets.rules_recurrent import CAFFE_LSTM_CONT, OPENCV_LSTM, RKNN_LSTM
from purecaffe.targets.limits import (MNN_LIMITS, NNIE_LIMITS, OPENCV_LIMITS, POOLING_ALWAYS_CEIL, RKNN_LIMITS,
                                     SOPHGO_LIMITS)
from purecaffe.targets.rules import RULES
from purecaffe.targets.target import Rule, Target

# Stock BVLC Caffe (Debian's python3-caffe, BVLC master 2018): every type it registers
# that a converted net can use.
BVLC_LAYERS = frozenset({
    "Input", "Convolution", "Deconvolution", "InnerProduct", "BatchNorm", "Scale", "Bias",
    "Pooling", "ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Power", "Exp", "Log",
    "Clip", "Swish", "Threshold", "Eltwise", "Concat", "Slice", "Split", "Silence", "Flatten",
    "Reshape", "Softmax", "Reduction", "Crop", "Tile", "Parameter", "ArgMax", "LRN", "MVN",
    "Embed", "Dropout", "LSTM", "RNN",
})
# The Caffe 1.0 release (tag 1.0, 2017): Clip (#6282) and Swish (#6002) came later.
CAFFE1_LAYERS = BVLC_LAYERS - {"Clip", "Swish"}
# NNIE: Caffe 1.0 plus its extension layers that purecaffe's runtime knows.
NNIE_LAYERS = CAFFE1_LAYERS | {"Upsample", "Permute", "Normalize"}
# RKNN-Toolkit2 2.5's Caffe front end (the types it recognises), less what
# it reads wrongly, measured with its own simulator: Clip and Swish are left out as identities
# ("OP ... Current not support!!!", load_caffe still returns 0); HardSwish becomes an ONNX node
# onnxruntime rejects; Silence is left out; ArgMax's top becomes int64, so the build fails at any
# float layer reading it (measured: "Mul bound to different types").  Its LSTM is read right without
# the cont bottom (`rules_recurrent`).
RKNN_LAYERS = frozenset({
    "Input", "BNLL", "BatchNorm", "Concat", "Convolution", "Crop", "Deconvolution",
    "Dropout", "Eltwise", "Flatten", "InnerProduct", "LRN", "Normalize", "Permute", "Pooling",
    "Power", "PReLU", "ReLU", "ReLU6", "Reduction", "Reshape", "Scale", "Sigmoid", "Slice", "Softmax",
    "Split", "TanH", "Tile", "Upsample", "LSTM",
})
# OpenCV DNN 4.x readNetFromCaffe: stock layers plus ReLU6, Permute, Interp (align-corners arithmetic)
# and the SSD layers; no Clip or Swish.  Measured with OpenCV 4.14: it cannot create Reduction, Bias,
# Parameter or ArgMax layers ("Can't create layer"), and its Tile (layers/tile_layer.cpp, ONNX's) asks for a
# `repeats` no Caffe message has ("Tile: repeats needs to be treated as parameter but it is missing");
# its LSTM takes no cont and its own five blobs (`rules_recurrent`).
OPENCV_LAYERS = (BVLC_LAYERS - {"Clip", "Swish", "Embed", "RNN", "Threshold", "Reduction", "Parameter", "Bias",
                                "Tile", "ArgMax"}) | {
    "ReLU6", "Permute", "Normalize", "PriorBox", "DetectionOutput", "Interp"}

# tpu-mlir 1.30.2's Caffe front end (python/transform/CaffeConverter.py), less what it refuses or reads
# wrongly, measured with its top-level fp32 interpreter: it has no Power ("not implemented"), Bias, ELU,
# BNLL, Clip, Swish, Tile or Split ("not implemented"), Parameter or HardSwish; it flattens every Flatten
# to (N, rest) whatever its axes and reduces only Reduction's `axis` (MEAN only, `coeff` dropped).  Its LRN
# (Caffe's own, 4-D only) is read right across channels (measured: local_size 5 and 3, k 1 and 2, within
# 1e-7 of the runtime), and with local_size 1 and k 0 it is the power that Power lacks (`rules_powers`).
# Compiled, BM1684X/BM1688 codegen asserts on a small LRN (per-row statistics: README), CV18xx does not.
# Only types purecaffe writes and that were measured are listed (not its Crop, Upsample, Normalize ...).
SOPHGO_LAYERS = frozenset({
    "Input", "Convolution", "Deconvolution", "InnerProduct", "BatchNorm", "Scale", "Pooling", "ReLU", "PReLU",
    "Sigmoid", "TanH", "AbsVal", "ReLU6", "Eltwise", "Concat", "Slice", "Silence", "Reshape", "Softmax",
    "Permute", "Interp", "LRN",
})
# MNN 3.6.1's Caffe converter (tools/converter/source/caffe/), less what it refuses or reads wrongly,
# measured with its CPU runtime: no Clip, Swish, HardSwish, Tile, Parameter or LSTM; its Flatten keeps
# 4 axes ((1, 105, 1, 1) for (1, 105)).  Only types purecaffe writes and that were measured are listed.
MNN_LAYERS = frozenset({
    "Input", "Convolution", "Deconvolution", "InnerProduct", "BatchNorm", "Scale", "Pooling", "ReLU", "PReLU",
    "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "ReLU6", "Power", "Eltwise", "Concat", "Slice", "Silence",
    "Reshape", "Softmax", "Reduction", "Permute", "Interp",
})
# The rules of the targets that read fewer forms of the affine and broadcast layers (sophgo, mnn): theirs
# first (their rewrites may use Power, Concat or Reshape, which the common rules and `power_as_scale`
# then legalize in turn).
NPU_RULES: tuple[Rule, ...] = (
    rules_affine.eltwise_coeff_as_power, rules_affine.reduction_coeff_as_power, rules_affine.bias_as_scale,
    rules_forms.broadcast_as_eltwise, rules_forms.inner_product_as_2d, rules_affine.shared_prelu_as_channels,
    rules_affine.scale_as_diagonal_product, rules_forms.grouped_deconvolution_as_groups,
    rules_forms.reduction_as_lower_rank, rules_forms.rectangular_dilation_as_dense_kernel,
    rules_forms.even_slice_as_points, rules_forms.full_max_pooling_as_two,
    rules_forms.tile_of_one_as_convolution, *RULES, rules_powers.root_before_scale, rules_powers.elu_as_sigmoid,
    rules_powers.gelu_exp_as_sigmoids,
    rules_powers.power_as_lrn,
    rules_affine.power_as_scale,
    rules_forms.scale_as_4d, rules_constants.parameter_declined,
)

# Fields BVLC master added after the 1.0 release (#6282 Clip, #6320 round_mode, #6002 Swish).
AFTER_CAFFE1 = frozenset({"PoolingParameter.round_mode", "LayerParameter.clip_param", "LayerParameter.swish_param"})

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("bvlc", "stock BVLC Caffe (Debian python3-caffe, BVLC master): round_mode, Clip, Swish",
           BVLC_LAYERS, JUDGES["caffe"], "bvlc_reference_caffe.proto", RULES, (CAFFE_LSTM_CONT,), output_order="name"),
    Target("caffe1", "the Caffe 1.0 release (2017): no round_mode, Clip or Swish; Ambarella CVflow, "
           "Xilinx DPU and other 'standard Caffe' toolchains",
           CAFFE1_LAYERS, JUDGES["caffe"], "bvlc_caffe_1.0_caffe.proto", RULES, (POOLING_ALWAYS_CEIL, CAFFE_LSTM_CONT),
           missing_fields=AFTER_CAFFE1, output_order="name"),
    # NNIE's own caffe.proto (Caffe 1.0 + its extension layers' parameters) is HiSilicon's, not public.
    # No public mapper either: its files are judged by its limits and the runtime.
    Target("nnie", "HiSilicon NNIE (nnie_mapper): Caffe 1.0 + Upsample/Permute/Normalize, its limits",
           NNIE_LAYERS, JUDGES["runtime"], None, RULES, (POOLING_ALWAYS_CEIL, CAFFE_LSTM_CONT, *NNIE_LIMITS),
           missing_fields=AFTER_CAFFE1, declare_inputs="field"),
    # RKNN reads round_mode by field name (its number differs, the prototxt is read by name; floor MAX
    # and AVE pooling measured right); its other limits are measured (`limits.RKNN_LIMITS`); in-place
    # chains make its per-layer dump ambiguous.
    Target("rknn", "Rockchip RKNN-Toolkit2 (Caffe front end): ReLU6, Permute, round_mode; no Clip, Swish, "
           "HardSwish, Interp or Silence", RKNN_LAYERS, JUDGES["rknn"], "rknn_toolkit2_caffe.proto",
           RULES + rknn_rules.RULES + (rules_powers.root_before_scale, rules_powers.elu_as_sigmoid,
                                        rules_powers.absval_as_max, rules_powers.gelu_exp_as_sigmoids,
                                        rules_constants.parameter_declined),
           (*RKNN_LIMITS, RKNN_LSTM), inplace=False, net_rules=(rules_constants.parameters_as_convolutions,),
           net_limits=(rknn_rules.GLOBAL_AVERAGE_PERMUTED,)),
    # OpenCV's own caffe.proto (opencv-caffe.proto) is not in the team corpus: OpenCV parses the files itself.
    Target("opencv", "OpenCV DNN 4.x readNetFromCaffe: ReLU6, Permute; no Clip or Swish",
           OPENCV_LAYERS, JUDGES["opencv"], None, RULES + opencv_rules.RULES +
           (rules_affine.shared_prelu_as_channels, rules_forms.eltwise_as_4d, rules_constants.parameter_declined),
           (POOLING_ALWAYS_CEIL, *OPENCV_LIMITS, opencv_rules.FAST_DEPTHWISE, OPENCV_LSTM),
           missing_fields=AFTER_CAFFE1, net_rules=(rules_constants.parameters_as_convolutions,),
           net_limits=(opencv_rules.FUSED_POWER,)),
    # tpu-mlir reads round_mode (its own caffe.proto, in the tpu_mlir wheel and not in the team corpus,
    # has it with ceil_mode); its front end stops at the first layer writing a net output blob, so
    # nothing may be in place on one: no in-place tops.
    Target("sophgo", "Sophgo tpu-mlir (BM1684X, BM1688, CV18xx) Caffe front end: ReLU6, Permute, Interp, "
           "round_mode; no Power, Bias, Clip, Swish, ELU, Tile or Split", SOPHGO_LAYERS, JUDGES["tpu-mlir"], None,
           NPU_RULES, SOPHGO_LIMITS, inplace=False,
           net_rules=(rules_constants.parameters_as_convolutions,), net_limits=(sophgo_rules.WEIGHT_NAMES,)),
    # MNN parses round_mode and ignores it (always ceil); its caffe.proto has no swish_param.
    Target("mnn", "Alibaba MNN (MNNConvert -f CAFFE): ReLU6, Permute, Interp; Pooling always ceil; no Clip, "
           "Swish, Tile or Flatten", MNN_LAYERS, JUDGES["mnn"], "mnn_caffe.proto", NPU_RULES, MNN_LIMITS,
           missing_fields=frozenset({"LayerParameter.swish_param"}),
           net_rules=(rules_constants.parameters_as_convolutions,), net_limits=(mnn_rules.READ_RESHAPED_ROWS,)),
)}


def get_target(name: str | Target) -> Target:
    if isinstance(name, Target):
        return name
    try:
        return TARGETS[name]
    except KeyError:
        raise PurecaffeError(f"unknown target {name!r} (known: {', '.join(TARGETS)})") from None


__all__ = ["TARGETS", "Target", "get_target"]
