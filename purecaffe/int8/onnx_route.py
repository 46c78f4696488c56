"""The toolchain's own route from PyTorch: `torch.onnx.export` (the TorchScript exporter, offline).

torch 2.9+ defaults to the torch.export-based exporter, which needs onnxscript; `dynamo=False`
keeps the TorchScript exporter, which needs only the `onnx` package (pip install onnx).  Opset 13
is what RKNN-Toolkit2's examples use; its ops are all RKNN reads.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from purecaffe.errors import BackendUnavailableError, PurecaffeError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
OPSET = 13


def export_onnx(model: object, inputs: Sequence[object], path: PathLike, *, input_names: Sequence[str],
                output_count: int, opset: int = OPSET) -> tuple[list[str], list[str]]:
    """Export `model` on `inputs` to `path`; (input names, output names) of the ONNX graph, in order.

    Inputs take `input_names` (the Caffe net's input blobs, so one feed serves both routes); the
    outputs are named out0, out1, ... in the model's flattened output order.
    """
    import torch

    try:
        import onnx  # noqa: F401  torch's TorchScript exporter serializes with it
    except ImportError:
        raise BackendUnavailableError("the ONNX route needs the onnx package: pip install onnx") from None
    output_names = [f"out{i}" for i in range(output_count)]
    path = Path(path)
    try:
        with torch.no_grad():
            torch.onnx.export(model, tuple(inputs), str(path), dynamo=False, opset_version=opset,
                              input_names=list(input_names), output_names=output_names, do_constant_folding=True)
    except Exception as error:  # noqa: BLE001  the exporter's errors have many types
        text = " ".join(str(error).split())[:300]
        raise PurecaffeError(f"torch.onnx.export failed ({type(error).__name__}): {text}", path=path) from None
    log.info("exported %s (opset %d) for the ONNX route", path, opset)
    return list(input_names), output_names


__all__ = ["OPSET", "export_onnx"]
