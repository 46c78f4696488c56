"""Targets: the stage after lowering that makes canonical layers one toolchain's Caffe.

For a target (`catalog`: its layer set, `limits`, rules, schema, serialization policy
and judge with its tolerance, `judges`): `legalize` rewrites each layer it does not
allow (`Target.allows`, the one legality predicate) into an exact composition
(`rules`), and fixes what it reads wrongly across layers (`rules.legalize_net`); `checks.findings` refuses whatever is still illegal, naming the torch node
it came from and the limit or the declined rewrite; `policy.finish` ends unused tops, makes safe layers in-place
and names the outputs; `serialize.net_parameter` spells the result in the target's
schema.  `purecaffe lint` runs the same checks on a hand-written prototxt.
"""
from __future__ import annotations

from purecaffe.targets.catalog import TARGETS, get_target
from purecaffe.targets.checks import Finding, findings, net_findings, unread_tops
from purecaffe.targets.outputs import listed_outputs
from purecaffe.targets.policy import Finished, finish
from purecaffe.targets.rules import legalize, legalize_net
from purecaffe.targets.serialize import net_parameter
from purecaffe.targets.target import Applied, Declined, Diagnostic, Judge, Limit, NetLimit, Target, Tolerance

__all__ = ["TARGETS", "Applied", "Declined", "Diagnostic", "Finding", "Finished", "Judge", "Limit", "NetLimit",
           "Target", "Tolerance", "findings", "finish", "get_target", "legalize", "legalize_net", "listed_outputs",
           "net_findings", "net_parameter", "unread_tops"]
