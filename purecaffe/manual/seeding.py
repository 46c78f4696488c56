"""Deterministic random streams: one per (seed, layer, blob), independent of the layer order."""
from __future__ import annotations

import zlib

import numpy as np


def blob_rng(seed: int, layer: str, index: int) -> np.random.Generator:
    """The generator for blob `index` of `layer`: adding or moving other layers does not change it."""
    name_key = zlib.crc32(layer.encode("utf-8")) & 0xFFFFFFFF
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(name_key, int(index))))
