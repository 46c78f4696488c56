"""Read one Caffe net with tpu-mlir's Caffe front end, run it, optionally compile and run it for a chip.

    <venv>/bin/python run_tpumlir.py JOB_DIR          (the files: jobio)

request.json: {"prototxt", "caffemodel", "name", "inputs": [names], "shapes": [[dims] per input],
               "outputs": [net output blobs], "dump": bool,
               "deploy": null | {"processor", "quantize", "disable_layer_group": bool}}
outputs.npz:  "top:<name>" every tensor of the fp32 top-level MLIR (its interpreter, by tpu-mlir's
              location names: a blob written by n layers is "blob/n-1" ... "blob/1", "blob");
              "deployed:<i>" the i-th returned value of the compiled model, run by model_runner
result.json:  {"ok", "error", "stage", "top": [names], "returned": [names of the values the top MLIR
               returns, in order], "deployed": n, "seconds_transform", "seconds_top", "seconds_deploy",
               "seconds_run", "version"}

Steps, as a user runs them: `model_transform` (here its CaffeTransformer, in this process: its Caffe
front end imports torch only to permute Deconvolution weights, and PyPI's torch for Python 3.10
is a CUDA build that does not import, so a numpy transpose stands in for that one call:
tpumlir_standins/torch), the
top-level MLIR interpreter on every tensor (`mlir_inference`, what `model_transform --debug`
saves as *_top_outputs.npz), then `model_deploy.py --skip_validation` and `model_runner.py` as
child processes with tpu-mlir's own environment (its `import tpu_mlir` sets PATH and
LD_LIBRARY_PATH for them).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback

import numpy as np

import jobio

SUFFIX = {"cv180x": ".cvimodel", "cv181x": ".cvimodel", "cv182x": ".cvimodel", "cv183x": ".cvimodel",
          "cv186x": ".cvimodel"}
"""model_deploy wants the file suffix of the chip family: .cvimodel for CV18xx, else .bmodel."""


STANDINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tpumlir_standins")
"""Stand-ins for torch and onnxsim, which tpu-mlir's tools import but its venv lacks (tpumlir_standins/__init__.py)."""


def _use_stand_ins() -> None:
    """The stand-ins first on this process's path and on the path of the tpu-mlir tools it starts."""
    if STANDINS not in sys.path:
        sys.path.insert(0, STANDINS)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if STANDINS not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([STANDINS, *[path for path in paths if path]])


def _where(error: BaseException) -> str:
    """`Type: message` of a toolchain exception, and for a bare assert the line of tpu-mlir that failed."""
    text = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if text:
        return f"{type(error).__name__}: {text[-1]}"
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    if last is None:
        return type(error).__name__
    return f"{type(error).__name__} at {os.path.basename(last.filename)}:{last.lineno}: {(last.line or '').strip()}"


def _returned(parser: object) -> list[str]:
    """The names of the values the top-level MLIR returns, in return order: the net's outputs as tpu-mlir made them."""
    from utils.mlir_parser import Operation

    names = []
    for operand in parser.return_op.operands:
        for op in parser.body.operations:
            if op != parser.return_op and operand in op.results:
                names.append(Operation.outputs(op)[list(op.results).index(operand)])
    return names


def _tool(package: str, name: str, arguments: list[str], stage: str, job: str) -> None:
    """Run one of tpu-mlir's command-line tools as a child process (its environment set up by `import tpu_mlir`)."""
    log_path = os.path.join(job, jobio.LOG)
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(f"$ {name} {' '.join(arguments)}\n")
        log_file.flush()
        done = subprocess.run([sys.executable, os.path.join(package, "python", "tools", name), *arguments],
                              stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        lines = [line for line in jobio.log_lines(log_path) if "rror" in line or "ssert" in line]
        raise jobio.Refused(stage, f"{name} exited {done.returncode}" + (f": {lines[-1]}" if lines else ""))


def _deploy(request: dict, job: str, package: str, inputs: dict[str, np.ndarray], result: dict,
            top: dict[str, np.ndarray]) -> dict:
    deploy = request["deploy"]
    name = request["name"]
    model = f"{name}_{deploy['quantize'].lower()}{SUFFIX.get(deploy['processor'], '.bmodel')}"
    arguments = ["--mlir", f"{name}.mlir", "--quantize", deploy["quantize"], "--processor", deploy["processor"],
                 "--model", model, "--skip_validation"]
    if deploy.get("disable_layer_group"):
        arguments.append("--disable_layer_group")
    result["stage"] = "deploy"
    started = time.monotonic()
    _tool(package, "model_deploy.py", arguments, "deploy", job)
    result["seconds_deploy"] = round(time.monotonic() - started, 3)
    np.savez("deploy_inputs.npz", **inputs)
    result["stage"] = "model_runner"
    started = time.monotonic()
    _tool(package, "model_runner.py", ["--input", "deploy_inputs.npz", "--model", model, "--output",
                                       "deployed.npz"], "model_runner", job)
    result["seconds_run"] = round(time.monotonic() - started, 3)
    arrays = {}
    with np.load("deployed.npz") as produced:
        for index, output in enumerate(result["returned"]):
            key = next((k for k in (f"{output}_f32", output) if k in produced.files), None)
            if key is None:
                raise jobio.Refused("model_runner", f"model_runner gave no output {output} (it gave "
                                                    f"{', '.join(produced.files) or 'none'})")
            value = produced[key]
            if output in top and value.shape != top[output].shape and value.size == top[output].size:
                value = value.reshape(top[output].shape)  # CV18xx models hand back 4-D outputs: (1, 10, 1, 1)
            arrays[f"deployed:{index}"] = value
    result["deployed"] = len(result["returned"])
    return arrays


def run(job: str, request: dict, result: dict) -> None:
    result["stage"] = "import"
    _use_stand_ins()
    import tpu_mlir

    result["version"] = getattr(tpu_mlir, "__version__", None) or _version()
    from tools.model_runner import mlir_inference
    from tools.model_transform import CaffeTransformer

    inputs = jobio.read_inputs(job, request["inputs"])
    work = os.path.join(job, "work")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)  # tpu-mlir writes its files into the working directory
    name = request["name"]
    result["stage"] = "transform"
    started = time.monotonic()
    try:
        tool = CaffeTransformer(name, request["prototxt"], request["caffemodel"], request["shapes"], [])
        tool.model_transform(f"{name}.mlir")
        result["returned"] = _returned(tool.module_parsered)
    except Exception as error:  # noqa: BLE001  its refusals are RuntimeErrors, asserts, KeyErrors...
        raise jobio.Refused("transform", f"model_transform failed: {_where(error)}") from error
    result["seconds_transform"] = round(time.monotonic() - started, 3)
    result["stage"] = "top"
    started = time.monotonic()
    try:
        tensors = mlir_inference(dict(inputs), f"{name}.mlir", dump_all=bool(request.get("dump", True)))
    except Exception as error:  # noqa: BLE001
        raise jobio.Refused("top", f"the top-level MLIR interpreter failed: {_where(error)}") from error
    result["seconds_top"] = round(time.monotonic() - started, 3)
    arrays = {f"top:{key}": value for key, value in tensors.items()}
    result["top"] = list(tensors)
    if request.get("deploy"):
        arrays.update(_deploy(request, job, tpu_mlir.package_path, inputs, result, tensors))
    jobio.save_outputs(job, arrays)


def _version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("tpu_mlir")
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(jobio.serve(run, sys.argv))
