"""RKNN's fp16 simulator against the runtime's fp16-storage mode and against PyTorch's float32, per blob.

    PYTHONPATH=. python3 benchmarks/fp16_reference.py resnet50 mobilenet_v2 inception_v3 [--wrong LAYER]

For each torchvision model (random init, BatchNorm statistics from scikit-image's sample photos,
`purecaffe.calibration`), converted for `rknn` and run in RKNN's simulator with its per-layer dump,
prints the worst blob and the net outputs as 1 - cosine and max|err| / max|ref| for

* rknn-fp16ref: RKNN against the runtime in fp16 storage (the fp16 judge's reference),
* rknn-fp32:    RKNN against PyTorch float32 (what the old judge used),
* fp16ref-fp32: the runtime's fp16 storage against PyTorch float32 (the fp16 cost),

and the smallest ratio k at which every blob passes `1 - cos(rknn, fp16ref) <= k (1 - cos(fp16ref, fp32)) + floor`
(and the same for max-rel)
(`--wrong LAYER` scales that Convolution's weights by 1.05 in the caffemodel first: a misread layer).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision

import purecaffe
from purecaffe.calibration import Preprocess, fit_batchnorm_statistics, read_calibration, sample_images
from purecaffe.io.weights import load_weights, save_weights
from purecaffe.parity.backends import rknn_layer_outputs
from purecaffe.rknn import run_rknn
from purecaffe.runtime import run

SIZES = {"inception_v3": 299}
PREPROCESS = Preprocess(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), order="rgb")


def model_named(name: str) -> torch.nn.Module:
    kwargs = {"aux_logits": False, "init_weights": True} if name == "inception_v3" else {}
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None, **kwargs).eval()


def distance(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(1 - cosine, max|got - ref| / max|ref|) in float64."""
    got, ref = np.asarray(got, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    norms = np.linalg.norm(got) * np.linalg.norm(ref)
    cosine = float(got @ ref / norms) if norms else 1.0
    return 1.0 - cosine, float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))


def measure(name: str, work: Path, wrong: str | None) -> None:
    size = SIZES.get(name, 224)
    model = model_named(name)
    samples = read_calibration(work / "images", {"data": (1, 3, size, size)}, PREPROCESS)
    fit_batchnorm_statistics(model, [torch.from_numpy(s["data"]) for s in samples])
    x = torch.from_numpy(samples[0]["data"])
    converted = purecaffe.convert(model, (x,), target="rknn")
    files = converted.save(work / name)
    if wrong is not None:
        weights = load_weights(files.caffemodel)
        weights[wrong] = [weights[wrong][0] * np.float32(1.05), *weights[wrong][1:]]
        save_weights(files.caffemodel, weights, net=converted.net)
    fp32 = converted.torch_values((x,))
    inputs = {converted.input_names[0]: x.numpy()}
    ref = run(converted.net, load_weights(files.caffemodel), inputs, fp16_storage=True)
    rknn = rknn_layer_outputs(run_rknn(files.prototxt, files.caffemodel, inputs), files.prototxt, inputs, "fp16")
    if rknn.error:
        print(f"{name}: RKNN refused: {rknn.error}")
        return
    rows = []
    seen = set()
    for record in converted.mapping:
        tops = rknn.after(record.layer)
        if tops is None or record.blob not in tops or (record.layer, record.blob) in seen:
            continue
        seen.add((record.layer, record.blob))
        fp16ref = dict(ref.step(record.layer).tops)[record.blob]
        got = tops[record.blob]
        rows.append((record.layer, distance(got, fp16ref), distance(got, fp32[record.torch_name]),
                     distance(fp16ref, fp32[record.torch_name])))
    outputs = [row for row in rows if any(r.layer == row[0] and r.blob in converted.output_names
                                          for r in converted.mapping)]
    floor, max_floor = 1e-6, 5e-3

    def worst(i: int, j: int) -> tuple[str, float]:
        layer, value = max(((row[0], row[i][j]) for row in rows), key=lambda item: item[1])
        return layer, value

    ratio = max((row[1][0] - floor) / max(row[3][0], 1e-12) for row in rows)
    ratio_max = max((row[1][1] - max_floor) / max(row[3][1], 1e-12) for row in rows)
    print(f"{name} ({len(rows)} blobs in RKNN's dump){' with ' + wrong + ' x1.05' if wrong else ''}")
    for label, i in (("rknn-fp16ref", 1), ("rknn-fp32", 2), ("fp16ref-fp32", 3)):
        (l1, c), (l2, m) = worst(i, 0), worst(i, 1)
        out = ", ".join(f"{row[i][0]:.2e}/{row[i][1]:.2e}" for row in outputs)
        print(f"  {label:13s} worst 1-cos {c:.2e} ({l1}), worst max-rel {m:.2e} ({l2}); output 1-cos/max-rel {out}")
    print(f"  k = max (1-cos(rknn, fp16ref) - {floor:g}) / (1-cos(fp16ref, fp32)) = {ratio:.2f}; "
          f"max (max-rel(rknn, fp16ref) - {max_floor:g}) / max-rel(fp16ref, fp32) = {ratio_max:.2f}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--wrong", help="scale this Convolution's weights by 1.05 first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sample_images(work / "images")
        for name in args.models:
            measure(name, work, args.wrong)


if __name__ == "__main__":
    main()
