"""One architecture of the sweep: how to build it (other projects' own code, random init), its input, its cut."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from torch import nn

# What a family is for; "classifier" is kept apart because the issues count classifiers separately.
KINDS = ("classifier", "detector", "segmentation", "face", "pose", "ocr", "sr", "reid", "descriptor")


@dataclass(frozen=True)
class Arch:
    """An architecture as users deploy it.

    `build` returns the module (random init, nothing downloaded); `shapes` the input shapes it is run
    at; `outputs` the module paths where users cut the net (`convert(..., outputs=)`), with `cut` saying
    why; `data`: what to feed ("image" RGB normalized, "gray" one channel, "random" a fixed normal
    draw); `stats_from_data`: set BatchNorm statistics by train-mode passes over images (deep random
    nets overflow fp16 otherwise); `reparameterize`: fuse train-time branches first (MobileOne,
    RepViT, FastViT, RepVGG: what users export), True for timm's helper or the architecture's own fusion.
    """

    name: str
    library: str
    kind: str
    build: Callable[[], nn.Module]
    shapes: tuple[tuple[int, ...], ...] = ((1, 3, 224, 224),)
    outputs: tuple[str, ...] | None = None
    cut: str = ""
    data: str = "image"
    stats_from_data: bool = True
    reparameterize: bool | Callable[[nn.Module], nn.Module] = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.outputs is not None and not self.cut:
            raise ValueError(f"{self.name}: a cut needs its reason")


def import_isolated(dotted: str) -> ModuleType:
    """Import one module of an installed package without running the `__init__` of its parents.

    Several model zoos' package `__init__`s import their training or application stack (tensorboard,
    numba, opencv_transforms, ...) although the model files need only torch: each parent package is
    registered as an empty package on its directory, then the module itself is imported normally.
    """
    parts = dotted.split(".")
    if parts[0] not in sys.modules:
        spec = importlib.util.find_spec(parts[0])
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"no installed package {parts[0]!r}")
        root = list(spec.submodule_search_locations)[0]
    else:
        root = list(sys.modules[parts[0]].__path__)[0]
    for depth in range(1, len(parts)):
        name = ".".join(parts[:depth])
        if name not in sys.modules:
            package = ModuleType(name)
            package.__path__ = [os.path.join(root, *parts[1:depth])]
            sys.modules[name] = package
    return importlib.import_module(dotted)
