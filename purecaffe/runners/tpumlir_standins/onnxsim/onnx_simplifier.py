"""`simplify` refuses: tpu-mlir's ONNX front end catches it, logs "onnxsim opt failed." and goes on."""
from __future__ import annotations


def simplify(model: object, *args: object, **kwargs: object) -> tuple[object, bool]:
    raise RuntimeError("onnx-simplifier is not installed in the tpu-mlir judge's venv (purecaffe's stand-in)")
