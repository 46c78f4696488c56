"""Which Caffe a converted model is for: the layers and parameters it has.

Lowerings consult `ctx.dialect` instead of hard-coding a target
(`if ctx.dialect.has("Clip"): ... else: <stock decomposition>`), and
`LoweringContext.emit` refuses a layer type the dialect lacks, so a lowering
cannot silently produce something the target would reject.  Only stock BVLC
Caffe (Debian's Caffe 1.0, BVLC master) exists now; OpenCV, NNIE and RKNN
dialects are later issues (facts in docs/dialects.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from purecaffe.errors import PurecaffeError

BVLC_LAYERS = frozenset({
    "Input", "Convolution", "Deconvolution", "InnerProduct", "BatchNorm", "Scale", "Bias",
    "Pooling", "ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Power", "Exp", "Log",
    "Clip", "Swish", "Threshold", "Eltwise", "Concat", "Slice", "Split", "Silence", "Flatten",
    "Reshape", "Softmax", "Reduction", "Crop", "Tile", "Parameter", "ArgMax", "LRN", "MVN",
    "Embed", "Dropout", "DummyData",
})


@dataclass(frozen=True)
class Dialect:
    """A Caffe consumer: its name, its layer types and the parameters that differ between forks."""

    name: str
    layers: frozenset[str]
    pooling_round_mode: bool      # PoolingParameter.round_mode (CEIL/FLOOR) exists
    eltwise_prod_coeff: bool      # Eltwise PROD accepts coeff (BVLC rejects it)
    max_name_length: int | None = None

    def has(self, layer_type: str) -> bool:
        return layer_type in self.layers


BVLC = Dialect(name="bvlc", layers=BVLC_LAYERS, pooling_round_mode=True, eltwise_prod_coeff=False)

DIALECTS: dict[str, Dialect] = {BVLC.name: BVLC}


def get_dialect(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise PurecaffeError(f"unknown Caffe dialect {name!r} (known: {', '.join(sorted(DIALECTS))})") from None
