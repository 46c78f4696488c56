"""Small nets and helpers the judges' tests share (RKNN, tpu-mlir, MNN)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

import purecaffe
from purecaffe.io.sidecar import SavedFiles


class ConvBnPoolLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.relu(self.bn(self.conv(x)))), 1))


class TwoHeads(nn.Module):
    """Two outputs of different shapes, the second written first in name order: which order does a judge use?"""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.zeta = nn.Conv2d(4, 6, 1)
        self.alpha = nn.Conv2d(4, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.stem(x))
        return self.zeta(y), self.alpha(y)


class Activation(nn.Module):
    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = activation
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.conv(x) * 4.0))


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fixed weights and non-trivial BatchNorm statistics (fresh ones hide BatchNorm/Scale mistakes)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def save_converted(model: nn.Module, x: torch.Tensor, prefix: Path, **convert: object
                   ) -> tuple[SavedFiles, list[np.ndarray]]:
    """The converted files and torch's outputs (as numpy, in order)."""
    files = purecaffe.convert(model, (x,), **convert).save(prefix)
    with torch.no_grad():
        out = model(x)
    return files, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def cosine(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.dot(got.ravel(), expected.ravel()) / (np.linalg.norm(got) * np.linalg.norm(expected)))


def assert_close(got: np.ndarray, expected: np.ndarray, *, rel: float, min_cosine: float | None = None) -> None:
    assert got.shape == expected.shape
    error = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert error <= rel, error
    if min_cosine is not None:
        assert cosine(got, expected) >= min_cosine, cosine(got, expected)


class RetinaFaceStyle(nn.Module):
    """RetinaFace's outputs as biubug6/Pytorch_Retinaface returns them: per-level box, class and landmark
    heads (1x1 convolutions, permuted to NHWC, viewed to (N, anchors, k)), concatenated over two levels,
    returned as (box, softmax(class), landmarks).  The softmax is computed in the return statement, after
    the landmark concat: written in graph order, the class scores would come last.  `k=(4, 4, 4)` makes
    all three outputs one shape, so a swap is silent by shape."""

    def __init__(self, k: tuple[int, int, int] = (4, 2, 10), anchors: int = 2) -> None:
        super().__init__()
        self.anchors, self.k = anchors, k
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.BboxHead = nn.ModuleList(nn.Conv2d(8, anchors * k[0], 1) for _ in range(2))
        self.ClassHead = nn.ModuleList(nn.Conv2d(8, anchors * k[1], 1) for _ in range(2))
        self.LandmarkHead = nn.ModuleList(nn.Conv2d(8, anchors * k[2], 1) for _ in range(2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        first = torch.relu(self.stem(x))
        levels = [first, torch.relu(self.down(first))]

        def head(convs: nn.ModuleList, k: int) -> torch.Tensor:
            return torch.cat([convs[i](f).permute(0, 2, 3, 1).contiguous().view(f.shape[0], -1, k)
                              for i, f in enumerate(levels)], dim=1)

        box = head(self.BboxHead, self.k[0])
        cls = head(self.ClassHead, self.k[1])
        landmarks = head(self.LandmarkHead, self.k[2])
        return box, torch.softmax(cls, dim=-1), landmarks


class MtcnnStyle(nn.Module):
    """facenet-pytorch's P-Net tail: face probabilities (softmax over 2 channels) computed first,
    box regression (4 channels) second, returned as (box, probabilities)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.conv4_1 = nn.Conv2d(10, 2, 1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(10, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(x))
        a = self.softmax4_1(self.conv4_1(x))
        b = self.conv4_2(x)
        return b, a


class CraftStyle(nn.Module):
    """EasyOCR's CRAFT tail: a feature map that is both returned and read by the class head,
    returned as (y.permute(0, 2, 3, 1), feature)."""

    def __init__(self) -> None:
        super().__init__()
        self.upconv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.conv_cls = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 2, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.upconv(x)
        y = self.conv_cls(feature)
        return y.permute(0, 2, 3, 1), feature


class Espcn(nn.Module):
    """ESPCN: convolutions, PixelShuffle, a final Sigmoid (the last layer an element-wise one)."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 3 * scale * scale, 3, padding=1)
        self.ps = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.ps(self.conv2(torch.tanh(self.conv1(x)))))


class DcganTail(nn.Module):
    """A DCGAN generator's last stages: ConvTranspose2d, BatchNorm, ReLU, ConvTranspose2d, Tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
            nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def conv_net(prefix: Path, layers: list[tuple[str, str, str, str, int]]) -> tuple[Path, Path]:
    """A hand-written net on a (1, 3, 8, 8) input `data`: (name, type, bottom, top, channels) per layer,
    1x1 convolutions (channels = num_output) and one-bottom layers of other types (channels unused).
    Outputs are told apart by their channel counts.  Returns the prototxt and caffemodel paths."""
    from purecaffe.io.prototxt import parse_net_text, write_net
    from purecaffe.io.weights import save_weights

    text = ['layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }']
    channels = {"data": 3}
    weights: dict[str, list[np.ndarray]] = {}
    rng = np.random.default_rng(0)
    for name, kind, bottom, top, count in layers:
        param = f" convolution_param {{ num_output: {count} kernel_size: 1 }}" if kind == "Convolution" else ""
        text.append(f'layer {{ name: "{name}" type: "{kind}" bottom: "{bottom}" top: "{top}"{param} }}')
        if kind == "Convolution":
            weights[name] = [rng.standard_normal((count, channels[bottom], 1, 1)).astype(np.float32),
                             rng.standard_normal(count).astype(np.float32)]
        channels[top] = count if kind == "Convolution" else channels[bottom]
    net = parse_net_text("\n".join(text))
    prototxt, caffemodel = prefix.with_suffix(".prototxt"), prefix.with_suffix(".caffemodel")
    write_net(net, prototxt)
    save_weights(caffemodel, {layer.name: weights.get(layer.name, []) for layer in net.layer}, net=net)
    return prototxt, caffemodel


# Hand-written nets that show each consumer's rule for the order of net outputs (targets/outputs.py).
ORDER_NETS: dict[str, list[tuple[str, str, str, str, int]]] = {
    # layers zz, aa, mm: file order and name order differ
    "file_vs_name": [("zz", "Convolution", "data", "zz", 2), ("aa", "Convolution", "data", "aa", 3),
                     ("mm", "Convolution", "data", "mm", 4)],
    # zz's last writer (a ReLU in place) comes after aa
    "inplace_last_writer": [("zz", "Convolution", "data", "zz", 2), ("aa", "Convolution", "data", "aa", 3),
                            ("zz_relu", "ReLU", "zz", "zz", 0)],
    # feat is also read by head: no consumer lists feat
    "read_output": [("feat", "Convolution", "data", "feat", 2), ("head", "Convolution", "feat", "head", 3)],
    # ... unless a one-top Split copies it
    "copied_output": [("feat", "Convolution", "data", "feat", 2), ("head", "Convolution", "feat", "head", 3),
                      ("out", "Split", "feat", "out", 0)],
}


class CrnnStyle(nn.Module):
    """A CRNN-style text recognizer as deployed: a VGG-like conv stack down to height 1, the columns as a
    (W, N, C) sequence, a bidirectional 2-layer LSTM, a per-step linear classifier (the logits: CTC
    decoding takes their argmax).  A (1, 1, 32, 100) line gives 25 steps."""

    def __init__(self, hidden: int = 256, classes: int = 37) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.cnn = nn.Sequential(*block(1, 32), nn.MaxPool2d(2, 2), *block(32, 64), nn.MaxPool2d(2, 2),
                                 *block(64, 128), nn.MaxPool2d((2, 1), (2, 1)), *block(128, 128),
                                 nn.MaxPool2d((2, 1), (2, 1)), *block(128, 128), nn.MaxPool2d((2, 1), (2, 1)))
        self.rnn = nn.LSTM(128, hidden, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.rnn(self.cnn(x).squeeze(2).permute(2, 0, 1))
        return self.fc(sequence)


class Recognizer(nn.Module):
    """The output sequence of a recurrent module, optionally batch-first (EasyOCR's and docTR's)."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]
