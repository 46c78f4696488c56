"""scikit-image's bundled sample photos as calibration images: shipped with the package, nothing downloaded."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from purecaffe.errors import BackendUnavailableError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
SAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle_left",
                 "hubble_deep_field", "retina", "coins", "camera", "moon", "page")
"""Names of `skimage.data` samples scikit-image installs with its wheel (colour first, then grey)."""


def sample_images(folder: PathLike, count: int = len(SAMPLE_IMAGES)) -> list[Path]:
    """Write up to `count` of scikit-image's bundled samples into `folder` as PNG files; their paths.

    A sample scikit-image would have to download (not in its wheel) is skipped.
    """
    try:
        from PIL import Image
        from skimage import data
    except ImportError as error:
        raise BackendUnavailableError(f"sample calibration images need scikit-image and Pillow "
                                      f"(pip install scikit-image pillow): {error}") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, name in enumerate(SAMPLE_IMAGES):
        if len(written) == count:
            break
        try:
            pixels = getattr(data, name)()
        except Exception as error:  # noqa: BLE001  a sample not in the wheel needs pooch: a download
            log.debug("scikit-image sample %s unavailable offline: %s", name, error)
            continue
        path = folder / f"{index:02d}_{name}.png"
        Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels).save(path)
        written.append(path)
    return written


__all__ = ["SAMPLE_IMAGES", "sample_images"]
