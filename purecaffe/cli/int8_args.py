"""`verify --quantize INT8 --calibration CALIB`: the int8 build's options and calibration data.

`--backend rknn` builds with RKNN-Toolkit2 (`RknnQuantization`: --quantized-algorithm), `--backend
tpu-mlir` with tpu-mlir (`TpuMlirQuantization`: --processor, --cali-method); `QUANTIZATIONS` says which.

The spelling follows tpu-mlir's `model_deploy --quantize`: `--quantize` names the precision (INT8
here; F32/F16/BF16 are tpu-mlir's float modes), `--calibration` the data it is calibrated on
(a folder of images or an .npy/.npz of input arrays) with the preprocessing the user declares.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from purecaffe.errors import PurecaffeError

if TYPE_CHECKING:
    from purecaffe.rknn import RknnQuantization
    from purecaffe.tpumlir.int8 import TpuMlirQuantization

INT8 = "INT8"
Samples = tuple[dict[str, np.ndarray], ...]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas") from None


def add_int8_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("int8 (--backend rknn|tpu-mlir --quantize INT8): both routes, the Caffe files "
                                      "and the toolchain's own ONNX route (torch.onnx.export -> RKNN's load_onnx "
                                      "or tpu-mlir's model_transform), built int8")
    group.add_argument("--calibration", metavar="CALIB",
                       help="calibration data: a folder of images (preprocessed by --mean/--std/--channel-order/"
                            "--resize) or an .npy/.npz of input arrays (taken as they are)")
    group.add_argument("--mean", type=_floats, default=(0.0,), metavar="M[,M,M]",
                       help="images: per-channel mean subtracted from 0..255 pixels (default 0)")
    group.add_argument("--std", type=_floats, default=(1.0,), metavar="S[,S,S]",
                       help="images: per-channel divisor after the mean (default 1)")
    group.add_argument("--channel-order", choices=("rgb", "bgr"), default="rgb", help="images: channel order")
    group.add_argument("--resize", choices=("stretch", "center-crop"), default="stretch",
                       help="images: to the input's H x W by stretching, or shorter side then the middle")
    group.add_argument("--calibration-count", type=int, default=None, metavar="N",
                       help="use the first N samples (default all)")
    group.add_argument("--quantized-algorithm", choices=("normal", "mmse", "kl_divergence"), default="normal",
                       help="rknn: RKNN's quantized_algorithm (default normal)")
    group.add_argument("--cali-method", choices=("kl", "mse", "max", "percentile9999"), default="kl",
                       help="tpu-mlir: run_calibration.py --cali_method (default kl); the chip is --processor")
    group.add_argument("--no-onnx-baseline", action="store_true",
                       help="skip the ONNX route (it needs the onnx package)")


def _rknn(args: argparse.Namespace, samples: Samples) -> RknnQuantization:
    from purecaffe.rknn import RknnQuantization

    if args.processor is not None:
        raise PurecaffeError("--processor is tpu-mlir's (RKNN builds for rk3588)")
    return RknnQuantization(samples, algorithm=args.quantized_algorithm)


def _tpumlir(args: argparse.Namespace, samples: Samples) -> TpuMlirQuantization:
    from purecaffe.tpumlir.int8 import TpuMlirQuantization

    return TpuMlirQuantization(samples, processor=args.processor or "bm1684x", method=args.cali_method)


QUANTIZATIONS: dict[str, Callable[[argparse.Namespace, Samples], Any]] = {"rknn": _rknn, "tpu-mlir": _tpumlir}
"""The int8 build each --backend makes from the options."""


def int8_request(args: argparse.Namespace, input_shapes: Mapping[str, tuple[int, ...]]
                 ) -> tuple[RknnQuantization | TpuMlirQuantization, Samples] | None:
    """(the quantization, the samples) the options ask for, or None without --quantize INT8."""
    from purecaffe.calibration import Preprocess, read_calibration

    if args.quantize != INT8:
        if args.calibration is not None:
            raise PurecaffeError("--calibration goes with --quantize INT8")
        return None
    build = QUANTIZATIONS.get(args.backend)
    if build is None:
        raise PurecaffeError(f"--quantize {args.quantize} is judged on --backend {' or '.join(QUANTIZATIONS)}, "
                             f"not {args.backend}")
    if args.calibration is None:
        raise PurecaffeError("--quantize INT8 needs --calibration CALIB (a folder of images, an .npy or an .npz)")
    if args.calibration_count is not None and args.calibration_count < 1:
        raise PurecaffeError(f"--calibration-count {args.calibration_count}: give at least 1")
    if args.disable_layer_group:
        raise PurecaffeError("--disable-layer-group is for a compiled tpu-mlir model (--quantize F32/F16/BF16)")
    preprocess = Preprocess(mean=args.mean, std=args.std, order=args.channel_order, resize=args.resize)
    samples = read_calibration(args.calibration, input_shapes, preprocess, limit=args.calibration_count)
    return build(args, samples), samples


def input_shapes(sidecar: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The converted net's input blobs and their shapes, from the sidecar."""
    shapes = {entry["torch"]: tuple(entry.get("shape", ())) for entry in sidecar.get("tensors", [])}
    return {entry["blob"]: shapes.get(entry["torch"], ()) for entry in sidecar.get("inputs", [])}


__all__ = ["INT8", "QUANTIZATIONS", "add_int8_arguments", "input_shapes", "int8_request"]
