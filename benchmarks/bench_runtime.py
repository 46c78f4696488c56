"""Forward time of the reference runtime next to PyTorch eager, on a ResNet-50-shaped net.

    python benchmarks/bench_runtime.py [--repeats 7] [--threads N]

The net is written here (no downloads): torchvision's ResNet-50 layout as a PyTorch module
(random init, fixed seed, random BatchNorm statistics, eval mode), and the same network as a
Caffe prototxt in the style of KaimingHe's deploy file (Convolution without bias, BatchNorm +
Scale, in-place ReLU, Eltwise SUM, ceil-mode pooling, InnerProduct, Softmax) with the module's
weights.  Both get the same 1x3x224x224 input in the same process; the outputs are compared
once as a sanity check, then each forward is timed `--repeats` times after one warm-up run
(the three measurements take turns, so a change in machine load hits all of them) and the
medians are printed with their ratio (target: runtime <= 3x eager).
The runtime is timed end to end (`purecaffe.runtime.run` with a loaded NetParameter and
weights dict: parameter unpacking, shape inference, weight checks and the forward pass),
with `keep_steps=False`; a second line times it with per-layer snapshots kept.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from purecaffe.io.prototxt import parse_net_text
from purecaffe.runtime import run

TARGET_RATIO = 3.0
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # width, blocks, stride


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != width * 4:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(width * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + identity)


class ResNet50(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, ceil_mode=True)
        blocks, cin = [], 64
        for width, count, stride in STAGES:
            for i in range(count):
                blocks.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.blocks(x)
        x = torch.flatten(nn.functional.avg_pool2d(x, 7), 1)
        return torch.softmax(self.fc(x), dim=1)


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
    return model.eval()


def caffe_twin(model: ResNet50) -> tuple[str, dict[str, list[np.ndarray]]]:
    """The prototxt text and weights dict of the same network, KaimingHe deploy style."""
    layers: list[str] = []
    weights: dict[str, list[np.ndarray]] = {}

    def array(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().astype(np.float32)

    def conv_bn(name: str, bottom: str, conv: nn.Conv2d, bn: nn.BatchNorm2d, relu: bool) -> str:
        k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        layers.append(f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" '
                      f'convolution_param {{ num_output: {conv.out_channels} kernel_size: {k} stride: {s} '
                      f'pad: {p} bias_term: false }} }}')
        layers.append(f'layer {{ name: "bn_{name}" type: "BatchNorm" bottom: "{name}" top: "{name}" '
                      f'batch_norm_param {{ use_global_stats: true eps: {bn.eps} }} }}')
        layers.append(f'layer {{ name: "scale_{name}" type: "Scale" bottom: "{name}" top: "{name}" '
                      f'scale_param {{ bias_term: true }} }}')
        if relu:
            layers.append(f'layer {{ name: "{name}_relu" type: "ReLU" bottom: "{name}" top: "{name}" }}')
        weights[name] = [array(conv.weight)]
        weights[f"bn_{name}"] = [array(bn.running_mean), array(bn.running_var), np.ones(1, np.float32)]
        weights[f"scale_{name}"] = [array(bn.weight), array(bn.bias)]
        return name

    top = conv_bn("conv1", "data", model.conv1, model.bn1, relu=True)
    layers.append('layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" '
                  'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }')
    top = "pool1"
    for i, block in enumerate(model.blocks):
        name = f"res{i}"
        shortcut = top if block.downsample is None else conv_bn(f"{name}_branch1", top, block.downsample[0],
                                                                 block.downsample[1], relu=False)
        y = conv_bn(f"{name}_branch2a", top, block.conv1, block.bn1, relu=True)
        y = conv_bn(f"{name}_branch2b", y, block.conv2, block.bn2, relu=True)
        y = conv_bn(f"{name}_branch2c", y, block.conv3, block.bn3, relu=False)
        layers.append(f'layer {{ name: "{name}" type: "Eltwise" bottom: "{shortcut}" bottom: "{y}" '
                      f'top: "{name}" }}')
        layers.append(f'layer {{ name: "{name}_relu" type: "ReLU" bottom: "{name}" top: "{name}" }}')
        top = name
    layers.append(f'layer {{ name: "pool5" type: "Pooling" bottom: "{top}" top: "pool5" '
                  'pooling_param { pool: AVE kernel_size: 7 stride: 1 } }')
    layers.append('layer { name: "fc1000" type: "InnerProduct" bottom: "pool5" top: "fc1000" '
                  'inner_product_param { num_output: 1000 } }')
    layers.append('layer { name: "prob" type: "Softmax" bottom: "fc1000" top: "prob" }')
    weights["fc1000"] = [array(model.fc.weight), array(model.fc.bias)]
    header = 'name: "ResNet-50-bench" input: "data" input_dim: 1 input_dim: 3 input_dim: 224 input_dim: 224\n'
    return header + "\n".join(layers), weights


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function; one warm-up each, then the functions take turns.

    Taking turns (rather than timing one function's repeats, then the next's) keeps a change
    in machine load from favouring one side of the ratio.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = randomized(ResNet50())
    text, weights = caffe_twin(model)
    net = parse_net_text(text)
    x = np.random.RandomState(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x_torch = torch.from_numpy(x)

    def eager() -> torch.Tensor:
        with torch.inference_mode():
            return model(x_torch)

    def runtime(keep_steps: bool = False) -> object:
        return run(net, weights, {"data": x}, keep_steps=keep_steps)

    difference = float(np.abs(runtime().blobs["prob"] - eager().numpy()).max())
    medians = interleaved_medians({"eager": eager, "runtime": runtime,
                                   "steps": lambda: runtime(keep_steps=True)}, args.repeats)
    eager_s, runtime_s, steps_s = medians["eager"], medians["runtime"], medians["steps"]
    print(f"ResNet-50 1x3x224x224, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} (max |prob diff| {difference:.2e})")
    print(f"  PyTorch eager                       {eager_s * 1000:8.1f} ms")
    print(f"  purecaffe.runtime.run               {runtime_s * 1000:8.1f} ms   ratio {runtime_s / eager_s:.2f}x "
          f"(target <= {TARGET_RATIO:.0f}x)")
    print(f"  purecaffe.runtime.run (keep_steps)  {steps_s * 1000:8.1f} ms   ratio {steps_s / eager_s:.2f}x")


if __name__ == "__main__":
    main()
