"""Stand-ins for two packages tpu-mlir's tools import but the judge's venv does not hold.

Put this folder first on the path (`sys.path`, or PYTHONPATH for tpu-mlir's own tools run as child
processes) and `import torch` / `import onnxsim` find these:

* `torch`: PyPI's torch for Python 3.10 is a CUDA build that does not import here (measured:
  `libcudnn.so.9: cannot open shared object file`).  tpu-mlir 1.30.2 imports it at the top of its
  calibration modules (kld_calibrator, simple_tunner, transformer_pattern: used only under the
  `use_torch_observer_for_cali` debug command) and calls it in two places on the paths the judge
  runs: the Caffe front end permutes Deconvolution weights, `np.array(torch.tensor(w).permute(order))`,
  and the ONNX front end's ConstantFolding reads its inputs as `torch.tensor(x).numpy()`.  Anything
  else raises AttributeError naming it.  onnxruntime_extensions (imported by the ONNX front end) takes
  torch as optional but, finding one, subclasses torch.autograd.Function and torch.nn.Module at
  import: run_tpumlir_int8.py imports it before the stand-ins go on the path.
* `onnxsim`: the ONNX front end imports `onnxsim.onnx_simplifier` at its top and calls `simplify`
  inside a try that logs "onnxsim opt failed." and goes on with the model as it is.  The stand-in
  raises there, so the ONNX route reads the graph `torch.onnx.export` wrote (BatchNorm already
  folded by its constant folding), as a user without onnx-simplifier gets it.
"""
