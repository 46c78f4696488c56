"""The RKNN-Toolkit2 judge: a Caffe net run in Rockchip's own simulator (fp16).

    run = run_rknn("net.prototxt", "net.caffemodel", {"data": x})   # x: NCHW float32
    run.outputs["prob"], run.layers["conv1/scale"]   # by net output name / Caffe layer name

RKNN-Toolkit2 lives in its own cached venv (`build_venv`, `purecaffe rknn-venv`);
`runner.py` runs there as a child process and hands back files, never pickles.
"""
from __future__ import annotations

from purecaffe.rknn.judge import RknnQuantization, RknnRun, net_io_names, run_rknn, run_rknn_onnx
from purecaffe.rknn.venv import build_venv, default_venv_dir, venv_ready

__all__ = ["RknnQuantization", "RknnRun", "run_rknn_onnx", "build_venv", "default_venv_dir", "net_io_names", "run_rknn", "venv_ready"]
