"""What tests ask of the target catalog: no test restates a target's layers, limits, schema or judge.

* `explained_by_catalog(error, target)`: a refusal cites only the catalog's facts (a layer type
  the target lacks, one of its limits, an unread top where it has no Silence).
* `target_schema(target)`: the toolchain's own caffe.proto from the team corpus, loaded.
* `JUDGE_RUNS[target.judge.backend]`: run a saved net on the target's judge the user's way,
  its outputs by name (real Caffe's blobs, OpenCV's forward(names), RKNN's, tpu-mlir's and MNN's outputs).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

import purecaffe
from corpus import corpus_dir
from judges import opencv
from purecaffe.converter import UnsupportedOpsError
from purecaffe.schema import CaffeSchema
from purecaffe.targets import Target
from purecaffe.targets.lint import schema_for

_FINDING = re.compile(r"becomes layer '[^']*' \((?P<type>\w+)\): .* \[(?P<rule>[\w-]+); [^\]]*\]$")


def explained_by_catalog(error: UnsupportedOpsError, target: Target) -> list[str]:
    """The problems of `error` that no catalog fact of `target` explains (empty: all explained)."""
    rules = {limit.rule for limit in target.limits}
    unexplained = []
    for problem in error.problems:
        found = _FINDING.search(problem.reason)
        if found is None:
            unexplained.append(problem.describe())
            continue
        rule, layer_type = found["rule"], found["type"]
        if rule == "layer-type" and not target.has(layer_type) or rule in rules or \
                rule == "unread-top" and not target.has("Silence"):
            continue
        unexplained.append(problem.describe())
    return unexplained


def target_schema(target: Target) -> CaffeSchema | None:
    """The target's own caffe.proto from the corpus (None where the catalog says it is not public)."""
    if target.schema is None:
        return None
    schema = schema_for(target, corpus_dir() / "protos")
    assert schema is not None, f"the corpus lacks {target.name}'s {target.schema}"
    return schema


JudgeRun = Callable[[Path, Path, Mapping[str, np.ndarray], Sequence[str]], dict[str, np.ndarray]]


def run_real_caffe(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
                   outputs: Sequence[str]) -> dict[str, np.ndarray]:
    from caffe_backend import get_real_caffe_backend
    from purecaffe.realcaffe import run_real_caffe as run

    result = run(prototxt, caffemodel, dict(feeds), backend=get_real_caffe_backend())
    assert result.ok, f"real Caffe refused the net: {result.error}"
    return {name: np.asarray(result.blobs[name]) for name in outputs}


def run_opencv(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
               outputs: Sequence[str]) -> dict[str, np.ndarray]:
    cv2 = opencv()
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    for name, value in feeds.items():
        net.setInput(value, name)
    return dict(zip(outputs, net.forward(list(outputs))))


def run_runtime(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
                outputs: Sequence[str]) -> dict[str, np.ndarray]:
    result = purecaffe.run(str(prototxt), str(caffemodel), dict(feeds))
    return {name: result.blobs[name] for name in outputs}


def run_rknn(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
             outputs: Sequence[str]) -> dict[str, np.ndarray]:
    from purecaffe.rknn import run_rknn as run
    from venv_judges import get_rknn_venv

    result = run(prototxt, caffemodel, dict(feeds), venv=get_rknn_venv(), dump_layers=False)
    assert result.error is None and not result.dropped, \
        f"RKNN refused or dropped layers: {result.error} {dict(result.dropped)}"
    return {name: np.asarray(result.outputs[name]) for name in outputs}


def run_tpumlir(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
                outputs: Sequence[str]) -> dict[str, np.ndarray]:
    from purecaffe.tpumlir import run_tpumlir as run
    from venv_judges import get_tpumlir_venv

    result = run(prototxt, caffemodel, dict(feeds), venv=get_tpumlir_venv(), dump_layers=False)
    assert result.error is None, f"tpu-mlir refused the net: {result.error}"
    return {name: np.asarray(result.outputs[name]) for name in outputs}


def run_mnn(prototxt: Path, caffemodel: Path, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str]) -> dict[str, np.ndarray]:
    from purecaffe.mnn import run_mnn as run
    from venv_judges import get_mnn_venv

    result = run(prototxt, caffemodel, dict(feeds), venv=get_mnn_venv(), dump_layers=False)
    assert result.error is None, f"MNN refused the net: {result.error}"
    return {name: np.asarray(result.outputs[name]) for name in outputs}


# By the catalog's judge backend (`Target.judge.backend`).
JUDGE_RUNS: dict[str, JudgeRun] = {"caffe": run_real_caffe, "opencv": run_opencv, "runtime": run_runtime,
                                   "rknn": run_rknn, "tpu-mlir": run_tpumlir, "mnn": run_mnn}
