"""Quantize one net to int8 with tpu-mlir and simulate it: the Caffe files, or an ONNX file (the toolchain's own route).

    <venv>/bin/python run_tpumlir_int8.py JOB_DIR          (the files: jobio)

request.json: {"caffe": {"prototxt", "caffemodel"} | null, "onnx": an .onnx path | null, "name",
               "inputs": [names], "shapes": [[dims] per input], "processor", "method" (run_calibration's
               --cali_method), "calibration": n (JOB/calibration/<i>.npz, one sample each, by input name),
               "evaluate": n (evaluate.npz: per input an (n, ...) array, one row a sample), "bmodel": bool}
outputs.npz:  "top:<name>" every tensor of the fp32 top-level MLIR on the probe (inputs.npz), what the
              int8 model was calibrated from; "int8:<name>" every tensor of the int8 tpu-level MLIR on the
              probe, as float (its interpreter dequantizes each int8 tensor by its scale); "output:<i>" the
              i-th returned value of the int8 model on the probe; "evaluate:<s>:<i>" the same for evaluation
              sample s; "bmodel:<i>" (with "bmodel") the compiled bmodel's on the probe, run by model_runner
result.json:  {"ok", "error", "stage", "returned": [names the top MLIR returns, in order], "seconds_transform",
               "seconds_calibration", "seconds_deploy", "seconds_int8", "seconds_bmodel", "version"}

Steps, as a user runs them: `model_transform` (in this process, as run_tpumlir.py does), the top-level
interpreter on the probe, `run_calibration.py top.mlir --dataset DIR` on the calibration samples,
`model_deploy.py --quantize INT8 --calibration_table ... --not_gen_bmodel` (the tpu-level MLIR: lowering,
no code generation) and its interpreter on every sample (what `model_runner.py --model *_tpu.mlir`
runs; measured on ResNet-18 at 128 x 128: 0.08 s a sample, where the bmodel takes 3.6 s to compile and 14 s
to run in the chip's simulator with the same output, cosine 0.99718 to PyTorch both).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import jobio
from run_tpumlir import SUFFIX, _returned, _tool, _use_stand_ins, _version, _where

CALIBRATION = "calibration"


def _transform(request: dict, name: str) -> list[str]:
    """The fp32 top-level MLIR `<name>.mlir` from the Caffe files or the ONNX file; the names it returns."""
    from tools.model_transform import CaffeTransformer, OnnxTransformer

    if request.get("onnx"):
        tool = OnnxTransformer(name, request["onnx"], input_shapes=request["shapes"])
    else:
        caffe = request["caffe"]
        tool = CaffeTransformer(name, caffe["prototxt"], caffe["caffemodel"], request["shapes"], [])
    tool.model_transform(f"{name}.mlir")
    return _returned(tool.module_parsered)


def _interpreter(mlir: str) -> object:
    import pymlir

    pymlir.set_mem_mode("value_mem")
    module = pymlir.module()
    module.load(mlir)
    return module


def _invoke(module: object, sample: dict[str, np.ndarray]) -> None:
    for name in module.input_names:
        value = np.ascontiguousarray(sample[name], dtype=np.float32)
        module.set_tensor(name, value, value.shape)
    module.invoke(True)  # fixed_to_float: int8 tensors come back dequantized


def _imports() -> None:
    """onnxruntime_extensions before the torch stand-in is on the path: the ONNX front end imports it, and
    it takes torch as optional (`except ImportError`) but, finding one, subclasses torch.autograd.Function,
    torch.nn.Module and more at import time (tpumlir_standins/__init__.py)."""
    if "torch" not in sys.modules:
        import onnxruntime_extensions  # noqa: F401
    _use_stand_ins()


def run(job: str, request: dict, result: dict) -> None:
    result["stage"] = "import"
    _imports()
    import tpu_mlir

    result["version"] = getattr(tpu_mlir, "__version__", None) or _version()
    from tools.model_runner import mlir_inference

    names_in = request["inputs"]
    probe = jobio.read_inputs(job, names_in)
    work = os.path.join(job, "work")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)  # tpu-mlir writes its files into the working directory
    name, processor = request["name"], request["processor"]

    result["stage"] = "transform"
    started = time.monotonic()
    try:
        result["returned"] = _transform(request, name)
    except Exception as error:  # noqa: BLE001  its refusals are RuntimeErrors, asserts, KeyErrors...
        raise jobio.Refused("transform", f"model_transform failed: {_where(error)}") from error
    result["seconds_transform"] = round(time.monotonic() - started, 3)
    result["stage"] = "top"
    try:
        top = mlir_inference(dict(probe), f"{name}.mlir", dump_all=True)
    except Exception as error:  # noqa: BLE001
        raise jobio.Refused("top", f"the top-level MLIR interpreter failed: {_where(error)}") from error
    arrays = {f"top:{key}": value for key, value in top.items()}

    result["stage"] = "calibration"
    started = time.monotonic()
    table = f"{name}_cali_table"
    _tool(tpu_mlir.package_path, "run_calibration.py",
          [f"{name}.mlir", "--dataset", os.path.join(job, CALIBRATION), "--input_num", str(request["calibration"]),
           "--cali_method", request["method"], "--processor", processor, "-o", table], "calibration", job)
    result["seconds_calibration"] = round(time.monotonic() - started, 3)

    result["stage"] = "deploy"
    started = time.monotonic()
    deploy = ["--mlir", f"{name}.mlir", "--quantize", "INT8", "--calibration_table", table, "--processor", processor,
              "--model", f"{name}_int8{SUFFIX.get(processor, '.bmodel')}"]
    _tool(tpu_mlir.package_path, "model_deploy.py", [*deploy, "--not_gen_bmodel"], "deploy", job)
    result["seconds_deploy"] = round(time.monotonic() - started, 3)

    result["stage"] = "int8"
    started = time.monotonic()
    try:
        module = _interpreter(f"{name}_{processor}_int8_sym_tpu.mlir")
        _invoke(module, probe)
        arrays.update({f"int8:{key}": value for key, value in module.get_all_tensor().items()})
        outputs = list(module.output_names)
        arrays.update({f"output:{i}": np.array(module.get_tensor(output)) for i, output in enumerate(outputs)})
        if request.get("evaluate"):
            with np.load(os.path.join(job, "evaluate.npz")) as archive:
                stacked = {key: archive[key] for key in names_in}
            for sample in range(request["evaluate"]):
                _invoke(module, {key: value[sample:sample + 1] for key, value in stacked.items()})
                arrays.update({f"evaluate:{sample}:{i}": np.array(module.get_tensor(output))
                               for i, output in enumerate(outputs)})
        del module
    except Exception as error:  # noqa: BLE001
        raise jobio.Refused("int8", f"the int8 tpu-level MLIR interpreter failed: {_where(error)}") from error
    result["int8_outputs"] = outputs
    result["seconds_int8"] = round(time.monotonic() - started, 3)

    if request.get("bmodel"):
        arrays.update(_bmodel(job, tpu_mlir.package_path, deploy, probe, outputs, result))
    jobio.save_outputs(job, arrays)


def _bmodel(job: str, package: str, deploy: list[str], probe: dict[str, np.ndarray], outputs: list[str],
            result: dict) -> dict[str, np.ndarray]:
    """The same int8 model compiled (`model_deploy` with code generation) and run by `model_runner` on the probe."""
    result["stage"] = "bmodel"
    started = time.monotonic()
    model = deploy[deploy.index("--model") + 1]
    _tool(package, "model_deploy.py", [*deploy, "--skip_validation"], "bmodel", job)
    np.savez("bmodel_inputs.npz", **probe)
    _tool(package, "model_runner.py", ["--input", "bmodel_inputs.npz", "--model", model, "--output", "bmodel.npz"],
          "bmodel", job)
    with np.load("bmodel.npz") as produced:
        missing = [output for output in outputs if output not in produced.files]
        if missing:
            raise jobio.Refused("bmodel", f"model_runner gave no output {', '.join(missing)} (it gave "
                                          f"{', '.join(produced.files) or 'none'})")
        arrays = {f"bmodel:{i}": produced[output] for i, output in enumerate(outputs)}
    result["seconds_bmodel"] = round(time.monotonic() - started, 3)
    return arrays


if __name__ == "__main__":
    sys.exit(jobio.serve(run, sys.argv))
