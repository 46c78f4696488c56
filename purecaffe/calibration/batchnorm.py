"""BatchNorm statistics from data: train-mode passes over real images, for random-init models.

A random-init model's fresh BatchNorms (mean 0, var 1) leave activations with ranges no trained
net has (deep ones overflow fp16: inception_v3 reached 4e10), so its int8 calibration and fp16
runs say nothing about a real model.  `fit_batchnorm_statistics` runs the model in train mode over
a few batches with a cumulative moving average (momentum None), so each BatchNorm ends with the
mean and variance of what reaches it; everything else (dropout included) stays in eval mode, no
parameter changes, and the model is back in eval mode afterwards.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from purecaffe.errors import PurecaffeError

log = logging.getLogger(__name__)


@torch.no_grad()
def fit_batchnorm_statistics(model: nn.Module, batches: Iterable[torch.Tensor | Sequence[torch.Tensor]]) -> int:
    """Set every BatchNorm's running statistics from `batches` (each a tensor or a tuple of the model's
    inputs); returns how many BatchNorm layers were set.  The model ends in eval mode."""
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        model.eval()
        return 0
    saved = [(norm, norm.momentum) for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all batches
        norm.train()
    count = 0
    try:
        for batch in batches:
            model(*(batch if isinstance(batch, (tuple, list)) else (batch,)))
            count += 1
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        model.eval()
    if count == 0:
        raise PurecaffeError("no batches to take BatchNorm statistics from")
    log.info("BatchNorm statistics of %d layers from %d batches", len(norms), count)
    return len(norms)


__all__ = ["fit_batchnorm_statistics"]
