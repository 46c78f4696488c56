"""Targets: the stage after lowering that makes canonical layers one toolchain's Caffe.

For a target (`catalog`): `legalize` rewrites each layer it lacks into an exact
composition (`rules`); `checks.findings` refuses whatever is still illegal, naming the
torch node it came from; `policy.finish` ends unused tops, makes safe layers in-place
and names the outputs; `serialize.net_parameter` spells the result in the target's
schema.  `purecaffe lint` runs the same checks on a hand-written prototxt.
"""
from __future__ import annotations

from purecaffe.targets.catalog import TARGETS, Target, get_target
from purecaffe.targets.checks import Finding, findings, unread_tops
from purecaffe.targets.policy import Finished, finish
from purecaffe.targets.rules import legalize
from purecaffe.targets.serialize import net_parameter

__all__ = ["TARGETS", "Finding", "Finished", "Target", "findings", "finish", "get_target", "legalize", "unread_tops",
           "net_parameter"]
