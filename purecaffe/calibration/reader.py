"""Reading calibration data: a folder of images preprocessed as the user declares, or arrays as they are.

    read_calibration("images/", {"data": (1, 3, 224, 224)}, Preprocess(mean=..., std=..., order="rgb"))
    read_calibration("samples.npz", {"data": (1, 3, 224, 224)})

Images (.jpg .jpeg .png .bmp .ppm .tif .tiff .webp, read with Pillow, sorted by file name) are
decoded as RGB (or L for a 1-channel input), put in the declared channel order, resized to the
input's H x W (`resize`: "stretch" bilinear, or "center-crop": the shorter side to the input's, then
the middle), and normalized per channel as (pixel - mean) / std with pixels in 0..255 (RKNN's
mean_values/std_values convention).  Arrays are the net's inputs already preprocessed: an .npy of
one input's samples, (N, C, H, W) or one (C, H, W) / (1, C, H, W) sample; an .npz with one such
array per input, keyed by the input's blob name or, in input order, as arr_0, arr_1, ...
Every sample comes back with batch 1: a tuple of {input blob name: float32 array}.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from purecaffe.errors import BackendUnavailableError, FormatError, PurecaffeError

PathLike = str | os.PathLike[str]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
RESIZE_MODES = ("stretch", "center-crop")


@dataclass(frozen=True)
class Preprocess:
    """How images become the net's input: (pixel - mean) / std per channel, pixels 0..255, in `order`."""

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    order: str = "rgb"
    resize: str = "stretch"

    def __post_init__(self) -> None:
        if self.order not in ("rgb", "bgr"):
            raise PurecaffeError(f"channel order {self.order!r}: choose rgb or bgr")
        if self.resize not in RESIZE_MODES:
            raise PurecaffeError(f"resize {self.resize!r}: choose from {', '.join(RESIZE_MODES)}")
        if any(value == 0 for value in self.std):
            raise PurecaffeError(f"std {self.std}: a channel's std is 0")

    def per_channel(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """mean and std as (channels, 1, 1) arrays: one value serves every channel."""
        values = []
        for name, given in (("mean", self.mean), ("std", self.std)):
            if len(given) not in (1, channels):
                raise PurecaffeError(f"{name} has {len(given)} values; the input has {channels} channels")
            values.append(np.asarray(given * channels if len(given) == 1 else given, np.float32).reshape(-1, 1, 1))
        return values[0], values[1]


def read_calibration(path: PathLike, input_shapes: Mapping[str, Sequence[int]],
                     preprocess: Preprocess | None = None, *, limit: int | None = None
                     ) -> tuple[dict[str, np.ndarray], ...]:
    """The calibration samples in `path` (see the module) for a net with these input shapes (NCHW, batch 1)."""
    path = Path(path)
    if not path.exists():
        raise FormatError("no such calibration data (a folder of images, an .npy or an .npz)", path=path)
    if path.is_dir():
        samples = _images(path, input_shapes, preprocess or Preprocess(), limit)
    elif path.suffix.lower() in (".npy", ".npz"):
        samples = _arrays(path, input_shapes)[:limit]
    else:
        raise FormatError("calibration data must be a folder of images, an .npy or an .npz", path=path)
    if not samples:
        raise FormatError("no calibration samples found", path=path)
    return tuple(samples)


def _images(folder: Path, input_shapes: Mapping[str, Sequence[int]], preprocess: Preprocess,
            limit: int | None) -> list[dict[str, np.ndarray]]:
    if len(input_shapes) != 1:
        raise PurecaffeError(f"a folder of images calibrates a net with one input; this one has "
                             f"{len(input_shapes)} ({', '.join(input_shapes)}): give an .npz of arrays", path=folder)
    (name, shape), = input_shapes.items()
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise PurecaffeError(f"input {name} has shape {tuple(shape)}: images calibrate an N x 1|3 x H x W input; "
                             f"give an .npy of arrays", path=folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FormatError(f"no images ({' '.join(IMAGE_SUFFIXES)}) in the calibration folder", path=folder)
    return [{name: image_input(file, tuple(shape), preprocess)} for file in files[:limit]]


def image_input(file: PathLike, shape: tuple[int, ...], preprocess: Preprocess) -> np.ndarray:
    """One image file as a (1, C, H, W) float32 input, preprocessed as declared."""
    try:
        from PIL import Image
    except ImportError:
        raise BackendUnavailableError("reading calibration images needs Pillow: pip install pillow") from None
    channels, height, width = shape[1], shape[2], shape[3]
    try:
        with Image.open(file) as opened:
            image = opened.convert("L" if channels == 1 else "RGB")
            if preprocess.resize == "center-crop":
                factor = max(height / image.height, width / image.width)
                size = (max(width, round(image.width * factor)), max(height, round(image.height * factor)))
                image = image.resize(size, Image.BILINEAR)
                left, top = (image.width - width) // 2, (image.height - height) // 2
                image = image.crop((left, top, left + width, top + height))
            else:
                image = image.resize((width, height), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32)
    except OSError as error:
        raise FormatError(f"cannot read the image: {error}", path=file) from None
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    if preprocess.order == "bgr" and channels == 3:
        pixels = pixels[::-1]
    mean, std = preprocess.per_channel(channels)
    return np.ascontiguousarray(((pixels - mean) / std)[None], dtype=np.float32)


def _arrays(path: Path, input_shapes: Mapping[str, Sequence[int]]) -> list[dict[str, np.ndarray]]:
    names = list(input_shapes)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise FormatError(f"cannot read calibration arrays: {error}", path=path) from None
    if isinstance(loaded, np.ndarray):
        if len(names) != 1:
            raise PurecaffeError(f"an .npy calibrates a net with one input; this one has {len(names)} "
                                 f"({', '.join(names)}): give an .npz keyed by input name", path=path)
        arrays = {names[0]: loaded}
    else:
        with loaded:
            keys = loaded.files
            if all(name in keys for name in names):
                arrays = {name: loaded[name] for name in names}
            elif keys == [f"arr_{i}" for i in range(len(names))]:
                arrays = {name: loaded[key] for name, key in zip(names, keys)}
            else:
                raise PurecaffeError(f"calibration .npz: expected arrays named {', '.join(names)} (or "
                                     f"{len(names)} unnamed arrays in input order), found {', '.join(keys) or 'none'}",
                                     path=path)
    batched = {name: _batched(arrays[name], tuple(input_shapes[name]), name, path) for name in names}
    counts = {len(value) for value in batched.values()}
    if len(counts) != 1:
        raise PurecaffeError(f"calibration inputs have different sample counts: "
                             f"{', '.join(f'{n} {len(v)}' for n, v in batched.items())}", path=path)
    return [{name: value[i:i + 1] for name, value in batched.items()} for i in range(counts.pop())]


def _batched(array: np.ndarray, shape: tuple[int, ...], name: str, path: Path) -> np.ndarray:
    """(N, *shape[1:]) float32: one sample without its batch axis gets one."""
    if not np.issubdtype(array.dtype, np.number):
        raise FormatError(f"calibration array {name} is {array.dtype}, not numbers", path=path)
    if tuple(array.shape) == tuple(shape[1:]):
        array = array[None]
    if tuple(array.shape[1:]) != tuple(shape[1:]):
        raise PurecaffeError(f"calibration array {name} has shape {tuple(array.shape)}; the input is "
                             f"{tuple(shape)} (give N x {' x '.join(map(str, shape[1:]))})", path=path)
    return np.ascontiguousarray(array, dtype=np.float32)


__all__ = ["IMAGE_SUFFIXES", "Preprocess", "RESIZE_MODES", "image_input", "read_calibration"]
