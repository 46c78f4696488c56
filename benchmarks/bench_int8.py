"""int8 on RKNN-Toolkit2 and tpu-mlir: the Caffe route (purecaffe's files through the toolchain's Caffe front
end) beside the toolchain's own ONNX route (`torch.onnx.export` -> `load_onnx` / `model_transform`), same
calibration images, same settings, one run.

    nice -n 10 python benchmarks/bench_int8.py [--size 128] [--models resnet18,mobilenet_v2,...]
                                               [--toolchains rknn,tpu-mlir]

Models (random init, nothing downloaded): torchvision ResNet-18 and MobileNetV2, Ultralytics YOLOv8n
(from its YAML) cut at the Detect head's raw per-level convolutions, segmentation_models_pytorch's
U-Net (ResNet-18 encoder) and a CRNN-style text recognizer (convolutions down to one row, the columns
as a sequence, a per-column classifier).  Each gets BatchNorm statistics from scikit-image's bundled
photos (train-mode passes) so activations have a trained net's ranges, is converted for each toolchain's
target (rknn; sophgo for tpu-mlir; `--target`: another's files for both), then both routes are built int8
(calibration: 8 of the photos; RKNN's normal/channel quantization, tpu-mlir's kl calibration for
bm1684x, simulated by its int8 tpu-level MLIR) and run on all the photos.  Printed per model, toolchain
and route: the worst output's mean cosine to PyTorch over the photos, top-1/top-5 agreement for the
classifiers, the worst layer (cosine of the int8 value to the toolchain's own float32 run of that
layer), the seconds the route took, and the gap (Caffe minus ONNX; goal >= -0.001).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import purecaffe
from purecaffe.calibration import Preprocess, fit_batchnorm_statistics, read_calibration, sample_images
from purecaffe.int8 import Int8Comparison, int8_routes
from purecaffe.rknn import RknnQuantization
from purecaffe.tpumlir.int8 import TpuMlirQuantization

IMAGENET = Preprocess(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), order="rgb")
GRAY = Preprocess(mean=(127.5,), std=(127.5,), resize="center-crop")
CALIBRATION_COUNT = 8
GOAL = -0.001


class YoloRawHead(nn.Module):
    """YOLOv8's backbone + neck + the Detect head's raw per-level outputs (box and class convolutions,
    concatenated), what NPU users deploy with decoding on the CPU.  Index-based, not module identity."""

    def __init__(self, detection: nn.Module) -> None:
        super().__init__()
        self.detection = detection

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layers, saved, kept = self.detection.model, self.detection.save, []
        for index, module in enumerate(layers):
            if module.f != -1:
                x = kept[module.f] if isinstance(module.f, int) else [x if j == -1 else kept[j] for j in module.f]
            if index == len(layers) - 1:
                return tuple(torch.cat((module.cv2[k](x[k]), module.cv3[k](x[k])), 1) for k in range(module.nl))
            x = module(x)
            kept.append(x if module.i in saved else None)
        raise AssertionError("unreachable: the last layer is the Detect head")


class Crnn(nn.Module):
    """A CRNN-style recognizer without the recurrent part: VGG-ish convolutions to a 1-row map, its
    columns as a sequence (permute), a per-column classifier (37 symbols)."""

    def __init__(self, classes: int = 37) -> None:
        super().__init__()

        def block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            return layers + ([nn.MaxPool2d(pool, pool)] if pool else [])

        self.features = nn.Sequential(*block(1, 32, (2, 2)), *block(32, 64, (2, 2)), *block(64, 128, None),
                                      *block(128, 128, (2, 1)), *block(128, 256, (2, 1)), *block(256, 256, (2, 1)))
        self.classifier = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)                    # N, 256, 1, W/4
        sequence = features.squeeze(2).permute(0, 2, 1)   # N, W/4, 256
        return self.classifier(sequence)


def _resnet18() -> nn.Module:
    import torchvision

    return torchvision.models.resnet18(weights=None)


def _mobilenet_v2() -> nn.Module:
    import torchvision

    return torchvision.models.mobilenet_v2(weights=None)


def _yolov8n() -> nn.Module:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.nn.tasks import DetectionModel

    return YoloRawHead(DetectionModel("yolov8n.yaml", verbose=False))


def _unet() -> nn.Module:
    import segmentation_models_pytorch as smp

    return smp.Unet(encoder_name="resnet18", encoder_weights=None, classes=2)


def _mobilenet_v3_small() -> nn.Module:
    import torchvision

    return torchvision.models.mobilenet_v3_small(weights=None)


def _deeplabv3plus() -> nn.Module:
    import segmentation_models_pytorch as smp

    return smp.DeepLabV3Plus(encoder_name="resnet18", encoder_weights=None, classes=2)


MODELS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "resnet18": (_resnet18, "rgb"), "mobilenet_v2": (_mobilenet_v2, "rgb"), "yolov8n": (_yolov8n, "rgb"),
    "unet": (_unet, "rgb"), "crnn": (Crnn, "gray"),
    # Beyond the acceptance list: HardSwish/HardSigmoid (Power/ReLU/Eltwise chains on rknn) and
    # bilinear resizing (fixed-weight InnerProduct + Convolution on rknn).
    "mobilenet_v3_small": (_mobilenet_v3_small, "rgb"), "deeplabv3plus": (_deeplabv3plus, "rgb"),
}
DEFAULT_MODELS = ("resnet18", "mobilenet_v2", "yolov8n", "unet", "crnn")


TOOLCHAINS: dict[str, tuple[str, Callable[[tuple, str], object]]] = {
    "rknn": ("rknn", lambda samples, algorithm: RknnQuantization(samples, algorithm=algorithm)),
    "tpu-mlir": ("sophgo", lambda samples, algorithm: TpuMlirQuantization(samples)),
}
"""Each toolchain's target (what its users convert for) and int8 build from the calibration samples."""


def measure(name: str, size: int, images: Path, scratch: Path, algorithm: str, target: str | None,
            toolchains: list[str]) -> list[tuple[str, Int8Comparison]]:
    factory, kind = MODELS[name]
    torch.manual_seed(0)
    model = factory().eval()
    shape = (1, 1, 32, size) if kind == "gray" else (1, 3, size, size)
    samples = read_calibration(images, {"data": shape}, GRAY if kind == "gray" else IMAGENET)
    fit_batchnorm_statistics(model, [torch.cat([torch.from_numpy(s["data"]) for s in samples])])
    probe = (torch.from_numpy(samples[0]["data"]),)
    results = []
    for toolchain in toolchains:
        default_target, quantization = TOOLCHAINS[toolchain]
        prefix = scratch / f"{name}-{toolchain}"
        purecaffe.convert(model, probe, name=name, target=target or default_target, input_names=["data"]).save(prefix)
        results.append((toolchain, int8_routes(model, probe, prefix, quantization(samples[:CALIBRATION_COUNT], algorithm),
                                               evaluate=samples)))
    return results


def _row(name: str, toolchain: str, result: Int8Comparison) -> list[str]:
    cells = [name, toolchain]
    for route in (result.caffe, result.onnx):
        if route is None or not route.ok:
            cells += [f"refused: {route.error if route else '-'}"[:40], "", "", "", ""]
            continue
        worst = route.worst_layers(1)
        cells += [f"{route.min_output_cosine:.5f}",
                  "-" if route.top1 is None else f"{route.top1:.2f}/{route.topk:.2f}",
                  f"{worst[0].cosine:.5f}" if worst else "-", worst[0].layer[:28] if worst else "-",
                  f"{route.seconds:.0f}"]
    gap = result.gap()
    cells.append("-" if gap is None else f"{gap:+.5f}" + ("" if gap >= GOAL else "  BELOW GOAL"))
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128, help="input H = W (CRNN: 32 x SIZE); default 128")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--toolchains", default="rknn,tpu-mlir", help=f"comma-separated, from {', '.join(TOOLCHAINS)}")
    parser.add_argument("--target", default=None, help="convert for this target (default: each toolchain's, rknn and "
                        "sophgo); the toolchains read other targets' files too, which measures their constructions "
                        "under int8 (caffe1: ReLU6 as relu(x) - relu(x - 6))")
    parser.add_argument("--algorithm", default="normal", help="RKNN quantized_algorithm (normal, mmse, kl_divergence)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)}")
    toolchains = [n for n in args.toolchains.split(",") if n]
    if not toolchains or any(n not in TOOLCHAINS for n in toolchains):
        parser.error(f"--toolchains: choose from {', '.join(TOOLCHAINS)}")
    header = ["model", "toolchain", "caffe cos", "top1/top5", "caffe worst layer", "(layer)", "s", "onnx cos",
              "top1/top5", "onnx worst layer", "(layer)", "s", "caffe - onnx"]
    rows = [header]
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as scratch:
        images = Path(scratch) / "images"
        sample_images(images)
        for name in names:
            started = time.monotonic()
            for toolchain, result in measure(name, args.size, images, Path(scratch), args.algorithm, args.target,
                                             toolchains):
                rows.append(_row(name, toolchain, result))
            print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"int8: RKNN-Toolkit2 (rk3588, {args.algorithm}/channel, target {args.target or 'rknn'} files), tpu-mlir "
          f"(bm1684x, kl, target {args.target or 'sophgo'} files); {CALIBRATION_COUNT} calibration photos, scored over "
          f"all photos; input {args.size}; s: seconds a route took:")
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
