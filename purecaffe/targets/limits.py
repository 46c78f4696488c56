"""Limits: what a target refuses or reads differently in layer types it has, as data.

Each `Limit` is one predicate (`allows`) with its reason and source; the catalog lists
a target's limits, `Target.allows` applies them, the rules rewrite what they refuse
and `checks` reports what is still refused.  Facts: the team's dialect notes
and the measurements quoted; each limit's `source` names what a user can check (a public
schema, a vendor's guide, or the consumer run that measured it).
"""
from __future__ import annotations

import math

from purecaffe.canonical import CaffeLayer
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import ANY_TYPE, Limit

CAFFE1_PROTO = "Caffe 1.0's caffe.proto (BVLC tag 1.0; PoolingParameter.round_mode came later, BVLC/caffe#6320)"
RKNN_MEASURED = "measured with RKNN-Toolkit2 2.5.0's load_caffe and its simulator"
LAYER_SET = "the target's layer set (`purecaffe targets`)"
NNIE_SOURCE = "HiSVP NNIE guide (Caffe layer constraints) as quoted by users"


def _floor_free(layer: CaffeLayer) -> bool:
    return layer.params.get("round_mode", "CEIL") != "FLOOR"


# Caffe 1.0 and the forks built on it (caffe1, nnie, opencv): Pooling has no round_mode.
POOLING_ALWAYS_CEIL = Limit(
    frozenset({"Pooling"}), "pooling-round-mode", _floor_free,
    "{target}'s Pooling has no round_mode: it always rounds up (ceil), so FLOOR would be read as CEIL",
    CAFFE1_PROTO)


def _flatten_to_end(layer: CaffeLayer) -> bool:
    return int(layer.params.get("end_axis", -1)) == -1 and int(layer.params.get("axis", 1)) == 1


def _channel_parameters(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) != 1 or (int(layer.params["axis"]) == 1 and int(layer.params["num_axes"]) == 1)


def _reduces_chw(layer: CaffeLayer) -> bool:
    return not layer.bottoms or (len(layer.bottoms[0].shape) == 4 and canonical_axis(int(layer.params["axis"]), 4) == 1)


# RKNN-Toolkit2 2.5 (measured with its own loader and simulator).
RKNN_FLATTEN_TO_END = Limit(
    frozenset({"Flatten"}), "flatten-end-axis", _flatten_to_end,
    "{target} reads Flatten as ONNX's, always 2-D: it ignores end_axis (measured: (1, 105) for (1, 35, 3)) and "
    "merges the axes before `axis` (measured: (8, 60) for (1, 8, 6, 10) from axis 2)", RKNN_MEASURED)
RKNN_CHANNEL_PARAMETERS = Limit(
    frozenset({"Scale", "Bias"}), "channel-parameters-only", _channel_parameters,
    "{target} takes {type} parameters over the channel axis only (measured: it refuses a per-position blob)",
    RKNN_MEASURED)
RKNN_REDUCTION_OVER_CHW = Limit(
    frozenset({"Reduction"}), "reduction-over-chw", _reduces_chw,
    "{target} reduces only C, H, W of a 4-D blob (axis 1); measured: other Reductions fail to build",
    RKNN_MEASURED)


# Placements of a two-bottom Scale's factor f (`scale_factor_placement`).  RKNN-Toolkit2 2.5 ignores
# Scale's `axis` (measured, rules_broadcast's table): it reads right only these three.
BATCH_CHANNEL = "batch-channel"   # (N, C) at axis 0 of a 4-D blob: an SE gate
LAST_AXIS = "last-axis"           # a 1-D factor on the last axis
SINGLE = "single"                 # one element: shape () or (1,)
OTHER = "other"
RKNN_PLACEMENTS = frozenset({BATCH_CHANNEL, LAST_AXIS, SINGLE})


def scale_factor_placement(layer: CaffeLayer) -> str:
    """Where a two-bottom Scale/Bias puts its factor, in the terms RKNN reads it by."""
    x, factor = layer.bottoms[0], layer.bottoms[1]
    rank = len(x.shape)
    axis = canonical_axis(int(layer.params["axis"]), rank) if rank else 0
    if factor.shape in ((), (1,)):
        return SINGLE
    if len(factor.shape) == 1 and axis == rank - 1:
        return LAST_AXIS
    if rank == 4 and axis == 0 and len(factor.shape) == 2:
        return BATCH_CHANNEL
    return OTHER


def _factor_read_right(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) != 2 or scale_factor_placement(layer) in RKNN_PLACEMENTS


RKNN_SCALE_FACTOR_PLACEMENT = Limit(
    frozenset({"Scale"}), "scale-factor-placement", _factor_read_right,
    "{target} ignores a second bottom's axis and reads only SE-style (N, C) at axis 0, a 1-D factor on the last "
    "axis or one element right (measured: \"Incompatible dimensions\", or the product along another axis), not "
    "this factor of {bottom}", "measured: RKNN-Toolkit2 2.5 simulator (purecaffe.targets.rules_broadcast)")


def _lrn_across_plain(layer: CaffeLayer) -> bool:
    return layer.params["norm_region"] == "ACROSS_CHANNELS" and float(layer.params["k"]) == 1.0


def _argmax_of_channels(layer: CaffeLayer) -> bool:
    axis, rank = layer.params["axis"], len(layer.bottoms[0].shape) if layer.bottoms else 4
    return axis is not None and canonical_axis(int(axis), rank) == 1 and int(layer.params["top_k"]) == 1 and \
        not layer.params["out_max_val"]


# Measured with RKNN-Toolkit2 2.5's simulator against the runtime (1x6x5x7 input): LRN with k = 2 is
# off by 0.32 x max|ref| (k is read as 1), WITHIN_CHANNEL by 0.48; ArgMax with out_max_val by 0.81,
# with top_k 2 or without an axis it gives another shape.
RKNN_LRN = Limit(
    frozenset({"LRN"}), "lrn-across-k1", _lrn_across_plain,
    "{target} reads LRN right only ACROSS_CHANNELS with k = 1 (measured: k is read as 1, WITHIN_CHANNEL "
    "is computed otherwise)", "measured: RKNN-Toolkit2 2.5 simulator")
RKNN_ARGMAX = Limit(
    frozenset({"ArgMax"}), "argmax-of-channels", _argmax_of_channels,
    "{target} reads ArgMax right only as the index of the channel maximum (axis 1, top_k 1, no out_max_val; "
    "measured)", "measured: RKNN-Toolkit2 2.5 simulator")


def _sign_coefficients(layer: CaffeLayer) -> bool:
    return layer.params["operation"] != "SUM" or all(float(c) in (1.0, -1.0) for c in layer.params["coeff"])


def _two_bottoms(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) <= 2


# Measured with RKNN-Toolkit2 2.5's simulator (1x3x5x7 input): Eltwise SUM x + 0.3 y at cosine 0.82,
# x - 0.3 y at 0.03, x + 2 y at 0.98 (x - y right); an Eltwise SUM of three bottoms fails to build (an
# ONNX Add with three inputs: onnxruntime INVALID_GRAPH).  `rules.eltwise_coeff_as_power` and
# `rules.eltwise_as_pairs` rewrite both.
RKNN_ELTWISE_SIGNS = Limit(
    frozenset({"Eltwise"}), "eltwise-sign-coefficients", _sign_coefficients,
    "{target} reads Eltwise SUM coefficients only as +1/-1 (measured: x + 0.3 y at cosine 0.82)",
    "measured: RKNN-Toolkit2 2.5 simulator")
RKNN_ELTWISE_PAIRS = Limit(
    frozenset({"Eltwise"}), "eltwise-two-bottoms", _two_bottoms,
    "{target} builds Eltwise of two bottoms only (measured: three fail to build)",
    "measured: RKNN-Toolkit2 2.5 simulator")
RKNN_LIMITS = (RKNN_FLATTEN_TO_END, RKNN_CHANNEL_PARAMETERS, RKNN_REDUCTION_OVER_CHW, RKNN_SCALE_FACTOR_PLACEMENT,
               RKNN_LRN, RKNN_ARGMAX, RKNN_ELTWISE_SIGNS, RKNN_ELTWISE_PAIRS)


def _lrn_k_read(layer: CaffeLayer) -> bool:
    return layer.params["norm_region"] == "WITHIN_CHANNEL" or float(layer.params["k"]) == 1.0


def _plain_log(layer: CaffeLayer) -> bool:
    return (float(layer.params["base"]), float(layer.params["scale"]), float(layer.params["shift"])) == \
        (-1.0, 1.0, 0.0)


def _mvn_default_eps(layer: CaffeLayer) -> bool:
    return not layer.params["normalize_variance"] or float(layer.params["eps"]) <= 1e-9


SHARED_SLOPE = "prelu-shared"


def _per_channel_slope(layer: CaffeLayer) -> bool:
    return not layer.params["channel_shared"]


OPENCV_MEASURED = "measured: OpenCV 4.14 CPU backend"
ELTWISE_RANK = "eltwise-rank"
OPENCV_ELTWISE_AXES = 5  # EltwiseInvoker asserts 1 < dims <= 5
# Measured with OpenCV 4.14's CPU backend against the runtime (1x6x5x7 input): ACROSS_CHANNELS LRN with
# k = 2 is off by 0.32 x max|ref| (it reads k as 1; WITHIN_CHANNEL, where Caffe does not use k, is right);
# Log with base 2, scale 0.5 or shift 0.1 by 0.23-0.42 (it computes ln x); MVN with eps 0.1 by 0.045
# (it adds eps elsewhere than Caffe's sqrt(var) + eps; Caffe's default 1e-9 is below float32 rounding).
OPENCV_LIMITS = (
    Limit(frozenset({"Scale"}), "channel-parameters-only", _channel_parameters,
          "{target} fuses a Scale into the Convolution/Deconvolution before it one parameter per output channel "
          "(measured: a per-position Scale after a Deconvolution fails forward() with default fusion: "
          "'w.empty() || numOutput == w.total()' in fuseWeights)", OPENCV_MEASURED),
    Limit(frozenset({"LRN"}), "lrn-k1", _lrn_k_read,
          "{target} reads LRN's k as 1 (measured: off by 0.32 with k = 2)", OPENCV_MEASURED),
    Limit(frozenset({"Log"}), "plain-log", _plain_log,
          "{target} computes ln(x): Log's base, scale and shift are not read (measured)", OPENCV_MEASURED),
    Limit(frozenset({"MVN"}), "mvn-eps", _mvn_default_eps,
          "{target} adds MVN's eps elsewhere than Caffe (measured: off by 0.045 with eps 0.1)", OPENCV_MEASURED),
    Limit(frozenset({"PReLU"}), SHARED_SLOPE, _per_channel_slope,
          "{target} cannot read a 0-D blob, a shared PReLU slope's (measured: readNetFromCaffe asserts "
          "'0 <= d && d <= CV_MAX_DIM' in Mat::create; pytorchcv's ENet)", OPENCV_MEASURED),
    Limit(frozenset({"Eltwise"}), ELTWISE_RANK, lambda layer: len(layer.top.shape) <= OPENCV_ELTWISE_AXES,
          "{target}'s Eltwise runs blobs of at most 5 axes (this one: {bottom}; measured: forward() asserts "
          "'1 < dst.dims && dst.dims <= 5' in EltwiseInvoker; spandrel's OmniSR)", OPENCV_MEASURED),
)

# NNIE: "Power exponent in {-3, -2, -1, -1/2, 1/2, 1, 2, 3}" (and 1, the plain affine form).
NNIE_POWERS = frozenset({-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0})
NNIE_MAX_KERNEL_PAD = 255
NNIE_MAX_GROUP = 2048
NNIE_MAX_WIDTH = 4096
# Layers whose `axis` parameter selects the axis they work along.
AXIS_LAYERS = frozenset({"Concat", "Slice", "Softmax", "InnerProduct", "Flatten", "Reduction", "Tile", "Crop"})


def _kernel_pad(layer: CaffeLayer) -> bool:
    return all(v <= NNIE_MAX_KERNEL_PAD for key in ("kernel", "pad") for v in (layer.params.get(key) or ()))


def _group(layer: CaffeLayer) -> bool:
    return int(layer.params.get("group", 1)) <= NNIE_MAX_GROUP


def _power(layer: CaffeLayer) -> bool:
    return float(layer.params["power"]) in NNIE_POWERS


def _nhwc_permute(layer: CaffeLayer) -> bool:
    return tuple(int(o) for o in layer.params["order"]) == (0, 2, 3, 1)


def _off_batch_axis(layer: CaffeLayer) -> bool:
    rank = len(layer.bottoms[0].shape) if layer.bottoms else 0
    return not rank or canonical_axis(int(layer.params.get("axis", 1)), rank) != 0


def _keeps_batch(layer: CaffeLayer) -> bool:
    if not (layer.bottoms and layer.tops):
        return True
    if layer.tops[0].shape[:1] != layer.bottoms[0].shape[:1]:
        return False
    shape = layer.params["shape"]
    return int(layer.params["axis"]) != 0 or bool(shape) and int(shape[0]) == 0


def _narrow(layer: CaffeLayer) -> bool:
    return all(len(top.shape) != 4 or top.shape[3] <= NNIE_MAX_WIDTH for top in layer.tops)


NNIE_PERMUTE_NHWC = Limit(
    frozenset({"Permute"}), "nnie-permute", _nhwc_permute,
    "Permute order {params[order]}; NNIE takes (0, 2, 3, 1) only", NNIE_SOURCE)
NNIE_LIMITS = (
    Limit(frozenset({"Convolution", "Deconvolution", "Pooling"}), "nnie-kernel-pad", _kernel_pad,
          f"kernel {{params[kernel]}} / pad {{params[pad]}} beyond 1..{NNIE_MAX_KERNEL_PAD}", NNIE_SOURCE),
    Limit(frozenset({"Convolution", "Deconvolution"}), "nnie-group", _group,
          f"group {{params[group]}} > {NNIE_MAX_GROUP}", NNIE_SOURCE),
    Limit(frozenset({"Power"}), "nnie-power", _power,
          "Power exponent {params[power]} not in {{-3, -2, -1, -1/2, 1/2, 1, 2, 3}}", NNIE_SOURCE),
    NNIE_PERMUTE_NHWC,
    Limit(AXIS_LAYERS, "nnie-batch-axis", _off_batch_axis,
          "works along the batch axis (axis {params[axis]}); NNIE does nothing on the batch axis", NNIE_SOURCE),
    Limit(frozenset({"Reshape"}), "nnie-reshape", _keeps_batch,
          "Reshape {bottom} -> {top} touches the batch axis; NNIE reshapes only C/H/W (keep the batch as dim 0)",
          NNIE_SOURCE),
    Limit(frozenset({ANY_TYPE}), "nnie-width", _narrow,
          f"a feature map wider than {NNIE_MAX_WIDTH} (tops {{tops}})", NNIE_SOURCE),
)

# tpu-mlir 1.30.2 (sophgo) and MNN 3.6.1 (mnn), measured on their judges (README: "tpu-mlir judge", "MNN
# judge"); their rules are `rules_affine` and `rules_forms`.
TPU_MLIR_MEASURED = "measured: tpu-mlir 1.30.2's Caffe front end and top-level fp32 interpreter"
MNN_MEASURED = "measured: MNN 3.6.1's MNNConvert and CPU runtime"


def _no_coeff(layer: CaffeLayer) -> bool:
    return layer.params["operation"] != "SUM" or not tuple(layer.params["coeff"])


def _no_coeff_or_difference(layer: CaffeLayer) -> bool:
    return _no_coeff(layer) or tuple(float(c) for c in layer.params["coeff"]) == (1.0, -1.0)


def _one_bottom(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) == 1


def _one_bottom_or_from_batch(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) == 1 or canonical_axis(int(layer.params["axis"]), len(layer.bottoms[0].shape)) == 0


def _channel_parameters_npu(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) != 1 or (int(layer.params["axis"]) == 1 and int(layer.params["num_axes"]) == 1)


def _scale_rank_2_or_4(layer: CaffeLayer) -> bool:
    return len(layer.bottoms[0].shape) in (2, 4)  # two bottoms too (measured: a 3-D x times a (1, 4) factor)


def inner_product_from_axis_1(layer: CaffeLayer) -> bool:
    """tpu-mlir reads an InnerProduct from axis 1 over K > 1 only (a K = 1 MatMul fails its shape inference)."""
    shape = layer.bottoms[0].shape
    return canonical_axis(int(layer.params["axis"]), len(shape)) == 1 and math.prod(shape[1:]) > 1


def clipped_ave_window(layer: CaffeLayer) -> bool:
    """An AVE Pooling whose last window along H or W runs past H + pad (Caffe then divides by less)."""
    params = layer.params
    if params["pool"] != "AVE" or params.get("global_pooling") or not layer.bottoms:
        return False
    size_in, size_out = layer.bottoms[0].shape[2:], layer.top.shape[2:]
    return any((out - 1) * stride - pad + kernel > size + pad for size, out, kernel, stride, pad in
               zip(size_in, size_out, params["kernel"], params["stride"], params["pad"]))


def _ave_window_inside(layer: CaffeLayer) -> bool:
    return not clipped_ave_window(layer)


def read_as_global(layer: CaffeLayer) -> bool:
    """tpu-mlir takes a Pooling whose kernel equals the input's H x W for a global one (its pads and stride
    dropped), which is right only when Caffe's output is 1 x 1 too."""
    params = layer.params
    if params.get("global_pooling") or not layer.bottoms or params["kernel"] is None:
        return False
    return tuple(params["kernel"]) == tuple(layer.bottoms[0].shape[2:]) and tuple(layer.top.shape[2:]) != (1, 1)


def _not_read_as_global(layer: CaffeLayer) -> bool:
    return not read_as_global(layer)


def _square_dilation(layer: CaffeLayer) -> bool:
    return len(set(layer.params["dilation"])) <= 1


def _one_output_per_group(layer: CaffeLayer) -> bool:
    return int(layer.params["group"]) in (1, int(layer.params["num_output"]))


def _plain_reduction(layer: CaffeLayer) -> bool:
    return float(layer.params["coeff"]) == 1.0


def _reduces_4d_at_most(layer: CaffeLayer) -> bool:
    return not layer.bottoms or len(layer.bottoms[0].shape) <= 4


def _slice_points(layer: CaffeLayer) -> bool:
    return len(layer.tops) == 1 or bool(tuple(layer.params["slice_point"]))


NPU_CHANNEL_PARAMETERS = "channel-parameters-only"
SLICE_POINTS = "slice-points"
POOLING_AS_GLOBAL = "pooling-as-global"
ELTWISE_COEFF = "eltwise-coeff"
BROADCAST = "broadcast"
SCALE_RANK = "scale-rank"
INNER_PRODUCT_AXIS = "inner-product-axis"
DILATION_PAIR = "dilation-pair"
DECONVOLUTION_GROUPS = "deconvolution-groups"
REDUCTION_COEFF = "reduction-coeff"
REDUCTION_RANK = "reduction-rank"


def _dilation_limit(source: str) -> Limit:
    return Limit(frozenset({"Convolution", "Deconvolution"}), DILATION_PAIR, _square_dilation,
                 "{target} reads a two-valued dilation {params[dilation]} as [W, H] (Caffe has no "
                 "dilation_h/dilation_w to spell it otherwise)", source)


def _channel_limit(source: str) -> Limit:
    return Limit(frozenset({"Scale"}), NPU_CHANNEL_PARAMETERS, _channel_parameters_npu,
                 "{target} reads Scale parameters per channel only (measured: wrong over other axes)", source)


def _two_bottoms_unless_sum(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) <= 2 or layer.params["operation"] == "SUM"


SOPHGO_LIMITS = (
    Limit(frozenset({"Eltwise"}), "eltwise-two-bottoms", _two_bottoms_unless_sum,
          "{target} multiplies only the first two bottoms of an Eltwise {params[operation]} (measured: an exact "
          "GELU's tail |x| t e^y came out |x| t); `rules.eltwise_as_pairs` chains them", TPU_MLIR_MEASURED),
    Limit(frozenset({"Eltwise"}), ELTWISE_COEFF, _no_coeff,
          "{target} ignores Eltwise coefficients {params[coeff]} (measured: it adds the bottoms)", TPU_MLIR_MEASURED),
    Limit(frozenset({"Scale"}), BROADCAST, _one_bottom_or_from_batch,
          "{target} broadcasts a second Scale bottom right only from axis 0 (it pads its shape with trailing 1s)",
          TPU_MLIR_MEASURED),
    _channel_limit(TPU_MLIR_MEASURED),
    Limit(frozenset({"Scale"}), SCALE_RANK, _scale_rank_2_or_4,
          "{target} scales only 2-D and 4-D blobs (this one: {bottom}; its front end asserts)", TPU_MLIR_MEASURED),
    Limit(frozenset({"InnerProduct"}), INNER_PRODUCT_AXIS, inner_product_from_axis_1,
          "{target} reads InnerProduct from axis 1 over more than one input only (this one: axis {params[axis]} "
          "of {bottom})", TPU_MLIR_MEASURED),
    Limit(frozenset({"PReLU"}), SHARED_SLOPE, _per_channel_slope,
          "{target} takes one PReLU slope per channel only (a shared one asserts)", TPU_MLIR_MEASURED),
    Limit(frozenset({"Pooling"}), "ave-pooling-window", _ave_window_inside,
          "{target} divides AVE Pooling by the whole window, Caffe by the part before H + pad: its last window "
          "runs past the padded edge (ceil rounding); pool with floor rounding or without the overhang",
          TPU_MLIR_MEASURED),
    Limit(frozenset({"Pooling"}), POOLING_AS_GLOBAL, _not_read_as_global,
          "{target} reads a Pooling whose kernel {params[kernel]} equals its input {bottom} as global (pads "
          "and stride dropped: a 1 x 1 output where Caffe gives {top}; measured on YOLOv8's SPPF at 160 x 160)",
          TPU_MLIR_MEASURED),
    _dilation_limit(TPU_MLIR_MEASURED),
    Limit(frozenset({"Deconvolution"}), DECONVOLUTION_GROUPS, _one_output_per_group,
          "{target} reads a grouped Deconvolution's weights right only with one output per group (it permutes "
          "them as for one group)", TPU_MLIR_MEASURED),
)
MNN_LIMITS = (
    POOLING_ALWAYS_CEIL,
    Limit(frozenset({"Eltwise"}), ELTWISE_COEFF, _no_coeff_or_difference,
          "{target} reads no Eltwise coefficients but (1, -1) (measured: {params[coeff]} wrong; an explicit "
          "(1, 1) 2.3 x scale off)", MNN_MEASURED),
    Limit(frozenset({"Scale"}), BROADCAST, _one_bottom,
          "{target}'s converter takes Scale's gamma from its blobs only (a second bottom aborts it)", MNN_MEASURED),
    _channel_limit(MNN_MEASURED),
    Limit(frozenset({"Reduction"}), REDUCTION_COEFF, _plain_reduction,
          "{target} drops Reduction's coeff ({params[coeff]})", MNN_MEASURED),
    Limit(frozenset({"Reduction"}), REDUCTION_RANK, _reduces_4d_at_most,
          "{target} reduces blobs of at most 4 axes (this one: {bottom}: an empty result)", MNN_MEASURED),
    _dilation_limit(MNN_MEASURED),
    Limit(frozenset({"Slice"}), SLICE_POINTS, _slice_points,
          "{target}'s runtime crashes on a Slice into equal parts without slice_point (measured: exit -11)",
          MNN_MEASURED),
)

__all__ = ["AXIS_LAYERS", "BATCH_CHANNEL", "BROADCAST", "CAFFE1_PROTO", "DECONVOLUTION_GROUPS", "DILATION_PAIR",
           "ELTWISE_COEFF", "ELTWISE_RANK", "INNER_PRODUCT_AXIS", "LAST_AXIS", "LAYER_SET", "MNN_LIMITS", "NNIE_LIMITS",
           "NNIE_PERMUTE_NHWC", "NPU_CHANNEL_PARAMETERS", "OPENCV_LIMITS", "OTHER", "POOLING_ALWAYS_CEIL",
           "POOLING_AS_GLOBAL", "REDUCTION_COEFF", "REDUCTION_RANK", "RKNN_CHANNEL_PARAMETERS", "RKNN_ELTWISE_PAIRS",
           "RKNN_ELTWISE_SIGNS", "RKNN_FLATTEN_TO_END", "RKNN_LIMITS", "RKNN_MEASURED", "RKNN_PLACEMENTS",
           "RKNN_REDUCTION_OVER_CHW", "RKNN_SCALE_FACTOR_PLACEMENT", "SCALE_RANK", "SHARED_SLOPE", "SINGLE",
           "SLICE_POINTS", "SOPHGO_LIMITS", "clipped_ave_window", "inner_product_from_axis_1", "read_as_global",
           "scale_factor_placement"]
