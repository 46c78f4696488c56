"""int8 parity: a converted net quantized by its toolchain, beside the toolchain's own ONNX route.

    samples = read_calibration("images/", {"data": (1, 3, 224, 224)}, preprocess)
    result = int8_routes(model, (x,), "out/resnet18", RknnQuantization(samples), evaluate=samples[:8])
    result = int8_routes(model, (x,), "out/resnet18", TpuMlirQuantization(samples), evaluate=samples[:8])
    result.caffe.output_cosine, result.onnx.output_cosine, result.caffe.worst_layers(3)

The Caffe route builds the converted files with the toolchain's Caffe front end, the ONNX route the
same PyTorch model exported by `torch.onnx.export`, with the same calibration samples and settings;
both are simulated by the toolchain, and each is measured against PyTorch: every net output (cosine;
top-k agreement for classifiers, over the `evaluate` samples) and every layer the toolchain kept
(cosine of its int8 value to the toolchain's own float32 run of the same graph, which is PyTorch's
within float rounding).  The toolchains (`TOOLCHAINS`, by the quantization's type):

* RKNN-Toolkit2: `load_caffe` / `load_onnx`, `build(do_quantization=True, dataset=...)`, its simulator
  and `accuracy_analysis` (`purecaffe.rknn`);
* tpu-mlir: `model_transform` from either, `run_calibration.py`, `model_deploy --quantize INT8`, the
  int8 tpu-level MLIR's interpreter against the fp32 top-level one (`purecaffe.tpumlir.int8`).
"""
from __future__ import annotations

from purecaffe.int8.measure import LayerCosine, RouteResult, cosine, topk_agreement
from purecaffe.int8.onnx_route import export_onnx
from purecaffe.int8.routes import (TOOLCHAINS, Int8Comparison, Int8Toolchain, int8_routes, rknn_int8, toolchain_of,
                                   tpumlir_int8)

__all__ = ["Int8Comparison", "Int8Toolchain", "LayerCosine", "RouteResult", "TOOLCHAINS", "cosine", "export_onnx",
           "int8_routes", "rknn_int8", "toolchain_of", "topk_agreement", "tpumlir_int8"]
