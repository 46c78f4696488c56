"""Capture: a PyTorch model and example inputs -> `Graph`, through `torch.export` only.

`torch.export.export(..., strict=False)` traces the model as Python runs it
(torchvision-style code, `torch.flatten`, in-place ops, `chunk`, `transpose`
all work) into ATen ops such as `conv2d`, `batch_norm`, `linear`, `hardtanh`.
The graph must then be functional (no op changes a value another op reads):

* in-place ops on fresh intermediates (`relu_`, `out += identity`), the common
  case, are rewritten by `functionalize_inplace` (later uses read the in-place
  node's result; `relu_` becomes `relu`);
* anything else (mutating inputs or buffers, mutating through views, `copy_`
  into slices) goes through `run_decompositions({})`, torch's full
  functionalization, which costs about a second on a ResNet-50.  It changes a
  few forms, so lowerings list both as aliases: `batch_norm` ->
  `_native_batch_norm_legit_no_training` (+ getitem 0), `chunk` -> `split`
  (+ getitem), `flatten` -> `view`.

Every node keeps its module path (innermost entry of `nn_module_stack`) and
the user's source line (innermost stack frame outside the torch package).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import operator
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx.config as fx_config
import torch.utils._pytree as pytree
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from purecaffe.converter.graph import DROPOUT_OPS, GETITEM, Graph, GraphInput, Node, Ref, TensorInfo, map_refs
from purecaffe.errors import PurecaffeError, UnsupportedError

log = logging.getLogger(__name__)

_TORCH_DIR = os.path.dirname(torch.__file__)
_DROPPED_TARGETS = ("aten._assert_tensor_metadata", "aten._assert_scalar", "aten.sym_constrain_range_for_size",
                    "aten._assert_async")


@dataclass(frozen=True)
class Captured:
    graph: Graph
    program: ExportedProgram


def capture(model: torch.nn.Module | ExportedProgram, inputs: Sequence[Any], kwargs: Mapping[str, Any] | None = None,
            *, decompose: bool = False, sources: bool = True) -> Captured:
    """Export `model` (in eval mode) on `inputs` and build the converter's Graph.

    A program saved with `torch.export.save` (and loaded with `torch.export.load`) takes the
    same path: its module (`program.module()`) is exported again on `inputs`, which keeps its
    module paths and source lines; its training mode is in its ops (a training-mode batch norm
    or dropout is refused by its lowering).

    `decompose=True` always takes torch's full functionalization (tests use it to
    check that both forms convert the same).  `sources=False` records no source lines
    (`Node.source` is empty; see `_stack_traces`): `convert` captures so first and again with
    them only to name the lines in an error.
    """
    args = tuple(inputs)
    if isinstance(model, ExportedProgram):
        _check_program_inputs(model, args)
        model = model.module()
    elif not isinstance(model, torch.nn.Module):
        raise PurecaffeError(f"expected a torch.nn.Module or a torch.export program, got {type(model).__name__}")
    else:
        training = [name or "<model>" for name, m in model.named_modules() if m.training]
        if training:
            raise PurecaffeError(f"the model is in training mode ({', '.join(training[:3])}"
                                 f"{' ...' if len(training) > 3 else ''}); call model.eval() before converting")
    for i, value in enumerate(pytree.tree_leaves((args, kwargs or {}))):
        if isinstance(value, torch.Tensor) and value.dtype != torch.float32:
            raise UnsupportedError(f"input {i} is {value.dtype}; Caffe inputs are float32 tensors")
    try:
        with torch.no_grad(), warnings.catch_warnings(), _lazy_graph_modules(), _stack_traces(sources):
            # torch's own pytree deprecation noise, raised from inside export.
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            # A tensor cache filled during the export (`_export` puts the model back afterwards).
            warnings.filterwarnings("ignore", message=".*assigned during export.*", category=UserWarning)
            program = _export(model, args, kwargs)
            if decompose or not simple_mutations(program):
                program = program.run_decompositions({})
    except PurecaffeError:
        raise
    except Exception as error:  # noqa: BLE001 - any tracing failure is the user's model
        raise _capture_failure(model, error) from error
    return Captured(graph=functionalize_inplace(build_graph(program)), program=program)


_LIFTED = re.compile(r"model attribute: ((?:[\w.]+\.)?)lifted_tensor_\d+")


def _capture_failure(model: torch.nn.Module, error: Exception) -> PurecaffeError:
    """torch.export's failure as the user's problem.  One has a known cause, named with its module: a
    forward that writes a tensor it computed into the module (`self.conv.weight.data = ...`, SPAN's
    Conv3XC re-fusing its branches at every call) leaves a fake tensor as a constant of the program."""
    text = str(error)
    lifted = _LIFTED.search(text) if "fake tensor" in text else None
    if lifted is not None:
        path = lifted.group(1).rstrip(".")
        try:
            kind = type(model.get_submodule(path)).__name__
        except AttributeError:
            kind = "module"
        return UnsupportedError(
            f"{path or '<model>'} ({kind}): its forward computes a tensor and stores it in the module (e.g. "
            f"`self.conv.weight.data = ...`, a re-parameterization redone at every call), which torch.export "
            f"cannot capture; compute it once before converting and make forward use the stored result")
    first = next((line for line in text.splitlines() if line.strip()), type(error).__name__)
    return PurecaffeError(f"torch.export could not capture the model: {first.strip()}")


def _check_program_inputs(program: ExportedProgram, args: tuple[Any, ...]) -> None:
    """The inputs a saved program was exported for: their number and every static dimension."""
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    wanted = [placeholders[spec.arg.name].meta.get("val") for spec in program.graph_signature.input_specs
              if spec.kind == InputKind.USER_INPUT]
    if len(wanted) != len(args):
        raise PurecaffeError(f"the exported program takes {len(wanted)} inputs, {len(args)} were given")
    for i, (value, given) in enumerate(zip(wanted, args)):
        if not isinstance(value, torch.Tensor) or not isinstance(given, torch.Tensor):
            continue
        shape = [int(d) if isinstance(d, int) else str(d) for d in value.shape]
        if len(shape) != given.dim() or any(isinstance(d, int) and d != g for d, g in zip(shape, given.shape)):
            raise PurecaffeError(f"input {i} has shape {list(given.shape)}, but the exported program takes "
                                 f"{shape}: give that shape, or export the model again for this one")


def _fake_constants(program: ExportedProgram) -> list[str]:
    """Lifted constants that are fake tensors: tensor attributes the model assigned during the export
    itself (a cache filled on the first call, e.g. a detector's anchors), which hold no values."""
    from torch._subclasses.fake_tensor import FakeTensor

    return [name for name, value in program.constants.items() if isinstance(value, FakeTensor)]


def _export(model: torch.nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None) -> ExportedProgram:
    """torch.export (non-strict), leaving the model as it was.

    A model may fill a cache on its first call (Ultralytics' Detect sets `self.anchors` and
    `self.shape`); done during an export, the cache keeps fake tensors, and the next capture of the
    same model would read them as constants.  So every module's attributes are put back afterwards:
    capturing twice gives the same program (which `verify` relies on)."""
    state = {module: dict(vars(module)) for module in model.modules()}  # references only, no copies
    try:
        program = torch.export.export(model, args, kwargs=dict(kwargs or {}), strict=False)
    finally:
        for module, attributes in state.items():
            current = vars(module)
            if current.keys() != attributes.keys() or any(current[k] is not v for k, v in attributes.items()):
                current.clear()
                current.update(attributes)
    fake = _fake_constants(program)
    if fake:
        raise UnsupportedError(f"the model's tensor attributes {', '.join(fake)} hold fake tensors, left there by "
                               f"an earlier torch.export of it: convert a freshly built model")
    return program


def _lazy_graph_modules() -> contextlib.AbstractContextManager[None]:
    """Within torch.export and run_decompositions, graph modules generate their Python code only
    when it is run.

    torch.export regenerates and compiles the forward code of its intermediate graph module after
    each of its own passes (six times per export, more in run_decompositions); nothing runs that
    code, and the programs they return are built as ordinary GraphModules.  torch.fx's
    `_LazyGraphModule` (what torch.compile uses for the same reason) defers that work to the first
    call.  Measured on ResNet-50 (CPU seconds, alternating fresh processes, shared 2-core machine):
    export 0.43-0.53 -> 0.41-0.45, run_decompositions 1.40-1.55 -> 1.09-1.36; the same programs.
    The switch is private to torch.fx (`torch.fx._lazy_graph_module._use_lazy_graph_module`, torch
    2.1 and later): where it is missing, the export runs as it always did."""
    try:
        from torch.fx._lazy_graph_module import _use_lazy_graph_module
    except ImportError:  # a torch without it: eager recompiles, the same program
        return contextlib.nullcontext()
    return _use_lazy_graph_module(True)


@contextlib.contextmanager
def _stack_traces(recorded: bool) -> Iterator[None]:
    """Within the export, torch.fx records each node's Python stack (or not), restored afterwards.

    The stack is only read for `Node.source` (the model's file:line in an error message), yet
    formatting it at every traced op is about a quarter of a ResNet-50 export: CPU seconds, medians
    of 8 alternating in one warm process, 0.375 s with it and 0.270 s without
    (`torch.fx.config.do_not_emit_stack_traces`, torch.fx's public switch for it)."""
    saved = fx_config.do_not_emit_stack_traces
    fx_config.do_not_emit_stack_traces = not recorded or saved
    try:
        yield
    finally:
        fx_config.do_not_emit_stack_traces = saved


def _schema(target: Any) -> Any:
    return target._schema if isinstance(target, torch._ops.OpOverload) else None


def _mutates_first_argument(target: Any) -> bool:
    schema = _schema(target)
    if schema is None or not schema.is_mutable:
        return False
    arguments = schema.arguments
    mutated = [a for a in arguments if a.alias_info is not None and a.alias_info.is_write]
    return (len(mutated) == 1 and mutated[0] is arguments[0] and len(schema.returns) == 1
            and schema.returns[0].alias_info is not None and schema.returns[0].alias_info.is_write)


# Ops whose schema promises a new tensor but that return their input itself in inference
# (at::dropout: `if (!train) return input;`), so an in-place op on the result changes the
# input too.  torch.export's full functionalization misses that aliasing (the exported
# program then differs from eager PyTorch), so `functionalize_inplace` resolves them first.
_ALIASING_IN_INFERENCE = frozenset(op.replace("aten.", "aten::") for op in DROPOUT_OPS)
_ALIASING_OPS = frozenset("aten." + name.split("::", 1)[1] for name in _ALIASING_IN_INFERENCE)


def _is_view(target: Any) -> bool:
    schema = _schema(target)
    if schema is None:
        return target is operator.getitem  # items of split/chunk/unbind are views too
    return any(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns)


def _inference_alias_source(node: torch.fx.Node) -> torch.fx.Node | None:
    """The input an inference-mode dropout returns as itself, else None."""
    schema = _schema(node.target)
    if schema is None or schema.name not in _ALIASING_IN_INFERENCE:
        return None
    train = node.args[2] if len(node.args) > 2 else node.kwargs.get("train", True)
    source = node.args[0] if node.args else None
    return source if train is False and isinstance(source, torch.fx.Node) else None


def simple_mutations(program: ExportedProgram) -> bool:
    """True when every mutation in the exported program is an in-place op (`relu_`, `x += y`)
    on a fresh intermediate tensor (or an inference dropout's result, which is that tensor)
    that no view shares: then `functionalize_inplace` handles it, and the slower
    `run_decompositions({})` (full functionalization) is not needed.  Mutating inputs,
    parameters or buffers, mutating through views, `copy_` into slices: not simple.
    """
    aliases: dict[str, torch.fx.Node] = {}

    def root(node: torch.fx.Node) -> torch.fx.Node:
        while node.name in aliases:
            node = aliases[node.name]
        return node

    viewed: set[str] = set()
    produced_by_view: set[str] = set()
    calls = [node for node in program.graph.nodes if node.op == "call_function"]
    for node in calls:
        source = _inference_alias_source(node)
        if source is not None:
            aliases[node.name] = source
        elif _is_view(node.target):
            produced_by_view.add(node.name)
            viewed.update(root(a).name for a in node.all_input_nodes)
    simple, through_alias = True, False
    for node in calls:
        schema = _schema(node.target)
        if schema is None:
            if node.target is not operator.getitem:
                simple = False  # a non-ATen call (e.g. a grad-mode switch): let export normalize it
            continue
        if not schema.is_mutable:
            continue
        target = node.args[0] if node.args else None
        if not _mutates_first_argument(node.target) or not isinstance(target, torch.fx.Node):
            simple = False
            continue
        through_alias = through_alias or target.name in aliases
        base = root(target)
        if base.op != "call_function" or base.name in viewed or base.name in produced_by_view:
            simple = False
    if not simple and through_alias:
        raise UnsupportedError("the model changes the result of an inference-mode dropout in place (which "
                               "changes the dropout's input too) and also mutates views or inputs; "
                               "torch.export's functionalization loses that aliasing")
    return simple


def functionalize_inplace(graph: Graph) -> Graph:
    """Rewrite in-place ops into their functional forms: every later use of the mutated
    value reads the in-place node's result (only called on graphs `simple_mutations` passed,
    or already functional ones)."""
    replace: dict[str, Ref] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        if replace:
            node = node.replace(args={k: map_refs(v, lambda r: replace.get(r.name, r)) for k, v in node.args.items()})
        if node.op in _ALIASING_OPS and node.args.get("train") is False and isinstance(node.args.get("input"), Ref):
            replace[node.name] = node.args["input"]  # it *is* its input (see _ALIASING_IN_INFERENCE)
            continue
        if node.op.endswith("_") and not node.op.endswith("__") and node.op != "aten._":
            first = next(iter(node.args.values()), None)
            functional = node.op[:-1]
            packet = getattr(torch.ops.aten, functional.split(".", 1)[1], None) if functional.startswith("aten.") else None
            if isinstance(first, Ref) and packet is not None and _mutates_first_argument(
                    getattr(getattr(torch.ops.aten, node.op.split(".", 1)[1]), node.overload or "default", None)):
                replace[first.name] = Ref(node.name)
                node = node.replace(op=functional)
        nodes.append(node)
    outputs = tuple(map_refs(ref, lambda r: replace.get(r.name, r)) for ref in graph.outputs)
    return graph.replace(nodes=tuple(nodes), outputs=outputs)


def build_graph(program: ExportedProgram) -> Graph:
    signature = program.graph_signature
    constants: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    inputs: list[GraphInput] = []
    rounded: list[str] = []
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    for spec in signature.input_specs:
        name = spec.arg.name
        if spec.kind == InputKind.USER_INPUT:
            value = placeholders[name].meta.get("val")
            if not isinstance(value, torch.Tensor):
                raise UnsupportedError(f"model input '{name}' is a {type(value).__name__}, not a tensor; "
                                       f"Caffe inputs are tensors")
            inputs.append(GraphInput(name, tensor_info(value)))
        elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            tensor = program.state_dict[spec.target] if spec.target in program.state_dict \
                else program.constants[spec.target]
            constants[name] = to_numpy(tensor, spec.target)
            sources[name] = spec.target
            if tensor.dtype == torch.float64:
                rounded.append(spec.target)
        else:
            raise UnsupportedError(f"model input '{name}' of kind {spec.kind.name} is not supported")
    if rounded:
        listing = ", ".join(rounded[:5]) + (f" (+{len(rounded) - 5} more)" if len(rounded) > 5 else "")
        log.warning("float64 parameters or buffers rounded to float32, which Caffe stores (each value changes by at "
                    "most 2^-24 of itself, as model.float() would): %s", listing)

    nodes: list[Node] = []
    for fx_node in program.graph.nodes:
        if fx_node.op != "call_function":
            continue
        op, overload = op_name(fx_node.target)
        if op in _DROPPED_TARGETS:
            continue
        nodes.append(Node(name=fx_node.name, op=op, overload=overload, args=bind_arguments(fx_node),
                          outputs=output_info(fx_node.meta.get("val")),
                          module_path=module_path(fx_node.meta), module_type=module_type(fx_node.meta),
                          source=source_line(fx_node.meta.get("stack_trace")),
                          module_calls=module_calls(fx_node.meta)))

    if nodes and not any(node.module_calls for node in nodes):
        nodes = _paths_from_parameters(nodes, sources)
    user_outputs = [spec.arg.name for spec in signature.output_specs if spec.kind == OutputKind.USER_OUTPUT]
    if any(spec.kind != OutputKind.USER_OUTPUT for spec in signature.output_specs):
        log.debug("ignoring non-user outputs (buffer mutations) of the exported program")
    return Graph(inputs=tuple(inputs), constants=constants, nodes=tuple(nodes),
                 outputs=tuple(Ref(n) for n in user_outputs),
                 output_keys=output_keys(program, len(user_outputs)), constant_sources=sources)


def _paths_from_parameters(nodes: Sequence[Node], sources: Mapping[str, str]) -> list[Node]:
    """No op ran inside a submodule call (a program written by a tool that drops `nn_module_stack`, or
    a model whose own `forward` does everything): each op reading the parameters of one module is
    placed in that module (`conv.weight` -> `conv`), so its layer is named like it; other ops keep
    their op names."""
    placed = []
    for node in nodes:
        owners = {sources[ref.name].rpartition(".")[0] for ref in node.refs() if ref.name in sources}
        owners.discard("")
        placed.append(node.replace(module_path=owners.pop()) if len(owners) == 1 else node)
    log.info("no module paths were captured; layers reading parameters are named after them")
    return placed


def to_numpy(tensor: torch.Tensor, name: str = "") -> np.ndarray:
    """A read-only numpy view of a parameter/buffer (no copy: `weights.caffe_blob` makes the
    one copy that ends up in the caffemodel, so a VGG16 is not held three times).

    Caffe stores float32: float16/bfloat16 widen exactly; float64 is rounded (the caller says so
    in a warning), and refused where a finite value would become infinite."""
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.float64:
        rounded = tensor.float()
        overflow = torch.isfinite(tensor) & ~torch.isfinite(rounded)
        if bool(overflow.any()):
            raise UnsupportedError(f"{name or 'a parameter'} is float64 and holds {float(tensor[overflow][0]):g}, "
                                   f"beyond float32's range (Caffe stores float32)")
        tensor = rounded
    elif tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.float()
    array = tensor.numpy()
    array.flags.writeable = False
    return array


def op_name(target: Any) -> tuple[str, str]:
    """(`aten.conv2d`, `default`) for an OpOverload; (`getitem`, ``) for operator.getitem."""
    if target is operator.getitem:
        return GETITEM, ""
    if isinstance(target, torch._ops.OpOverload):
        namespace, _, packet = target._schema.name.partition("::")
        return f"{namespace}.{packet}", target._overloadname
    name = getattr(target, "__name__", repr(target))
    module = getattr(target, "__module__", "") or ""
    return (f"{module}.{name}" if module else name), ""


def bind_arguments(fx_node: torch.fx.Node) -> dict[str, Any]:
    """All schema arguments by name, defaults filled in; fx nodes become Refs."""
    target = fx_node.target
    if target is operator.getitem:
        return {"self": convert_arg(fx_node.args[0]), "index": fx_node.args[1]}
    if not isinstance(target, torch._ops.OpOverload):
        bound = {f"arg{i}": convert_arg(a) for i, a in enumerate(fx_node.args)}
        bound.update({k: convert_arg(v) for k, v in fx_node.kwargs.items()})
        return bound
    result: dict[str, Any] = {}
    positional = list(fx_node.args)
    for i, argument in enumerate(target._schema.arguments):
        if i < len(positional) and not argument.kwarg_only:
            value = positional[i]
        elif argument.name in fx_node.kwargs:
            value = fx_node.kwargs[argument.name]
        elif argument.has_default_value():
            value = argument.default_value
        else:
            value = None
        result[argument.name] = convert_arg(value)
    return result


def convert_arg(value: Any) -> Any:
    if isinstance(value, torch.fx.Node):
        return Ref(value.name)
    if isinstance(value, (list, tuple)):
        return type(value)(convert_arg(v) for v in value)
    if isinstance(value, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
        return str(value)
    return value


def tensor_info(value: Any) -> TensorInfo:
    return TensorInfo(shape=tuple(int(d) for d in value.shape), dtype=str(value.dtype).replace("torch.", ""))


def output_info(value: Any) -> TensorInfo | tuple[TensorInfo | None, ...] | None:
    if isinstance(value, torch.Tensor):
        return tensor_info(value)
    if isinstance(value, (list, tuple)):
        return tuple(tensor_info(v) if isinstance(v, torch.Tensor) else None for v in value)
    return None


def module_path(meta: Mapping[str, Any]) -> str:
    """`layer1.0.conv1`: the innermost module the op ran in ('' at the top level)."""
    stack = meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    return _clean_path(str(list(stack.values())[-1][0]))


@functools.lru_cache(maxsize=4096)  # every node repeats its enclosing modules' paths
def _clean_path(path: str) -> str:
    # Older torch spells paths as L['self'].layer1[0].conv1.
    path = re.sub(r"^L\['self'\]\.?", "", str(path))
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    path = re.sub(r"\['([^']*)'\]", r".\1", path)
    return path.strip(".")


def module_calls(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The enclosing module calls, outermost first, root excluded: `("b", "b.c")`; the k-th call
    (k >= 1) of a module called several times is `b#k` (torch.export keys it `...@k`)."""
    calls = []
    for key, entry in (meta.get("nn_module_stack") or {}).items():
        path = _clean_path(str(entry[0]))
        if not path:
            continue
        match = re.search(r"@(\d+)$", str(key))
        calls.append(f"{path}#{match.group(1)}" if match and match.group(1) != "0" else path)
    return tuple(calls)


def module_type(meta: Mapping[str, Any]) -> str:
    stack = meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    kind = list(stack.values())[-1][1]
    name = kind if isinstance(kind, str) else getattr(kind, "__qualname__", str(kind))
    return name.rsplit(".", 1)[-1]


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)')


def source_line(stack_trace: str | None) -> str:
    """`model.py:42 (x = self.act(x))`: the innermost frame outside the torch package."""
    if not stack_trace:
        return ""
    frames = _FRAME.findall(stack_trace)
    for path, line, _function, code in reversed(frames):
        if not os.path.abspath(path).startswith(_TORCH_DIR):
            return f"{os.path.basename(path)}:{line} ({code.strip()})"
    if frames:
        path, line, _function, code = frames[-1]
        return f"{os.path.basename(path)}:{line} ({code.strip()})"
    return ""


def output_keys(program: ExportedProgram, count: int) -> tuple[str, ...]:
    """User-facing key of each flat output: `0`, `1` for tuples, `logits`, `b.0` for dicts."""
    try:
        spec = program.call_spec.out_spec
        tree = pytree.tree_unflatten(list(range(spec.num_leaves)), spec)
        paths = [pytree.keystr(path) for path, _ in pytree.tree_flatten_with_path(tree)[0]]
    except Exception:  # noqa: BLE001 - naming only
        return tuple(str(i) for i in range(count))
    keys = [re.sub(r"\[['\"]?([^\]'\"]*)['\"]?\]", r".\1", p).strip(".") or str(i) for i, p in enumerate(paths)]
    return tuple(keys) if len(keys) == count else tuple(str(i) for i in range(count))
