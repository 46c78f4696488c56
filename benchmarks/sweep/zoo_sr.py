"""Super-resolution and restoration nets from spandrel (its architecture classes, random init).

Each with the hyper-parameters of its common released model (light variants where those are what
people deploy), run on a small 64x64 input.
"""
from __future__ import annotations

import importlib
import types
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from sweep.arch import Arch

SIZE = (1, 3, 64, 64)


def _spandrel(module: str, name: str, **kwargs: object) -> nn.Module:
    return getattr(importlib.import_module(f"spandrel.architectures.{module}"), name)(**kwargs)


def _fused_conv3xc(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = module.eval_conv(x)
    return F.leaky_relu(out, negative_slope=0.05) if module.has_relu else out


def span_deploy_form(model: nn.Module) -> nn.Module:
    """SPAN as it is exported: each Conv3XC's branches fused once into its `eval_conv` (its own
    `update_params`), which then runs alone.  In eval mode its forward redoes that fusion at every call
    and writes the result into `eval_conv.weight.data`, which torch.export cannot capture (purecaffe
    refuses it naming the module); the values are the same."""
    for module in model.modules():
        if type(module).__name__ == "Conv3XC":
            module.update_params()
            module.forward = types.MethodType(_fused_conv3xc, module)
    return model


MODELS = {
    "realplksr": ("PLKSR.__arch.RealPLKSR", "RealPLKSR", {}),
    "swinir_light": ("SwinIR.__arch.SwinIR", "SwinIR", {
        "img_size": 64, "window_size": 8, "embed_dim": 60, "depths": [6, 6, 6, 6], "num_heads": [6, 6, 6, 6],
        "mlp_ratio": 2.0, "upscale": 4, "upsampler": "pixelshuffledirect", "resi_connection": "1conv"}),
    "omnisr": ("OmniSR.__arch.OmniSR", "OmniSR", {}),
    "safmn": ("SAFMN.__arch.safmn", "SAFMN", {"dim": 36, "n_blocks": 8}),
    "realcugan_2x": ("RealCUGAN.__arch.upcunet_v3", "UpCunet2x", {}),
    "esrgan": ("ESRGAN.__arch.RRDB", "RRDBNet", {}),
    "span": ("SPAN.__arch.span", "SPAN", {"num_in_ch": 3, "num_out_ch": 3}),
    "compact": ("Compact.__arch.SRVGG", "SRVGGNetCompact", {}),
    "swiftsrgan": ("SwiftSRGAN.__arch.SwiftSRGAN", "Generator", {}),
    "ditn_real": ("DITN.__arch.DITN_Real", "DITN_Real", {}),
    "mosr": ("MoSR.__arch.mosr_arch", "MoSR", {}),
}
GRAY = {
    "dncnn": ("DnCNN.__arch.network_dncnn", "DnCNN", {}),
}

FUSIONS = {"span": span_deploy_form}

ARCHS = [
    *(Arch(f"spandrel_{name}", "spandrel", "sr", partial(_spandrel, module, cls, **kwargs), shapes=(SIZE,),
           stats_from_data=True, reparameterize=FUSIONS.get(name, False))
      for name, (module, cls, kwargs) in MODELS.items()),
    *(Arch(f"spandrel_{name}", "spandrel", "sr", partial(_spandrel, module, cls, **kwargs), shapes=((1, 1, 64, 64),),
           data="gray") for name, (module, cls, kwargs) in GRAY.items()),
]
