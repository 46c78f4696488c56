"""What each Caffe parameter blob is: its role, its filler, and where it comes from in PyTorch.

This is the one module of `purecaffe.manual` that reads LayerParameter fields.
One function per Caffe layer type (aliases for forks that reuse a type's
parameters) returns one `BlobLayout` per parameter blob, in Caffe's blob order.
The Caffe weight layouts themselves are documented once, in `purecaffe.io.blob_layouts`.

A BatchNorm followed by a Scale (the Scale's bottom is the BatchNorm's top) is
one PyTorch BatchNorm: the pairing is done in `purecaffe.manual.units`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from google.protobuf.message import Message

from purecaffe.manual.fillers import FillerSpec
from purecaffe.tables import frozen_table

# How checkpoint tensors become a Caffe blob.
AS_IS = "as_is"              # the one tensor, reshaped only if just size-1 axes differ
TRANSPOSE = "transpose"      # the one 2-D tensor, transposed
LSTM_GATES = "lstm_gates"    # the one tensor, 4 gate blocks on axis 0 reordered i,f,g,o -> i,f,o,g
SUM = "sum"                  # the tensors added (RNN's two biases)
SUM_LSTM_GATES = "sum_lstm_gates"  # the tensors added, then gates reordered (LSTM's two biases)
ONE = "one"                  # no tensor: all ones (BatchNorm's scale factor)
TRANSFORMS = (AS_IS, TRANSPOSE, LSTM_GATES, SUM, SUM_LSTM_GATES, ONE)

ZERO = FillerSpec("constant", value=0.0)


@dataclass(frozen=True)
class BlobLayout:
    """One parameter blob of a Caffe layer."""

    role: str                    # e.g. "weight", "bias", "mean", "W_xc"
    filler: FillerSpec | None    # what Caffe fills it with at set-up (None: unknown layer type)
    torch: tuple[str, ...] = ()  # state_dict key suffixes it is made from ("" = the prefix itself)
    transform: str = AS_IS


LayoutFunction = Callable[[Message, int], tuple[BlobLayout, ...]]


def known_layer_types() -> tuple[str, ...]:
    return tuple(sorted(LAYOUTS))


def blob_layouts(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    """The `n_blobs` parameter blobs of `layer` (count from shape inference), in Caffe's order.

    A layer type this module does not know gets generic roles `blob0`, `blob1`, ...
    with no filler and no PyTorch source: `fill` needs a mapping for it and
    `init` refuses it.
    """
    function = LAYOUTS.get(layer.type)
    layouts = function(layer, n_blobs) if function is not None else ()
    if len(layouts) != n_blobs:
        # Unknown type, or shape inference allocated a different number of blobs than
        # this table expects: keep what we know by position, make the rest generic.
        layouts = tuple(layouts[:n_blobs]) + tuple(BlobLayout(f"blob{i}", None)
                                                    for i in range(len(layouts), n_blobs))
    return layouts


def param_share_names(layer: Message) -> tuple[str, ...]:
    """The `param { name: ... }` of each blob ('' where unnamed): named params are shared by name."""
    return tuple(spec.name for spec in layer.param)


def filler_or(message: Message, field: str, default: FillerSpec) -> FillerSpec:
    """The FillerParameter `field` of `message` if the prototxt sets it, else `default`."""
    return FillerSpec.from_proto(getattr(message, field)) if message.HasField(field) else default


def layout_convolution(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.convolution_param
    weight = BlobLayout("weight", FillerSpec.from_proto(param.weight_filler), ("weight",))
    if not param.bias_term:
        return (weight,)
    return weight, BlobLayout("bias", FillerSpec.from_proto(param.bias_filler), ("bias",))


def layout_inner_product(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.inner_product_param
    weight = BlobLayout("weight", FillerSpec.from_proto(param.weight_filler), ("weight",),
                        TRANSPOSE if param.transpose else AS_IS)
    if not param.bias_term:
        return (weight,)
    return weight, BlobLayout("bias", FillerSpec.from_proto(param.bias_filler), ("bias",))


def layout_embed(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.embed_param
    weight = BlobLayout("weight", FillerSpec.from_proto(param.weight_filler), ("weight",))
    if not param.bias_term:
        return (weight,)
    return weight, BlobLayout("bias", FillerSpec.from_proto(param.bias_filler), ("bias",))


def layout_batch_norm(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    # Caffe zero-fills all three; `fill` writes factor 1 so that mean/var are used as stored.
    return (BlobLayout("mean", ZERO, ("running_mean",)), BlobLayout("variance", ZERO, ("running_var",)),
            BlobLayout("factor", ZERO, (), ONE))


def layout_scale(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.scale_param
    layouts: list[BlobLayout] = []
    if len(layer.bottom) < 2:  # with two bottoms the scale is the second bottom, not a blob
        layouts.append(BlobLayout("scale", filler_or(param, "filler", FillerSpec("constant", value=1.0)),
                                  ("weight",)))
    if param.bias_term:
        layouts.append(BlobLayout("bias", FillerSpec.from_proto(param.bias_filler), ("bias",)))
    return tuple(layouts)


def layout_bias(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    if len(layer.bottom) >= 2:
        return ()
    return (BlobLayout("bias", FillerSpec.from_proto(layer.bias_param.filler), ("bias",)),)


def layout_prelu(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    return (BlobLayout("slope", filler_or(layer.prelu_param, "filler", FillerSpec("constant", value=0.25)),
                       ("weight",)),)


def layout_normalize(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    return (BlobLayout("scale", filler_or(layer.norm_param, "scale_filler", FillerSpec("constant", value=1.0)),
                       ("weight",)),)


def layout_parameter(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    # ParameterLayer reshapes a fresh blob without a filler: Caffe's memory starts zeroed.
    return (BlobLayout("param", ZERO, ("",)),)


def layout_lstm(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.recurrent_param
    weight = FillerSpec.from_proto(param.weight_filler)
    bias = FillerSpec.from_proto(param.bias_filler)
    layouts = [BlobLayout("W_xc", weight, ("weight_ih_l0",), LSTM_GATES),
               BlobLayout("b_c", bias, ("bias_ih_l0", "bias_hh_l0"), SUM_LSTM_GATES)]
    if n_blobs == 4:  # a third bottom x_static adds W_xc_static (no PyTorch counterpart)
        layouts.append(BlobLayout("W_xc_static", weight))
    layouts.append(BlobLayout("W_hc", weight, ("weight_hh_l0",), LSTM_GATES))
    return tuple(layouts)


def layout_rnn(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    param = layer.recurrent_param
    weight = FillerSpec.from_proto(param.weight_filler)
    bias = FillerSpec.from_proto(param.bias_filler)
    layouts = [BlobLayout("W_xh", weight, ("weight_ih_l0",)),
               BlobLayout("b_h", bias, ("bias_ih_l0", "bias_hh_l0"), SUM)]
    if n_blobs == 6:
        layouts.append(BlobLayout("W_xh_static", weight))
    layouts += [BlobLayout("W_hh", weight, ("weight_hh_l0",)), BlobLayout("W_ho", weight),
                BlobLayout("b_o", bias)]
    return tuple(layouts)


def layout_bn_fork(layer: Message, n_blobs: int) -> tuple[BlobLayout, ...]:
    # PSPNet/DeepLab-fork fused BN.  Forks disagree on the variance's initial value (0 or 1);
    # 1 is used so that a freshly initialised net does not divide by sqrt(eps).
    param = layer.bn_param
    return (BlobLayout("slope", FillerSpec.from_proto(param.slope_filler), ("weight",)),
            BlobLayout("bias", FillerSpec.from_proto(param.bias_filler), ("bias",)),
            BlobLayout("mean", ZERO, ("running_mean",)),
            BlobLayout("variance", FillerSpec("constant", value=1.0), ("running_var",)))[:n_blobs]


# Layer type(s) -> the function giving its parameter blobs; fork aliases share a function.
LAYOUT_KINDS: tuple[tuple[tuple[str, ...], LayoutFunction], ...] = (
    (("Convolution", "Deconvolution", "DepthwiseConvolution", "ConvolutionDepthwise"), layout_convolution),
    (("InnerProduct",), layout_inner_product),
    (("Embed",), layout_embed),
    (("BatchNorm",), layout_batch_norm),
    (("Scale",), layout_scale),
    (("Bias",), layout_bias),
    (("PReLU",), layout_prelu),
    (("Normalize",), layout_normalize),
    (("Parameter",), layout_parameter),
    (("LSTM",), layout_lstm),
    (("RNN",), layout_rnn),
    (("BN",), layout_bn_fork),
)
LAYOUTS: Mapping[str, LayoutFunction] = frozen_table(
    ((layer_type, function) for types, function in LAYOUT_KINDS for layer_type in types), what="layout for layer type")
