"""int8 parity: a converted net quantized by its toolchain, beside the toolchain's own ONNX route.

    samples = read_calibration("images/", {"data": (1, 3, 224, 224)}, preprocess)
    result = rknn_int8(model, (x,), "out/resnet18", RknnQuantization(samples), evaluate=samples[:8])
    result.caffe.output_cosine, result.onnx.output_cosine, result.caffe.worst_layers(3)

The Caffe route builds the converted files in RKNN-Toolkit2 (`load_caffe`, `build(do_quantization=True,
dataset=...)`), the ONNX route the same PyTorch model exported by `torch.onnx.export` (`load_onnx`),
with the same calibration samples and settings; both run in RKNN's simulator, and each is measured
against PyTorch: every net output (cosine; top-k agreement for classifiers, over the `evaluate`
samples) and every layer RKNN kept (cosine of its int8 simulation to its own float32 run of the same
graph, which is PyTorch's within float rounding).
"""
from __future__ import annotations

from purecaffe.int8.measure import LayerCosine, RouteResult, cosine, topk_agreement
from purecaffe.int8.onnx_route import export_onnx
from purecaffe.int8.routes import Int8Comparison, rknn_int8

__all__ = ["Int8Comparison", "LayerCosine", "RouteResult", "cosine", "export_onnx", "rknn_int8", "topk_agreement"]
