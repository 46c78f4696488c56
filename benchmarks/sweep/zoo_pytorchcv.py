"""pytorchcv: real-time segmentation nets, face/pose/detection nets, classifiers (pretrained=False)."""
from __future__ import annotations

from functools import partial

from torch import nn

from sweep.arch import Arch

SEGMENTATION_SIZE = (256, 512)  # Cityscapes' 1:2 aspect, small enough for the sweep


def _pytorchcv(name: str, **kwargs: object) -> nn.Module:
    from pytorchcv.model_provider import get_model

    return get_model(name, pretrained=False, **kwargs)


SEGMENTATION = ("lednet", "fpenet", "dabnet", "esnet", "fastscnn", "icnet_resnetd50b", "sinet", "enet", "cgnet",
                "edanet", "erfnet", "ctxnet", "linknet", "sqnet")
CLASSIFIERS = ("sqnxt23_w1", "igcv3_w1", "peleenet", "hardnet39ds", "menet108_8x1_g3", "ibn_resnet50", "resattnet56")
CIFAR = ("resnet20_cifar10",)


def _segmentation(name: str) -> Arch:
    size = SEGMENTATION_SIZE
    return Arch(f"cv_{name}", "pytorchcv", "segmentation",
                partial(_pytorchcv, f"{name}_cityscapes", in_size=size, aux=False, fixed_size=True),
                shapes=((1, 3, *size),))


ARCHS = [
    *(_segmentation(name) for name in SEGMENTATION),
    *(Arch(f"cv_{name}", "pytorchcv", "classifier", partial(_pytorchcv, name)) for name in CLASSIFIERS),
    *(Arch(f"cv_{name}", "pytorchcv", "classifier", partial(_pytorchcv, name), shapes=((1, 3, 32, 32),))
      for name in CIFAR),
    Arch("cv_lffd20x5s320v2_widerface", "pytorchcv", "face",
         partial(_pytorchcv, "lffd20x5s320v2_widerface", in_size=(320, 320)), shapes=((1, 3, 320, 320),)),
    Arch("cv_lwopenpose2d_mobilenet_cmupan_coco", "pytorchcv", "pose",
         partial(_pytorchcv, "lwopenpose2d_mobilenet_cmupan_coco", in_size=(256, 192), return_heatmap=True),
         shapes=((1, 3, 256, 192),)),
    Arch("cv_simplepose_mobile_mobilenetv3_small_w1_coco", "pytorchcv", "pose",
         partial(_pytorchcv, "simplepose_mobile_mobilenetv3_small_w1_coco", in_size=(256, 192), return_heatmap=True),
         shapes=((1, 3, 256, 192),)),
    Arch("cv_ibppose_coco", "pytorchcv", "pose", partial(_pytorchcv, "ibppose_coco"), shapes=((1, 3, 256, 256),)),
    Arch("cv_centernet_resnet18_voc", "pytorchcv", "detector",
         partial(_pytorchcv, "centernet_resnet18_voc", in_size=(256, 256), return_heatmap=True),
         shapes=((1, 3, 256, 256),)),
]
