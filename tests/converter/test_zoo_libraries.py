"""Whole architectures from other projects' own model code (random init, nothing downloaded), converted for
bvlc and run in real Caffe (and the runtime against it), every mapped blob compared with PyTorch.

Each exercises a construction of issue 18: facenet-pytorch's InceptionResnetV1 ends in F.normalize
(`linalg_vector_norm` + clamp_min + division); pytorchcv's DABNet and ESNet merge branches with
`torch.stack(..).sum(0)` (one Eltwise SUM), SINet takes `max(dim=1)` values (MAX Pooling over the channels);
timm's RepViT and FastViT (reparameterized, as users export them) use the exact GELU; smp's FPN merges its
pyramid with stack + sum; timm's Swin averages its NHWC tokens over H, W (AVE Pooling over a reshaped view).  The libraries are the `zoo` extra: a missing one skips locally with the reason,
and fails under CI=true.  Tolerance: the default 1e-4 x max|torch| per blob (sums in another order through
a few hundred layers; see tests/converter/test_zoo.py).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from corpus import unavailable


def _facenet() -> nn.Module:
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False)


def _pytorchcv(name: str, size: tuple[int, int]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from pytorchcv.model_provider import get_model

        return get_model(f"{name}_cityscapes", pretrained=False, in_size=size, aux=False, fixed_size=True)

    return build


def _timm(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm
        from timm.utils.model import reparameterize_model

        return reparameterize_model(timm.create_model(name, pretrained=False))

    return build


def _swin() -> nn.Module:
    """timm's SwinTransformer at a small size (two stages, window 7 over 14 x 14 and 7 x 7 tokens): its head
    averages the NHWC map over axes 1 and 2."""
    from timm.models.swin_transformer import SwinTransformer

    return SwinTransformer(img_size=56, patch_size=4, window_size=7, embed_dim=24, depths=(2, 2), num_heads=(2, 4),
                           num_classes=10)


def _fpn() -> nn.Module:
    import segmentation_models_pytorch as smp

    return smp.FPN(encoder_name="resnet18", encoder_weights=None, classes=5)


# name -> (library to import, factory, input shape, layer types the construction must produce)
MODELS: dict[str, tuple[str, Callable[[], nn.Module], tuple[int, ...], tuple[str, ...]]] = {
    "facenet_inception_resnet_v1": ("facenet_pytorch", _facenet, (1, 3, 96, 96), ("Pooling", "Clip", "Tile")),
    "pytorchcv_dabnet": ("pytorchcv", _pytorchcv("dabnet", (64, 128)), (1, 3, 64, 128), ("Eltwise",)),
    "pytorchcv_esnet": ("pytorchcv", _pytorchcv("esnet", (64, 128)), (1, 3, 64, 128), ("Eltwise",)),
    "pytorchcv_sinet": ("pytorchcv", _pytorchcv("sinet", (128, 256)), (1, 3, 128, 256), ("Pooling",)),
    "timm_repvit_m0_9": ("timm", _timm("repvit_m0_9"), (1, 3, 64, 64), ("AbsVal", "Exp")),
    "timm_fastvit_t8": ("timm", _timm("fastvit_t8"), (1, 3, 64, 64), ("AbsVal", "Exp")),
    "smp_fpn_resnet18": ("segmentation_models_pytorch", _fpn, (1, 3, 64, 64), ("Eltwise",)),
    "timm_swin": ("timm", _swin, (1, 3, 56, 56), ("Pooling", "AbsVal")),
}
CASES = [Case(name, factory, [shape], expect_layers=layers, convert_kwargs={"name": name})
         for name, (_, factory, shape, layers) in MODELS.items()]
# Ops the stack + sum fusion must have removed (no Concat of a stacked tensor is left).
NO_STACK = ("pytorchcv_dabnet", "pytorchcv_esnet", "smp_fpn_resnet18")


def _require_library(case: Case) -> None:
    library = MODELS[case.id][0]
    try:
        importlib.import_module(library)
    except ImportError as error:
        unavailable(f"{library} is not installed ({error}; pip install '.[zoo]', facenet-pytorch with --no-deps)")


@pytest.fixture(scope="module")
def results():
    usable = []
    for case in CASES:
        try:
            importlib.import_module(MODELS[case.id][0])
        except ImportError:
            continue  # its test says why
        usable.append(case)
    torch.manual_seed(0)
    return compare_cases(usable)


@pytest.mark.real_caffe
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_library_model_in_real_caffe(case: Case, request: pytest.FixtureRequest) -> None:
    _require_library(case)
    result = request.getfixturevalue("results")[case.id]
    result.check()
    if case.id in NO_STACK:
        assert result.net.mapping, case.id
        assert not any(r.op == "aten.stack.default" for r in result.net.mapping), "stack + sum was not fused"
