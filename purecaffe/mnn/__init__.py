"""The MNN judge: a Caffe net converted by MNN's own converter and run in MNN's runtime (CPU, fp32).

    run = run_mnn("net.prototxt", "net.caffemodel", {"data": x})   # x: NCHW float32
    run.outputs["prob"], run.layers["conv1"]["conv1"]

MNN lives in its own cached venv (`build_venv`, `purecaffe judge-venv mnn`); the runner
(`purecaffe/runners/run_mnn.py`) runs there as a child process and hands back files.
"""
from __future__ import annotations

from purecaffe.mnn.judge import mnn_tensor_names, run_mnn
from purecaffe.mnn.venv import MNN_VERSION, build_venv, default_venv_dir, venv_ready

__all__ = ["MNN_VERSION", "build_venv", "default_venv_dir", "mnn_tensor_names", "run_mnn", "venv_ready"]
