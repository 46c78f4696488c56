"""Making a random-init model a fair test: non-trivial norm parameters, BatchNorm statistics from data.

Fresh BatchNorms (mean 0, var 1, gamma 1, beta 0) are identities that hide BatchNorm/Scale mistakes,
and deep random nets with them overflow fp16 (inception_v3: 4e10).  So: every norm's affine
parameters and every constant bias are redrawn, then BatchNorm statistics are measured by
train-mode passes over a few images (cumulative averages), and the model goes back to eval mode.
Images: scikit-image's bundled samples when installed (nothing downloaded), else a fixed random draw.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
TEST_IMAGE = "astronaut"
CALIBRATION_IMAGES = ("coffee", "chelsea", "rocket", "immunohistochemistry")
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def _sample(name: str) -> np.ndarray | None:
    try:
        from skimage import data
    except ImportError:
        return None
    try:
        image = getattr(data, name)()
    except Exception as error:  # a sample that needs pooch (a download) is simply not used
        log.debug("skimage sample %s unavailable: %s", name, error)
        return None
    return image if image.ndim == 3 and image.shape[2] >= 3 else None


def image_batch(names: tuple[str, ...], shape: tuple[int, ...], data: str, seed: int) -> torch.Tensor:
    """One input tensor per image name, stacked: resized, normalized as ImageNet nets expect."""
    if data == "random" or len(shape) != 4:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn((len(names) * shape[0], *shape[1:]), generator=generator)
    rows = []
    for index, name in enumerate(names):
        image = _sample(name)
        if image is None:
            generator = torch.Generator().manual_seed(seed + index)
            rows.append(torch.randn(shape, generator=generator))
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1)[None].float() / 255.0
        tensor = nn.functional.interpolate(tensor, size=shape[2:], mode="bilinear", align_corners=False)
        tensor = (tensor - MEAN) / STD
        channels = shape[1]
        if channels == 1 or data == "gray":
            tensor = tensor.mean(1, keepdim=True).expand(-1, channels, -1, -1)
        elif channels != 3:
            tensor = tensor.repeat(1, (channels + 2) // 3, 1, 1)[:, :channels]
        rows.append(tensor.expand(shape[0], -1, -1, -1))
    return torch.cat(rows).contiguous()


def test_inputs(shapes: tuple[tuple[int, ...], ...], data: str) -> tuple[torch.Tensor, ...]:
    return tuple(image_batch((TEST_IMAGE,), shape, data, seed=100 + i) for i, shape in enumerate(shapes))


@torch.no_grad()
def randomize_parameters(model: nn.Module, seed: int = 0) -> None:
    """Redraw norm affine parameters and constant (e.g. all-zero) biases; fresh values hide mistakes."""
    generator = torch.Generator().manual_seed(seed)

    def draw(like: torch.Tensor, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(like.shape, generator=generator)

    for module in model.modules():
        if isinstance(module, NORMS):
            if getattr(module, "weight", None) is not None:
                module.weight.copy_(draw(module.weight, 0.5, 1.5))
            if getattr(module, "bias", None) is not None:
                module.bias.copy_(draw(module.bias, -0.2, 0.2))
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean.copy_(draw(module.running_mean, -0.1, 0.1))
                module.running_var.copy_(draw(module.running_var, 0.5, 1.5))
            continue
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter) and bias.numel() > 1 and bool((bias == bias.flatten()[0]).all()):
            bias.copy_(draw(bias, -0.1, 0.1))


@torch.no_grad()
def batchnorm_statistics(model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...]) -> bool:
    """Set BatchNorm running statistics from `batch` (one train-mode pass, cumulative average).

    Returns False (statistics left as drawn) where the model cannot run in train mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats]
    if not norms:
        return True
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None
    model.train()
    try:
        model(*batch) if isinstance(batch, tuple) else model(batch)
        ok = True
    except Exception as error:  # e.g. a train-mode branch that needs targets
        log.warning("BatchNorm statistics from data failed (%s): keeping drawn statistics", error)
        ok = False
    model.eval()
    for module, (momentum, mean, var, count) in zip(norms, saved):
        module.momentum = momentum
        if not ok:
            module.running_mean.copy_(mean)
            module.running_var.copy_(var)
            module.num_batches_tracked.copy_(count)
    return ok


def reparameterize(model: nn.Module) -> nn.Module:
    """Fuse re-parameterizable branches as users do before export (timm's own helper)."""
    from timm.utils.model import reparameterize_model

    return reparameterize_model(model, inplace=True)


def prepare(model: nn.Module, shapes: tuple[tuple[int, ...], ...], *, data: str, stats_from_data: bool,
            fuse: bool | Callable[[nn.Module], nn.Module], seed: int = 0) -> tuple[nn.Module, dict[str, object]]:
    """The model ready to convert (eval mode), and notes on what was done.  `fuse`: True for timm's
    re-parameterization, or the architecture's own fusion (after the parameters are redrawn)."""
    torch.manual_seed(seed)
    randomize_parameters(model, seed)
    notes: dict[str, object] = {"bn_stats": "drawn"}
    if stats_from_data:
        calibration = tuple(image_batch(CALIBRATION_IMAGES, (max(2, shape[0]), *shape[1:]), data, seed=7 + i)
                            for i, shape in enumerate(shapes))
        if batchnorm_statistics(model, calibration):
            notes["bn_stats"] = "data"
    model.eval()
    if fuse:
        model = (fuse if callable(fuse) else reparameterize)(model).eval()
        notes["reparameterized"] = True
    return model, notes
