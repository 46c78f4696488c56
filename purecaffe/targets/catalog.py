"""The targets: which Caffe each toolchain reads, as data.

Facts and their sources are in the team's dialect notes (shared/docs/dialects.md):
BVLC master as Debian ships it; the Caffe 1.0 release (no round_mode, Clip, Swish);
HiSilicon NNIE (Caffe 1.0 + extension layers + its limits); Rockchip RKNN-Toolkit2's
Caffe front end; OpenCV DNN 4.x.  A target is its layer set, whether its Pooling has
a round mode, its rules (`rules`), its limits (`checks`), its input declaration,
whether it takes Silence, and the real consumer that proves a file for it (its judge).
"""
from __future__ import annotations

from dataclasses import dataclass

from purecaffe.errors import PurecaffeError
from purecaffe.targets import rules
from purecaffe.targets.rules import Rule

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
# RKNN-Toolkit2 2.5's Caffe front end (the types it recognises, dialects.md section 5), less what
# it reads wrongly, measured with its own simulator: Clip and Swish are left out as identities
# ("OP ... Current not support!!!", load_caffe still returns 0); HardSwish becomes an ONNX node
# onnxruntime rejects; Silence is left out.
RKNN_LAYERS = frozenset({
    "Input", "ArgMax", "BNLL", "BatchNorm", "Concat", "Convolution", "Crop", "Deconvolution",
    "Dropout", "Eltwise", "Flatten", "InnerProduct", "LRN", "Normalize", "Permute", "Pooling",
    "Power", "PReLU", "ReLU", "ReLU6", "Reduction", "Reshape", "Scale", "Sigmoid", "Slice", "Softmax",
    "Split", "TanH", "Tile", "Upsample",
})
# OpenCV DNN 4.x readNetFromCaffe: stock layers plus ReLU6, Permute, Interp (align-corners arithmetic)
# and the SSD layers; no Clip or Swish.  Measured with OpenCV 4.14: it cannot create Reduction, Bias or
# Parameter layers, and its Tile wants another parameter than Caffe's `tiles`.
OPENCV_LAYERS = (BVLC_LAYERS - {"Clip", "Swish", "Embed", "LSTM", "RNN", "Threshold", "Reduction", "Parameter", "Bias",
                                "Tile"}) | {
    "ReLU6", "Permute", "Normalize", "PriorBox", "DetectionOutput", "Interp"}

# Fields BVLC master added after the 1.0 release (#6282 Clip, #6320 round_mode, #6002 Swish).
AFTER_CAFFE1 = frozenset({"PoolingParameter.round_mode", "LayerParameter.clip_param", "LayerParameter.swish_param"})

# The rules every target uses; each one applies only where its target lacks the layer.
COMMON_RULES: tuple[Rule, ...] = rules.RULES


@dataclass(frozen=True)
class Target:
    """One Caffe consumer."""

    name: str
    summary: str
    layers: frozenset[str]
    pooling_round_mode: bool              # PoolingParameter.round_mode (CEIL/FLOOR) is read
    judge: str                            # the real consumer that proves a file for this target
    schema: str                           # the toolchain's own caffe.proto (file name in the team corpus)
    rules: tuple[Rule, ...] = COMMON_RULES
    declare_inputs: str = "layer"         # "layer": Input layers; "field": net `input:` + `input_shape`
    silence: bool = True                  # has a Silence layer to end unused tops
    nnie_limits: bool = False             # NNIE's limits (checks.nnie_findings)
    inplace: bool = True                  # makes safe element-wise layers in-place
    flatten_end_axis: bool = True         # reads Flatten's end_axis (else: Reshape)
    scale_over_channels_only: bool = False  # Scale/Bias parameters only over the channel axis
    reduction_over_chw_only: bool = False   # Reduction only of a 4-D blob from axis 1
    # "Message.field" names a hand-written prototxt may set that this target's schema lacks
    # (its parser aborts on them: prototxt is read by field name).
    missing_fields: frozenset[str] = frozenset()

    def has(self, layer_type: str) -> bool:
        return layer_type in self.layers


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("bvlc", "stock BVLC Caffe (Debian python3-caffe, BVLC master): round_mode, Clip, Swish",
           BVLC_LAYERS, True, "real Caffe (Debian rootfs or container)", "bvlc_reference_caffe.proto"),
    Target("caffe1", "the Caffe 1.0 release (2017): no round_mode, Clip or Swish; Ambarella CVflow, "
           "Xilinx DPU and other 'standard Caffe' toolchains",
           CAFFE1_LAYERS, False, "real Caffe + the Caffe 1.0 schema", "bvlc_caffe_1.0_caffe.proto",
           missing_fields=AFTER_CAFFE1),
    Target("nnie", "HiSilicon NNIE (nnie_mapper): Caffe 1.0 + Upsample/Permute/Normalize, its limits",
           NNIE_LAYERS, False, "NNIE rule check + runtime (no public mapper)", "bvlc_caffe_1.0_caffe.proto",
           declare_inputs="field", nnie_limits=True, missing_fields=AFTER_CAFFE1),
    # RKNN reads round_mode by field name (its number differs, the prototxt is read by name; floor MAX
    # and AVE pooling measured right); it ignores Flatten's end_axis (measured: (1, 105) for
    # (1, 35, 3)); it refuses a per-position Scale; its Reduction is right over C, H, W of a 4-D blob
    # (LPRNet: parity OK) and fails to build elsewhere (a 3-D blob; axis 3); in-place chains make its
    # per-layer dump ambiguous.
    Target("rknn", "Rockchip RKNN-Toolkit2 (Caffe front end): ReLU6, Permute, round_mode; no Clip, Swish, "
           "HardSwish, Interp or Silence", RKNN_LAYERS, True, "RKNN-Toolkit2 load_caffe + fp16 simulator",
           "rknn_toolkit2_caffe.proto", silence=False, inplace=False, flatten_end_axis=False,
           scale_over_channels_only=True, reduction_over_chw_only=True),
    Target("opencv", "OpenCV DNN 4.x readNetFromCaffe: ReLU6, Permute; no Clip or Swish",
           OPENCV_LAYERS, False, "OpenCV DNN 4.x", "bvlc_reference_caffe.proto",
           missing_fields=AFTER_CAFFE1),
)}


def get_target(name: str | Target) -> Target:
    if isinstance(name, Target):
        return name
    try:
        return TARGETS[name]
    except KeyError:
        raise PurecaffeError(f"unknown target {name!r} (known: {', '.join(TARGETS)})") from None


__all__ = ["TARGETS", "Target", "get_target"]
