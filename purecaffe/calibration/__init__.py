"""Calibration data: what int8 builds are calibrated on, and what random-init models take BatchNorm
statistics from.

    preprocess = Preprocess(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), order="rgb")
    samples = read_calibration("images/", {"data": (1, 3, 224, 224)}, preprocess)   # tuple of {input: array}
    fit_batchnorm_statistics(model, [torch.from_numpy(s["data"]) for s in samples])

`read_calibration` takes a folder of images (resized and normalized as declared) or an .npy/.npz of
input arrays (taken as they are); `sample_images` writes scikit-image's bundled sample photos
(no download) into a folder, for tests and benchmarks.
"""
from __future__ import annotations

from purecaffe.calibration.batchnorm import fit_batchnorm_statistics
from purecaffe.calibration.reader import IMAGE_SUFFIXES, Preprocess, read_calibration
from purecaffe.calibration.samples import SAMPLE_IMAGES, sample_images

__all__ = ["IMAGE_SUFFIXES", "Preprocess", "SAMPLE_IMAGES", "fit_batchnorm_statistics", "read_calibration",
           "sample_images"]
