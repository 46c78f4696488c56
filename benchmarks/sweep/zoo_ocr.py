"""OCR: EasyOCR's CRAFT detector and recognizers, docTR's detectors and recognizers (no weights).

EasyOCR's recognizer `forward(input, text)` ignores `text` for CTC; docTR's models are built with
`exportable=True` (their own switch that returns only logits, no decoding) and
`pretrained_backbone=False`.
"""
from __future__ import annotations

import torch
from torch import nn

from sweep.arch import Arch


class Recognizer(nn.Module):
    """EasyOCR's CTC recognizer called as EasyOCR calls it: `model(image, text)` with no text needed."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, None)


class Logits(nn.Module):
    """docTR's exportable models return {"logits": tensor}: the tensor users export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["logits"]


def _craft() -> nn.Module:
    from easyocr.craft import CRAFT

    return CRAFT(pretrained=False, freeze=False)


def _easyocr_recognizer(generation: int) -> nn.Module:
    if generation == 1:
        from easyocr.model.model import Model

        return Recognizer(Model(input_channel=1, output_channel=512, hidden_size=512, num_class=97))
    from easyocr.model.vgg_model import Model

    return Recognizer(Model(input_channel=1, output_channel=256, hidden_size=256, num_class=97))


def _doctr(task: str, name: str) -> nn.Module:
    from doctr.models import detection, recognition

    zoo = detection if task == "detection" else recognition
    return Logits(getattr(zoo, name)(pretrained=False, pretrained_backbone=False, exportable=True))


DETECTION = ("db_mobilenet_v3_large", "linknet_resnet18", "fast_tiny")
RECOGNITION = ("crnn_mobilenet_v3_small", "crnn_vgg16_bn", "vitstr_small", "sar_resnet31")

ARCHS = [
    Arch("easyocr_craft", "easyocr", "ocr", _craft, shapes=((1, 3, 320, 320),)),
    Arch("easyocr_crnn_gen1", "easyocr", "ocr", lambda: _easyocr_recognizer(1), shapes=((1, 1, 64, 256),),
         data="gray"),
    Arch("easyocr_crnn_gen2", "easyocr", "ocr", lambda: _easyocr_recognizer(2), shapes=((1, 1, 64, 256),),
         data="gray"),
    *(Arch(f"doctr_{name}", "python-doctr", "ocr", lambda n=name: _doctr("detection", n), shapes=((1, 3, 320, 320),))
      for name in DETECTION),
    *(Arch(f"doctr_{name}", "python-doctr", "ocr", lambda n=name: _doctr("recognition", n), shapes=((1, 3, 32, 128),))
      for name in RECOGNITION),
]
