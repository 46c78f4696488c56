"""`purecaffe verify MODEL OUT --input-shape ...`: layer-by-layer parity of converted files."""
from __future__ import annotations

import argparse
from pathlib import Path

from purecaffe.cli.int8_args import INT8, add_int8_arguments
from purecaffe.cli.model_factory import MODEL_HELP, add_model_arguments
from purecaffe.errors import PurecaffeError
from purecaffe.parity.backends import BACKENDS
from purecaffe.targets.judges import FLOAT32, FP16
from purecaffe.realcaffe.backend import BACKEND_NAMES
from purecaffe.tpumlir.judge import PROCESSORS, QUANTIZE, Deploy


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="compare converted Caffe files with the PyTorch model, layer by layer",
        description="Run the PyTorch model and the converted Caffe net (OUT.prototxt + OUT.caffemodel, mapped "
                    "by OUT.purecaffe.json) on the same inputs and compare every Caffe blob with the PyTorch "
                    "tensor it stands for. Exit status 1 when any blob is outside the tolerance, naming the "
                    "first layer that diverges and the PyTorch module behind it.")
    parser.add_argument("model", metavar="MODEL", help=f"the model, as given to `purecaffe convert`: {MODEL_HELP}")
    parser.add_argument("output", metavar="OUT", help="the converted files' path without suffix")
    parser.add_argument("--input-shape", action="append", metavar="D,D,...",
                        help="shape of a random example input (once per input, in order)")
    parser.add_argument("--inputs", metavar="X.npz", help="inputs from an .npz instead of random ones: one array per "
                                                          "net input, named after its blob (or in input order)")
    add_model_arguments(parser)
    parser.add_argument("--backend", choices=BACKENDS, default="runtime",
                        help="runtime: purecaffe's in-process Caffe-semantics interpreter (default); caffe: real "
                             "Caffe 1.0 (Docker or Debian rootfs); opencv: OpenCV DNN 4.x; rknn: RKNN-Toolkit2's "
                             "fp16 simulator (its own cached venv, see `purecaffe rknn-venv`), or int8 with "
                             "--quantize INT8 --calibration CALIB; tpu-mlir: Sophgo's "
                             "tpu-mlir front end and fp32 interpreter, or with --quantize a compiled model "
                             "(INT8: calibrated, its tpu-level MLIR simulated) "
                             "(`purecaffe tpu-mlir-venv`); mnn: MNN's converter and CPU runtime (`purecaffe mnn-venv`)")
    parser.add_argument("--processor", choices=PROCESSORS, default=None,
                        help="tpu-mlir: compile for this chip (default bm1684x when --quantize is given)")
    parser.add_argument("--quantize", choices=(*QUANTIZE, INT8), type=str.upper, default=None,
                        help="tpu-mlir: compile in this precision and judge the compiled model's outputs with "
                             "model_runner (F16: the fp16 bounds; BF16: cosine >= 0.999, 1e-1 x max|torch|); "
                             "rknn and tpu-mlir: INT8 with --calibration, both int8 routes (see the int8 options)")
    parser.add_argument("--disable-layer-group", action="store_true",
                        help="tpu-mlir: model_deploy --disable_layer_group (see the README: cv181x BF16)")
    parser.add_argument("--caffe-backend", choices=BACKEND_NAMES, default="auto",
                        help="route to real Caffe for --backend caffe (default auto)")
    parser.add_argument("--rtol", type=float, default=None,
                        help=f"per-blob tolerance as a fraction of max|torch tensor| (default {FLOAT32.rtol:g}; "
                             f"rknn: {FP16.rtol:g}, plus cosine >= {FP16.min_cosine:g})")
    parser.add_argument("--atol", type=float, default=None,
                        help=f"absolute floor of the tolerance (default {FLOAT32.atol:g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--report", metavar="FILE", help="also write a self-contained report: .html or .md")
    add_int8_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from purecaffe.cli.int8_args import input_shapes, int8_request
    from purecaffe.cli.model_factory import model_from_args, random_inputs
    from purecaffe.io.atomic import atomic_write
    from purecaffe.io.inputs_npz import read_inputs_npz
    from purecaffe.io.sidecar import output_paths, read_sidecar
    from purecaffe.parity import progress, verify

    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".md"):
        raise PurecaffeError(f"--report {args.report}: the file must end in .html or .md")
    model = model_from_args(args)
    sidecar = read_sidecar(output_paths(args.output).sidecar) if args.inputs or args.quantize == INT8 else {}
    int8 = int8_request(args, input_shapes(sidecar))
    if args.inputs:
        names = [entry["blob"] for entry in sidecar.get("inputs", [])]
        inputs = tuple(torch.from_numpy(a) for a in read_inputs_npz(args.inputs, names).values())
    elif int8 is not None and not args.input_shape:  # the first calibration sample is the probe
        inputs = tuple(torch.from_numpy(array) for array in int8[1][0].values())
    else:
        inputs = random_inputs(args, model)
        if inputs is None:
            raise PurecaffeError("give --input-shape (random inputs) or --inputs X.npz")
    with progress.shown():  # which stage, how long: shown without -v
        report = verify(model, inputs, args.output, backend=args.backend, rtol=args.rtol, atol=args.atol,
                        caffe_backend=args.caffe_backend, deploy=None if int8 is not None else _deploy(args),
                        quantize=None if int8 is None else int8[0], evaluate=() if int8 is None else int8[1],
                        onnx_baseline=not args.no_onnx_baseline)
    print(report.to_json() if args.json else report.to_table())
    if args.report:
        rendered = report.to_markdown() if args.report.lower().endswith(".md") else report.to_html()
        with atomic_write(args.report, "w") as handle:
            handle.write(rendered)
    return 0 if report.passed else 1


def _deploy(args: argparse.Namespace) -> Deploy | None:
    if args.quantize is None:
        if args.processor is not None or args.disable_layer_group:
            raise PurecaffeError("--processor and --disable-layer-group go with --quantize (a compiled tpu-mlir model)")
        return None
    if args.backend != "tpu-mlir":
        raise PurecaffeError(f"--quantize is for --backend tpu-mlir, not {args.backend}")
    return Deploy(args.processor or "bm1684x", args.quantize, args.disable_layer_group)
