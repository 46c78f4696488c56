"""The op that never converts: a custom torch op, `purecaffe_test::never_lowers`, that no lowering handles.

Tests of refusals (the driver's listing, the cut report, the CLI's exit status 2) need an op
purecaffe will never lower; a real op (exact GELU once) may become convertible.  This one is
registered here with `torch.library.custom_op`, so `torch.export` keeps it as one node
(`purecaffe_test.never_lowers.default`) and the registry has no entry for it: ever.  Its value
is x * 2 + 1, so a model using it still runs eagerly.
"""
from __future__ import annotations

import torch
from torch import nn

OP = "purecaffe_test.never_lowers"  # as a refusal names it (without the overload)
REASON = f"no Caffe lowering for {OP}"


@torch.library.custom_op("purecaffe_test::never_lowers", mutates_args=())
def never_lowers(x: torch.Tensor) -> torch.Tensor:
    return x * 2.0 + 1.0


@never_lowers.register_fake
def _never_lowers_shape(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class NeverLowers(nn.Module):
    """A module whose forward is the op that never lowers (for `module:factory` specs too)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return never_lowers(x)
