"""timm: a wide spread of classifier families (`timm.create_model(name, pretrained=False)`)."""
from __future__ import annotations

from functools import partial

from torch import nn

from sweep.arch import Arch


def _timm(name: str) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False)


# name -> re-parameterized before export (what users deploy)
MODELS = {
    "resnet50d": False, "res2net50_26w_4s": False, "resnest14d": False, "dpn68": False,
    "mobilenetv3_large_100": False, "mobilenetv4_conv_small": False,
    "efficientnet_b0": False, "tf_efficientnet_lite0": False, "tf_efficientnetv2_b0": False,
    "rexnet_100": False, "ghostnet_100": False, "regnety_002": False, "hrnet_w18_small": False,
    "ese_vovnet19b_dw": False, "cspdarknet53": False,
    "convnext_atto": False,
    "poolformer_s12": False, "mobilevit_xxs": False, "efficientvit_b0": False, "levit_128s": False,
    "efficientformer_l1": False, "deit_tiny_patch16_224": False,
    "repvit_m0_9": True, "fastvit_t8": True, "mobileone_s0": True, "repvgg_a0": True,
}
SIZES = {"mobilevit_xxs": (1, 3, 256, 256),
         "fastvit_t8": (1, 3, 256, 256)}

ARCHS = [Arch(f"timm_{name}", "timm", "classifier", partial(_timm, name),
              shapes=(SIZES.get(name, (1, 3, 224, 224)),), reparameterize=fuse)
         for name, fuse in MODELS.items()]
