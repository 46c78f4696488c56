"""segmentation_models_pytorch: each decoder on a small encoder (encoder_weights=None)."""
from __future__ import annotations

from functools import partial

from torch import nn

from sweep.arch import Arch


def _smp(decoder: str, encoder: str) -> nn.Module:
    import segmentation_models_pytorch as smp

    return getattr(smp, decoder)(encoder_name=encoder, encoder_weights=None, classes=5)


MODELS = (("Unet", "resnet18"), ("Unet", "mobilenet_v2"), ("FPN", "resnet18"), ("PAN", "resnet18"), ("DeepLabV3", "resnet18"), ("DeepLabV3Plus", "resnet18"),
          ("Linknet", "resnet18"), ("PSPNet", "resnet18"), ("UPerNet", "resnet18"),
          ("Segformer", "mit_b0"))

ARCHS = [Arch(f"smp_{decoder}_{encoder}", "segmentation_models_pytorch", "segmentation",
              partial(_smp, decoder, encoder), shapes=((1, 3, 256, 256),)) for decoder, encoder in MODELS]
