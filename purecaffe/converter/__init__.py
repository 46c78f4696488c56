"""PyTorch -> Caffe conversion: `convert(model, inputs) -> ConvertedNet`.

The pipeline, top to bottom:

1. `capture.capture`   torch.export (non-strict) + functionalization -> `graph.Graph`
1b. `cut.cut`          with `outputs=[...]`: end the graph at those modules/values
2. `passes.PASSES`     torch-side clean-up, Graph -> Graph (constant folding, identities)
3. `driver.lower`      each node through its registered lowering (`registry`,
                       `lowerings/<family>.py`) into canonical layers built by
                       `purecaffe.canonical.builders` (shapes from the runtime) with
                       weights from `weights`, every top's shape checked against
                       torch's; all unsupported ops reported together
4. `purecaffe.targets` legalize for the target (exact rewrites), check its rules
                       (refusals name the torch node), end unused tops, in-place
                       tops, output names, serialize in the target's spelling
5. `ConvertedNet.save` prototxt + caffemodel + sidecar (`purecaffe.io.sidecar`)

Example::

    net = purecaffe.convert(model.eval(), (torch.randn(1, 3, 224, 224),), name="resnet18")
    net.save("out/resnet18")   # out/resnet18.prototxt, .caffemodel, .purecaffe.json
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf.message import Message

import purecaffe.targets as targets
from purecaffe.converter.capture import capture
from purecaffe.converter.cut import CutReport, InlineValue, ModuleCall, blob_name, cut_report, list_module_outputs, removed_nodes
from purecaffe.converter.cut import cut as cut_graph
from purecaffe.converter.context import TensorRecord
from purecaffe.converter.fingerprint import weights_fingerprint
from purecaffe.converter.driver import Problem, UnsupportedOpsError, lower
from purecaffe.converter.graph import Graph
from purecaffe.converter.passes import run_passes
from purecaffe.converter.torch_values import order_inputs
from purecaffe.converter.torch_values import torch_values as program_values
from purecaffe.converter.registry import default_registry
from purecaffe.errors import ConverterBugError, PurecaffeError
from purecaffe.io.sidecar import SavedFiles, output_paths, sidecar_dict, write_sidecar

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ConvertedNet:
    """A converted model: the Caffe net, its weights, and which blob holds which torch tensor."""

    name: str
    net: Message = field(repr=False)
    weights: dict[str, list[np.ndarray]] = field(repr=False)
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    mapping: tuple[TensorRecord, ...] = field(repr=False)
    graph: Graph = field(repr=False)
    target: targets.Target = field(repr=False)
    program: Any = field(repr=False, compare=False)
    cut: CutReport | None = None
    """With `convert(..., outputs=[...])`: where the net was cut and what the cut removed."""
    weights_fingerprint: Mapping[str, Any] | None = field(default=None, repr=False)
    """The model's weights as `purecaffe.converter.fingerprint` sums them up (`verify` checks them)."""

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: i.info.shape for name, i in zip(self.input_names, self.graph.inputs)}

    @property
    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        by_torch = {r.torch_name: r.shape for r in self.mapping}
        return {name: by_torch.get(ref.name, ()) for name, ref in zip(self.output_names, self.graph.outputs)}

    @property
    def torch_input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.graph.inputs)

    @property
    def torch_output_names(self) -> tuple[str, ...]:
        return tuple(ref.name for ref in self.graph.outputs)

    def save(self, path: PathLike) -> SavedFiles:
        """Write `<path>.prototxt`, `<path>.caffemodel` and `<path>.purecaffe.json` as one set.

        All three are staged and committed together (`purecaffe.io.fileset`): a failed or
        killed save leaves the earlier set as it was, and two processes saving to one
        prefix never mix their files.  Every layer goes into the caffemodel, as Caffe itself
        writes them (layers without parameters get an empty blob list).
        """
        from purecaffe.io.fileset import atomic_files
        from purecaffe.io.prototxt import write_net
        from purecaffe.io.weights import save_weights

        files = output_paths(path)
        with atomic_files(files.caffemodel, files.prototxt, files.sidecar) as (caffemodel, prototxt, sidecar):
            save_weights(caffemodel, {layer.name: self.weights.get(layer.name, []) for layer in self.net.layer},
                         net=self.net)
            write_net(self.net, prototxt)
            write_sidecar(sidecar, self.sidecar())
        log.info("wrote %s, %s and %s", files.prototxt, files.caffemodel, files.sidecar)
        return files

    def sidecar(self) -> dict[str, Any]:
        return sidecar_dict(name=self.name, records=self.mapping, net=self.net, input_names=self.input_names,
                            output_names=self.output_names, output_keys=self.graph.output_keys,
                            target=self.target.name, torch_inputs=self.torch_input_names,
                            torch_outputs=self.torch_output_names,
                            cut=None if self.cut is None else self.cut.to_json(), weights=self.weights_fingerprint,
                            output_order=targets.listed_outputs(self.net, self.output_names, self.target))

    def torch_values(self, inputs: Sequence[Any] | Mapping[str, Any]) -> dict[str, np.ndarray]:
        """PyTorch's value of every captured tensor for `inputs`, keyed by torch value name.

        `inputs`: arrays or tensors in model order, or a dict keyed by input blob name.
        Look values up with the `torch_name` of each `mapping` record.
        """
        return program_values(self.program, order_inputs(inputs, self.input_names))


def convert(model: Any, inputs: Sequence[Any] | Any, *, name: str | None = None,
            input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
            target: str | targets.Target = "bvlc", kwargs: Mapping[str, Any] | None = None,
            outputs: Sequence[str] | None = None) -> ConvertedNet:
    """Convert `model` (a torch.nn.Module in eval mode, or a `torch.export` program, e.g. from
    `torch.export.load("model.pt2")`) traced on example `inputs` for `target`.

    `target` is the toolchain that will read the files (`purecaffe.targets.TARGETS`: bvlc,
    caffe1, nnie, rknn, opencv, sophgo, mnn); only what it reads the same way is written.

    `outputs`: end the net at these module paths (`model.22.cv2.0`; `blocks.0#1` for the second call
    of a module called twice) or captured value names (`list_outputs` shows both), in this order;
    what only fed later computation is dropped, each output blob is named after its path (unless
    `output_names` says otherwise), and `ConvertedNet.cut` reports what was removed.

    Raises `UnsupportedOpsError` listing every op that cannot be converted exactly for the target
    (op, module path, source line, reason) before anything is written, and `ConverterBugError`
    for a bug in purecaffe itself.
    """
    import torch

    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    chosen = targets.get_target(target)
    arguments = dict(name=name, input_names=input_names, output_names=output_names, target=chosen, kwargs=kwargs,
                     outputs=outputs)
    try:
        return _convert(model, tuple(inputs), sources=False, **arguments)
    except (UnsupportedOpsError, ConverterBugError) as error:
        if not _names_nodes(error):
            raise
        first = error
    # The model's file:line of each op the error names: captured again, this time with the stacks.
    log.debug("converting again with source lines, for the error: %s", first.one_line())
    try:
        with _logged_once():
            _convert(model, tuple(inputs), sources=True, **arguments)
    except (UnsupportedOpsError, ConverterBugError) as detailed:
        raise detailed from detailed.__cause__
    raise first


class _Repeated(logging.Filter):
    """Drops every record below ERROR: the second attempt of a conversion repeats the first's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextlib.contextmanager
def _logged_once() -> Iterator[None]:
    """purecaffe's loggers drop what is below ERROR, then take it again.  A logger's filter only sees
    the records made on that logger, so it goes on each of them (all exist: the first attempt ran)."""
    repeated = _Repeated()
    loggers = [logger for key, logger in logging.root.manager.loggerDict.items()
               if isinstance(logger, logging.Logger) and (key == "purecaffe" or key.startswith("purecaffe."))]
    for logger in loggers:
        logger.addFilter(repeated)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(repeated)


def _names_nodes(error: UnsupportedOpsError | ConverterBugError) -> bool:
    """Whether an error names captured ops, whose source lines it should give."""
    if isinstance(error, UnsupportedOpsError):
        return any(problem.module_path or problem.node for problem in error.problems)
    return bool(error.op)


def _convert(model: Any, inputs: tuple[Any, ...], *, name: str | None, input_names: Sequence[str] | None,
             output_names: Sequence[str] | None, target: targets.Target, kwargs: Mapping[str, Any] | None,
             outputs: Sequence[str] | None, sources: bool) -> ConvertedNet:
    """`convert`, capturing the source line of every op (`sources`) or none."""
    import torch

    chosen = target
    captured = capture(model, inputs, kwargs, sources=sources)
    net_name = name if name is not None else ("net" if isinstance(model, torch.export.ExportedProgram)
                                               else type(model).__name__)
    if outputs is None:
        graph = _guarded("a clean-up pass", run_passes, captured.graph)
    else:
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        kept = cut_graph(captured.graph, outputs)
        graph = _guarded("a clean-up pass", run_passes, kept)
        if output_names is None:
            output_names = [blob_name(key) for key in kept.output_keys]
    finished, layer_count = _lower_for(graph, chosen, input_names=input_names, output_names=output_names)
    net = _guarded(f"serialization for {chosen.name}", lambda: targets.net_parameter(
        finished.layers, name=net_name, target=chosen))
    weights = {layer.name: list(layer.weights) for layer in finished.layers if layer.weights}
    log.info("converted %s for %s: %d layers (%d before legalization)", net_name, chosen.name,
             len(finished.layers), layer_count)
    report = None if outputs is None else _cut_report(captured.graph, graph, outputs, chosen)
    return ConvertedNet(name=net_name, net=net, weights=weights, input_names=finished.input_names,
                        output_names=finished.output_names, mapping=finished.records, graph=graph, target=chosen,
                        program=captured.program, cut=report, weights_fingerprint=weights_fingerprint(captured.graph))


@dataclass(frozen=True)
class _ForTarget:
    layers: tuple[Any, ...]
    records: tuple[TensorRecord, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


def _lower_for(graph: Graph, chosen: targets.Target, *, input_names: Sequence[str] | None = None,
               output_names: Sequence[str] | None = None) -> tuple[_ForTarget, int]:
    """Lowering, then the target stage: legalize, check (refusals name the torch node), finish."""
    lowered = lower(graph, registry=default_registry(), target=chosen.name, input_names=input_names)
    if output_names is not None and len(output_names) != len(lowered.output_names):
        raise PurecaffeError(f"{len(output_names)} output names given for {len(lowered.output_names)} model outputs")
    legal = _guarded(f"legalization for {chosen.name}", targets.legalize, lowered.layers, chosen)
    legal = _guarded(f"legalization for {chosen.name}", targets.legalize_net, legal, chosen)
    refused = targets.findings(legal, chosen) + targets.unread_tops(legal, lowered.output_names, chosen) + \
        targets.net_findings(legal, chosen)
    if refused:
        raise UnsupportedOpsError([_problem(f) for f in refused], chosen.name)
    records = lowered.records
    if chosen.declare_inputs == "field":  # no Input layer: the fed inputs need no record
        records = tuple(r for r in records if r.op != "input")
    finished = targets.finish(legal, records, inputs=lowered.input_names, outputs=lowered.output_names,
                              output_names=output_names, silence=chosen.has("Silence"), inplace=chosen.inplace,
                              output_order=chosen.output_order, copy_by_split=chosen.has("Split"))
    return _ForTarget(finished.layers, finished.records, lowered.input_names, finished.output_names), \
        len(lowered.layers)


def _problem(finding: targets.Finding) -> Problem:
    origin = finding.origin
    reason = f"becomes layer '{finding.layer}' ({finding.layer_type}): {finding.message} [{finding.rule}; {finding.source}]"
    if origin is None:
        return Problem(op=finding.layer_type, module_path="", source="", reason=reason, node=finding.layer)
    return Problem(op=origin.op, module_path=origin.module_path, source=origin.source, reason=reason,
                   node=origin.node or finding.layer)


def _guarded(stage: str, fn: Any, *args: Any) -> Any:
    """Run one converter stage; an exception that is not a user error is a purecaffe bug."""
    try:
        return fn(*args)
    except (PurecaffeError, ConverterBugError):
        raise
    except Exception as error:
        raise ConverterBugError(f"{type(error).__name__} in {stage}: {error}") from error


def _cut_report(full: Graph, kept: Graph, outputs: Sequence[str], target: targets.Target) -> CutReport:
    """What the cut removed, and which removed ops the target could not have taken (found by lowering
    the whole graph for the target once more: only lowering and legalization know, e.g., which
    permutes a target takes)."""
    whole = run_passes(full)
    removed = removed_nodes(whole, kept)
    refused: dict[str, str] = {}
    unjudged = ""
    if removed:
        try:
            _lower_for(whole, target)
        except UnsupportedOpsError as error:
            refused = {p.node: p.reason for p in error.problems}
        except (PurecaffeError, ConverterBugError) as error:
            # The uncut model fails for another reason than its ops (an output that is no tensor, a bug in
            # a lowering the cut removed): only ops without any lowering are known to be out of reach.
            unjudged = error.one_line()
            registry = default_registry()
            refused = {n.name: f"no Caffe lowering for {n.op}" for n in removed
                       if registry.find(n.op, n.overload) is None}
            log.warning("the removed ops cannot all be judged for %s: the uncut model does not convert (%s)",
                        target.name, unjudged)
    report = cut_report(outputs, removed, refused, target=target.name, unjudged=unjudged)
    log.info("%s", report.describe())
    return report


def list_outputs(model: Any, inputs: Sequence[Any] | Any, *, kwargs: Mapping[str, Any] | None = None
                 ) -> tuple[ModuleCall | InlineValue, ...]:
    """Every module call of `model` on `inputs`, in order, with its output value names and shapes, and
    the values computed inline in a `forward`: where `convert(..., outputs=[...])` can cut (by
    `entry.spec`).  `purecaffe.converter.cut.format_module_outputs` renders it as a table."""
    import torch

    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    types = {path: type(module).__name__ for path, module in model.named_modules()} \
        if hasattr(model, "named_modules") else None
    return list_module_outputs(capture(model, tuple(inputs), kwargs).graph, types)


__all__ = ["ConvertedNet", "CutReport", "InlineValue", "ModuleCall", "Problem", "SavedFiles", "UnsupportedOpsError",
           "convert", "list_outputs"]
