"""Running a Caffe net in the RKNN venv: the request, the child process, the result."""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.judgejob import net_io_names, read_arrays, run_runner, write_job
from purecaffe.rknn.venv import RKNN_VERSION, build_venv, venv_python

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

TARGET_PLATFORM = "rk3588"
RUN_TIMEOUT = 900.0
DROPPED = re.compile(r"OP in Layer (\S+) Current not support")
"""RKNN's load_caffe logs this for a layer type it lacks, leaves the layer out (its top becomes its
bottom: an identity, measured for Clip and Swish in 2.5.0) and still returns 0."""


@dataclass(frozen=True)
class RknnRun:
    """What RKNN computed: net outputs by name (NCHW, float32) and, when dumped, per-layer values.

    `layers` is keyed by Caffe layer name; RKNN fuses chains (Convolution + BatchNorm +
    Scale, ...) and names the fused node after the chain's last layer, so only the
    layers it kept appear.  `dropped`: layers RKNN left out because it lacks their type.  `error` is RKNN's own one-line refusal (then nothing else is set).
    """

    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)
    dropped: Mapping[str, str] = field(default_factory=dict)  # layer -> RKNN's message: left out, as identity
    error: str | None = None
    stage: str | None = None
    seconds: float = 0.0
    version: str = RKNN_VERSION

    @property
    def ok(self) -> bool:
        return self.error is None


def run_rknn(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray], *,
             dump_layers: bool = True, venv: PathLike | None = None, timeout: float = RUN_TIMEOUT) -> RknnRun:
    """Load the Caffe files in RKNN-Toolkit2, build fp16 (no quantization), run the x86 simulator.

    `inputs` are NCHW float32 arrays by input blob name (fed as NHWC, which RKNN
    expects for 4-D inputs).  Builds the venv on first use (a few minutes).  RKNN
    refusing the net is returned as `RknnRun.error`; a broken run raises a
    one-line `PurecaffeError` naming the file.
    """
    prototxt, caffemodel = Path(prototxt).absolute(), Path(caffemodel).absolute()
    for path in (prototxt, caffemodel):
        if not path.is_file():
            raise FormatError("missing: RKNN needs the prototxt and the caffemodel", path=path)
    names_in, names_out = net_io_names(prototxt)
    missing = [name for name in names_in if name not in inputs]
    if missing:
        raise PurecaffeError(f"no input given for {', '.join(missing)} (the net's inputs: {', '.join(names_in)})",
                             path=prototxt)
    python = venv_python(build_venv(venv))
    with tempfile.TemporaryDirectory(prefix="purecaffe-rknn-") as job:
        request = {"prototxt": str(prototxt), "caffemodel": str(caffemodel), "inputs": names_in,
                   "target_platform": TARGET_PLATFORM, "dump": dump_layers}
        write_job(job, request, {name: inputs[name] for name in names_in})
        result = run_runner(python, "run_rknn.py", job, judge="RKNN", net=prototxt, timeout=timeout,
                            env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
        if not result["ok"]:
            log.info("RKNN refused %s: %s", prototxt, "\n".join(result.get("detail", [])))
            return RknnRun(error=result["error"], stage=result.get("stage"), seconds=result.get("seconds", 0.0),
                           version=result.get("version") or RKNN_VERSION)
        arrays = read_arrays(job, "outputs.npz")
    produced = [arrays[f"output:{i}"] for i in range(result["outputs"])]
    layers = {name: arrays[f"layer:{name}"] for name in result["layers"]}
    if len(produced) != len(names_out):
        raise PurecaffeError(f"RKNN returned {len(produced)} outputs, the net has {len(names_out)} "
                             f"({', '.join(names_out)})", path=prototxt)
    dropped = {}
    for line in result.get("load_errors", []):
        match = DROPPED.search(line)
        if match:
            dropped[match.group(1)] = line
    for name, line in dropped.items():
        log.warning("RKNN-Toolkit2 left layer %s out of %s (load_caffe still returned 0): %s", name, prototxt, line)
    return RknnRun(outputs=dict(zip(names_out, produced)), layers=layers, dropped=dropped, seconds=result["seconds"],
                   version=result.get("version") or RKNN_VERSION)
