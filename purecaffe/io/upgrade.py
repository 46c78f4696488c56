"""Upgrade V1 nets (`layers { type: CONVOLUTION }`) to V2 (`layer { type: "Convolution" }`).

Follows what Caffe's own `UpgradeV1Net` does: the enum type becomes its string
name, `blobs_lr` / `weight_decay` / `param` / `blob_share_mode` become `param {}`
entries, and every `*_param` message is carried over unchanged (the V1 and V2
messages share those types).
"""
from __future__ import annotations

from google.protobuf.message import Message

from purecaffe.errors import FormatError

V1_TYPE_NAMES: dict[str, str] = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN", "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

# V1 fields handled one by one; every other set field must be a `*_param`
# message that LayerParameter has under the same name.
_SPECIAL_V1_FIELDS = {"name", "type", "bottom", "top", "include", "exclude", "blobs", "param",
                      "blob_share_mode", "blobs_lr", "weight_decay", "loss_weight", "layer"}


def v1_type_name(enum_name: str) -> str:
    """The V2 type string of a V1 `LayerType` enum name (e.g. INNER_PRODUCT -> InnerProduct)."""
    try:
        return V1_TYPE_NAMES[enum_name]
    except KeyError:
        raise FormatError(f"unknown V1 layer type {enum_name}") from None


def net_is_v1(net: Message) -> bool:
    return len(net.layers) > 0


def upgrade_v1_net(net: Message, *, path: str | None = None) -> Message:
    """Return a V2 copy of `net` if it uses V1 `layers`, else `net` itself."""
    if not net_is_v1(net):
        return net
    if len(net.layer) > 0:
        raise FormatError("net has both V2 'layer' and V1 'layers' entries; Caffe refuses to upgrade it",
                          path=path)
    upgraded = type(net)()
    upgraded.CopyFrom(net)
    upgraded.ClearField("layers")
    for index, v1_layer in enumerate(net.layers):
        upgrade_v1_layer(v1_layer, upgraded.layer.add(), place=f"layers[{index}]", path=path)
    return upgraded


def upgrade_v1_layer(v1_layer: Message, layer: Message, *, place: str = "", path: str | None = None) -> None:
    """Fill V2 `layer` from `v1_layer` the way Caffe's UpgradeV1LayerParameter does."""
    if v1_layer.HasField("layer"):
        raise FormatError("V0 layer definitions (layers { layer { ... } }) are not supported; "
                          "upgrade the file with Caffe's upgrade_net_proto_text first", path=path, place=place)
    layer.bottom.extend(v1_layer.bottom)
    layer.top.extend(v1_layer.top)
    if v1_layer.HasField("name"):
        layer.name = v1_layer.name
    for rule in v1_layer.include:
        layer.include.add().CopyFrom(rule)
    for rule in v1_layer.exclude:
        layer.exclude.add().CopyFrom(rule)
    if v1_layer.HasField("type"):
        enum = v1_layer.DESCRIPTOR.fields_by_name["type"].enum_type
        layer.type = v1_type_name(enum.values_by_number[v1_layer.type].name)
    for blob in v1_layer.blobs:
        layer.blobs.add().CopyFrom(blob)

    def param(i: int) -> Message:
        while len(layer.param) <= i:
            layer.param.add()
        return layer.param[i]

    for i, name in enumerate(v1_layer.param):
        param(i).name = name
    for i, mode in enumerate(v1_layer.blob_share_mode):
        param(i).share_mode = mode  # STRICT=0 / PERMISSIVE=1 in both enums
    for i, lr in enumerate(v1_layer.blobs_lr):
        param(i).lr_mult = lr
    for i, decay in enumerate(v1_layer.weight_decay):
        param(i).decay_mult = decay
    layer.loss_weight.extend(v1_layer.loss_weight)

    v2_fields = layer.DESCRIPTOR.fields_by_name
    for field, value in v1_layer.ListFields():
        if field.name in _SPECIAL_V1_FIELDS:
            continue
        target = v2_fields.get(field.name)
        if target is None or target.message_type is None or target.message_type is not field.message_type:
            raise FormatError(f"V1 field '{field.name}' has no V2 counterpart", path=path, place=place)
        getattr(layer, field.name).CopyFrom(value)
