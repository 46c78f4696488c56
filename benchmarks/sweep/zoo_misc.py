"""kornia's learned local features, YOLOX (raw heads), torchreid's person re-identification nets."""
from __future__ import annotations

from functools import partial

from torch import nn

from sweep.arch import Arch, import_isolated

PATCH = (1, 1, 32, 32)
YOLOX_CUT = "YOLOX raw head convolutions per level (reg, obj, cls; decoding and NMS on the CPU)"
YOLOX_SIZES = {"nano": (0.33, 0.25, True), "s": (0.33, 0.50, False)}


def _kornia(name: str, **kwargs: object) -> nn.Module:
    import kornia.feature

    return getattr(kornia.feature, name)(**kwargs)


def _yolox(size: str) -> nn.Module:
    from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead

    depth, width, depthwise = YOLOX_SIZES[size]
    backbone = YOLOPAFPN(depth, width, in_channels=[256, 512, 1024], depthwise=depthwise)
    head = YOLOXHead(80, width, in_channels=[256, 512, 1024], depthwise=depthwise)
    return YOLOX(backbone, head)


def _torchreid(name: str) -> nn.Module:
    models = import_isolated("torchreid.reid.models")
    return models.build_model(name, num_classes=751, loss="softmax", pretrained=False)


KORNIA = {"HardNet": {"pretrained": False}, "HardNet8": {"pretrained": False}, "SOSNet": {"pretrained": False},
          "TFeat": {"pretrained": False}, "HyNet": {"pretrained": False}, "SIFTDescriptor": {"patch_size": 32}}
REID = ("osnet_x0_25", "osnet_ain_x0_25", "mlfn", "pcb_p6", "mobilenetv2_x1_0",
        "resnet50_ibn_a")

ARCHS = [
    *(Arch(f"kornia_{name}", "kornia", "descriptor", partial(_kornia, name, **kwargs), shapes=(PATCH,), data="gray")
      for name, kwargs in KORNIA.items()),
    Arch("kornia_KeyNet", "kornia", "descriptor", partial(_kornia, "KeyNet", pretrained=False),
         shapes=((1, 1, 128, 128),), data="gray"),
    Arch("kornia_XFeatModel", "kornia", "descriptor", partial(_kornia, "XFeatModel"), shapes=((1, 3, 128, 128),)),
    *(Arch(f"yolox_{size}", "yolox", "detector", partial(_yolox, size), shapes=((1, 3, 320, 320),),
           outputs=tuple(f"head.{branch}.{level}" for level in range(3)
                         for branch in ("reg_preds", "obj_preds", "cls_preds")), cut=YOLOX_CUT)
      for size in YOLOX_SIZES),
    *(Arch(f"torchreid_{name}", "torchreid", "reid", partial(_torchreid, name), shapes=((1, 3, 256, 128),))
      for name in REID),
]
