"""Every architecture of the sweep, by name; each zoo module's import errors are kept, not raised."""
from __future__ import annotations

import importlib
import logging

from sweep.arch import Arch

log = logging.getLogger(__name__)

# In run order: the other projects' architectures of the coverage issue first, then the classifier zoos.
ZOOS = ("zoo_pytorchcv", "zoo_face", "zoo_ultralytics", "zoo_smp", "zoo_ocr", "zoo_sr", "zoo_misc", "zoo_torchvision",
        "zoo_timm")


def architectures() -> dict[str, Arch]:
    """All architectures by name (the zoo modules import their libraries only when a model is built)."""
    found: dict[str, Arch] = {}
    for zoo in ZOOS:
        for arch in importlib.import_module(f"sweep.{zoo}").ARCHS:
            if arch.name in found:
                raise ValueError(f"architecture {arch.name!r} registered twice")
            found[arch.name] = arch
    return found
