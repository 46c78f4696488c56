"""Where the shared Caffe corpus is, and what each test may expect of it.

The corpus (`../shared/corpus`, or `$PURECAFFE_CORPUS`) holds other people's
files and is never copied into this repository.  Tests that need it call
`corpus_dir()`: locally a missing corpus skips with a reason, under `CI=true`
it is a failure.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> NoReturn:
    """Skip with `message` locally; under CI=true, where everything must run, fail with it."""
    if in_ci():
        pytest.fail(message + " -- required under CI=true")
    pytest.skip(message)


def _candidates() -> list[Path]:
    candidates = []
    if os.environ.get("PURECAFFE_CORPUS"):
        candidates.append(Path(os.environ["PURECAFFE_CORPUS"]))
    candidates.append(REPO_ROOT.parent / "shared" / "corpus")
    return candidates


def corpus_dir() -> Path:
    found = _find_corpus()
    if found is not None:
        return found
    candidates = _candidates()
    unavailable(f"Caffe corpus not found (looked in {', '.join(map(str, candidates))}; set PURECAFFE_CORPUS)")


def _find_corpus() -> Path | None:
    for candidate in _candidates():
        if (candidate / "manifest.json").is_file():
            return candidate
    return None


def collect_files(suffix: str) -> list[Path]:
    """Corpus files ending in `suffix`, for `parametrize` at collection time.

    Empty when the corpus is absent: the parametrized tests then show as skipped
    ("got empty parameter set") and `tests/test_corpus_present.py` reports the
    absence itself (a skip locally, a failure under CI=true).
    """
    root = _find_corpus()
    return sorted((root / "models").glob(f"*/*{suffix}")) if root else []


def file_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def manifest() -> dict:
    return json.loads((corpus_dir() / "manifest.json").read_text())


def model_dir(name: str) -> Path:
    return corpus_dir() / "models" / name


def all_files(suffix: str) -> list[Path]:
    """Every corpus file ending in `suffix` (sorted), e.g. '.prototxt'."""
    return sorted((corpus_dir() / "models").glob(f"*/*{suffix}"))


def reference_models() -> list[str]:
    """Names of corpus models that have a reference.npz made by real Caffe."""
    return sorted(p.parent.name for p in (corpus_dir() / "models").glob("*/reference.npz"))


def reference_meta(reference: np.lib.npyio.NpzFile) -> dict:
    return json.loads(str(reference["__meta__"]))


def fill_rule_param(layer: str, index: int, shape: tuple[int, ...], layer_type: str, gain: float) -> np.ndarray:
    """The corpus README's deterministic random-init rule for one parameter blob."""

    def seed(i: int) -> int:
        return zlib.crc32(f"{layer}/{i}".encode("utf-8")) & 0xFFFFFFFF

    rng = np.random.RandomState(seed(index))
    if layer_type == "BatchNorm":
        factor = np.random.RandomState(seed(2)).uniform(0.5, 2.0)
        if index == 0:
            value = rng.standard_normal(shape) * 0.1 * factor
        elif index == 1:
            value = rng.uniform(0.5, 1.5, shape) * factor
        else:
            value = np.full(shape, factor)
    elif layer_type == "Scale":
        value = rng.uniform(0.5, 1.5, shape) if index == 0 else rng.standard_normal(shape) * 0.1
    elif layer_type == "PReLU":
        value = rng.uniform(0.0, 0.5, shape)
    elif layer_type in ("Convolution", "Deconvolution", "InnerProduct") and index == 0:
        fan_in = int(np.prod(shape[1:]))
        value = rng.standard_normal(shape) * (gain / np.sqrt(fan_in))
    else:
        value = rng.standard_normal(shape) * 0.1
    return np.asarray(value, dtype=np.float64).astype(np.float32)


def fill_rule_weights(reference: np.lib.npyio.NpzFile) -> dict[str, list[np.ndarray]]:
    """All parameter blobs of a random-init corpus model, regenerated from its reference."""
    meta = reference_meta(reference)
    gain = meta["gain"]
    layer_types = meta["layer_types"]
    weights: dict[str, list[np.ndarray]] = {}
    for key in reference.files:
        if not key.startswith("paramshape:"):
            continue
        layer, index = key.split(":", 1)[1].rsplit(":", 1)
        shape = tuple(int(d) for d in reference[key])
        weights.setdefault(layer, {})[int(index)] = fill_rule_param(layer, int(index), shape, layer_types[layer], gain)
    return {layer: [blobs[i] for i in sorted(blobs)] for layer, blobs in weights.items()}
