"""The tpu-mlir judge (Sophgo BM1684X/BM1688, CVITEK CV18xx): a Caffe net read by tpu-mlir's own front end.

    run = run_tpumlir("net.prototxt", "net.caffemodel", {"data": x})                      # fp32 top MLIR
    run = run_tpumlir(..., deploy=Deploy("bm1684x", "F16"))                               # + bmodel, model_runner
    run.outputs["prob"], run.layers["conv1"]["conv1"]
    run = run_tpumlir_int8({"data": x}, TpuMlirQuantization(samples), prototxt=..., caffemodel=...)  # int8

tpu-mlir lives in its own cached Python 3.10 venv (`build_venv`, `purecaffe judge-venv tpu-mlir`);
the runner (`purecaffe/runners/run_tpumlir.py`) runs there as a child process and hands back files.
"""
from __future__ import annotations

from purecaffe.tpumlir.int8 import TpuMlirInt8Run, TpuMlirQuantization, run_tpumlir_int8
from purecaffe.tpumlir.judge import PROCESSORS, QUANTIZE, Deploy, run_tpumlir, tpumlir_tensor_names
from purecaffe.tpumlir.venv import TPU_MLIR_VERSION, build_venv, default_venv_dir, venv_ready

__all__ = ["PROCESSORS", "QUANTIZE", "TPU_MLIR_VERSION", "Deploy", "TpuMlirInt8Run", "TpuMlirQuantization",
           "build_venv", "default_venv_dir", "run_tpumlir", "run_tpumlir_int8", "tpumlir_tensor_names", "venv_ready"]
