"""torchvision: classifiers, SSDLite's raw heads, segmentation (weights=None, weights_backbone=None)."""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from sweep.arch import Arch


def _classifier(name: str, **kwargs: object) -> nn.Module:
    import torchvision

    return torchvision.models.get_model(name, weights=None, **kwargs)


def _segmenter(name: str) -> nn.Module:
    import torchvision

    return SegmentationOut(torchvision.models.get_model(name, weights=None, weights_backbone=None, aux_loss=False))


class SegmentationOut(nn.Module):
    """torchvision's segmenters return {"out": logits}; users export that tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


class SsdRawHeads(nn.Module):
    """SSD/SSDLite as NPUs run it: backbone + the per-level raw class and box convolutions.

    torchvision's own forward adds its transform (resize, normalization) and decoding with NMS,
    which users leave on the CPU; the head convolutions are torchvision's own modules.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.classification = model.head.classification_head.module_list
        self.regression = model.head.regression_head.module_list

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = list(self.backbone(x).values())
        outputs = []
        for level, feature in enumerate(features):
            outputs.append(self.classification[level](feature))
            outputs.append(self.regression[level](feature))
        return outputs


def _ssdlite() -> nn.Module:
    import torchvision

    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    return SsdRawHeads(model)


CLASSIFIERS = {
    "resnet18": {}, "resnet50": {}, "mobilenet_v2": {}, "mobilenet_v3_large": {}, "shufflenet_v2_x1_0": {}, "squeezenet1_1": {}, "densenet121": {},
    "efficientnet_b0": {}, "regnet_y_400mf": {},
    "googlenet": {"aux_logits": False, "init_weights": True}, "convnext_tiny": {}, "swin_t": {},
}

ARCHS = [
    *(Arch(f"tv_{name}", "torchvision", "classifier", partial(_classifier, name, **kwargs))
      for name, kwargs in CLASSIFIERS.items()),
    Arch("tv_inception_v3", "torchvision", "classifier",
         partial(_classifier, "inception_v3", aux_logits=False, init_weights=True), shapes=((1, 3, 299, 299),)),
    Arch("tv_ssdlite320_mobilenet_v3_large", "torchvision", "detector", _ssdlite, shapes=((1, 3, 320, 320),)),
    Arch("tv_deeplabv3_mobilenet_v3_large", "torchvision", "segmentation",
         partial(_segmenter, "deeplabv3_mobilenet_v3_large"), shapes=((1, 3, 256, 256),)),
    Arch("tv_lraspp_mobilenet_v3_large", "torchvision", "segmentation",
         partial(_segmenter, "lraspp_mobilenet_v3_large"), shapes=((1, 3, 256, 256),)),
    Arch("tv_fcn_resnet50", "torchvision", "segmentation", partial(_segmenter, "fcn_resnet50"),
         shapes=((1, 3, 256, 256),)),
]
