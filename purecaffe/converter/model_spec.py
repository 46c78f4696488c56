"""Where a model comes from: the specs `purecaffe convert`, `verify` and `load_model` accept.

| spec | what is loaded |
|---|---|
| `package.module:factory` | imported (the working directory is searched first, as `python -m` does) |
| `module:factory` | a `module.py` in the working directory, or any importable module |
| `path/to/file.py:factory` | that file, its folder searchable while it imports (so its sibling imports work) |
| `model.pt2` | a saved `torch.export` program (`torch.export.load`): no Python source needed |

`factory` is a dotted attribute (`models.resnet18`); a class or function is called with
`kwargs` (`--model-kwargs '{"num_classes": 10}'`), a `torch.nn.Module` instance is used as it is.
Every failure is one `PurecaffeError` line naming the spec.  A loaded program enters the one
capture path (`capture.capture`) like any module.

Checkpoints (`weights=`) are read by the one reader, `purecaffe.io.checkpoint` (the same as
`purecaffe fill`): `.pth`/`.pt` (weights-only), `.npz`, `.npy` dict or `.safetensors`, loaded
strictly into the module's (or the program's) state dict.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.export import ExportedProgram

from purecaffe.errors import FormatError, PurecaffeError, ShapeError, first_line
from purecaffe.io.checkpoint import load_checkpoint

PathLike = str | os.PathLike[str]
Model = torch.nn.Module | ExportedProgram

PROGRAM_SUFFIX = ".pt2"


def load_model(spec: str, *, kwargs: Mapping[str, Any] | None = None, weights: PathLike | None = None) -> Model:
    """The model `spec` names (see the module docstring), with `weights` loaded, in eval mode."""
    if spec.endswith(PROGRAM_SUFFIX):
        if kwargs:
            raise PurecaffeError(f"model {spec!r}: a saved program takes no factory arguments (--model-kwargs)")
        model: Model = load_program(spec)
    else:
        model = load_factory(spec, kwargs)
    if weights is not None:
        load_weights_into(model, weights)
    if isinstance(model, torch.nn.Module):
        model.eval()
    return model


def load_program(path: PathLike) -> ExportedProgram:
    """`torch.export.load`, each failure one line naming the file."""
    if not Path(path).is_file():
        raise FormatError("no such file (a saved torch.export program, torch.export.save(program, path))",
                          path=path)
    if not zipfile.is_zipfile(path):
        raise FormatError("not a torch.export program (.pt2 files are zip archives; this is not one)", path=path)
    with _held_log("torch.export") as held:  # torch logs a traceback for a foreign archive, then raises
        try:
            return torch.export.load(str(path))
        except Exception as error:  # noqa: BLE001 - torch raises many kinds for a foreign or broken file
            causes = [r.exc_info[1] for r in held if r.exc_info and r.exc_info[1] is not None] + [error]
            reason = f"{type(causes[0]).__name__}: {first_line(causes[0]).split('. ')[0]}"
            raise FormatError(f"not a loadable torch.export program: {reason}", path=path) from None


@contextlib.contextmanager
def _held_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records logger `name` makes while the block runs, kept instead of printed (a logger filter
    acts before any handler, torch's own included)."""
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    logger = logging.getLogger(name)
    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)


def load_factory(spec: str, kwargs: Mapping[str, Any] | None = None) -> Model:
    """Import `module:factory` (or load `file.py:factory`) and call the factory with `kwargs`."""
    source, sep, attribute = spec.rpartition(":")
    if not sep or not source or not attribute:
        raise PurecaffeError(f"model {spec!r}: expected 'package.module:factory', 'path/to/file.py:factory' "
                             f"or 'model.pt2'")
    folder = Path(source).resolve().parent if source.endswith(".py") else Path.cwd()
    module = _load_file(spec, Path(source)) if source.endswith(".py") else _import(spec, source)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PurecaffeError(f"model {spec!r}: {source} has no attribute {attribute}")
        target = getattr(target, part)
    if isinstance(target, (torch.nn.Module, ExportedProgram)):
        if kwargs:
            raise PurecaffeError(f"model {spec!r}: {attribute} is a model instance, not a factory; it takes no "
                                 f"arguments (--model-kwargs)")
        return target
    if not callable(target):
        raise PurecaffeError(f"model {spec!r}: {attribute} is a {type(target).__name__}, not a model or a "
                             f"factory")
    call = f"{attribute}({', '.join(f'{k}={v!r}' for k, v in (kwargs or {}).items())})"
    try:
        with _searchable(folder):  # a factory may import its siblings when called
            model = target(**dict(kwargs or {}))
    except Exception as error:  # noqa: BLE001 - the user's factory may raise anything
        raise PurecaffeError(f"model {spec!r}: {call} raised {type(error).__name__}: {first_line(error)}") from error
    if not isinstance(model, (torch.nn.Module, ExportedProgram)):
        raise PurecaffeError(f"model {spec!r}: {call} did not give a torch.nn.Module (got {type(model).__name__})")
    return model


def _import(spec: str, module_name: str) -> Any:
    """`importlib.import_module`, the working directory searched first (the console script, unlike
    `python -m`, does not put it on sys.path)."""
    try:
        with _searchable(Path.cwd()):
            return importlib.import_module(module_name)
    except ImportError as error:
        raise PurecaffeError(f"model {spec!r}: cannot import {module_name}: {first_line(error)} (searched the "
                             f"working directory {Path.cwd()} and sys.path)") from error
    except Exception as error:  # noqa: BLE001 - the module's own code failed while importing
        raise PurecaffeError(f"model {spec!r}: importing {module_name} raised {type(error).__name__}: "
                             f"{first_line(error)}") from error


def _load_file(spec: str, path: Path) -> Any:
    """`path/to/file.py` as a module named after its file (`file`), unless that name is taken by
    another file: then under a private name."""
    if not path.is_file():
        raise PurecaffeError(f"model {spec!r}: no such file {path}")
    path = path.resolve()
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path:
            return loaded
        name = f"_purecaffe_model_{abs(hash(str(path))):x}_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise PurecaffeError(f"model {spec!r}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        with _searchable(path.parent):
            module_spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - the user's file may raise anything while it runs
        del sys.modules[name]
        raise PurecaffeError(f"model {spec!r}: running {path.name} raised {type(error).__name__}: "
                             f"{first_line(error)}") from error
    return module


@contextlib.contextmanager
def _searchable(directory: Path) -> Iterator[None]:
    """`directory` first on sys.path while the block runs (imports inside the model's own code)."""
    entry = str(directory)
    if entry in sys.path:
        yield
        return
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def program_input_shapes(program: ExportedProgram) -> list[tuple[int, ...]] | None:
    """The shapes a saved program was exported for, one per user input; None when any is dynamic or
    not a tensor (then the caller must say)."""
    from torch.export.graph_signature import InputKind

    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    shapes = []
    for spec in program.graph_signature.input_specs:
        if spec.kind != InputKind.USER_INPUT:
            continue
        value = placeholders[spec.arg.name].meta.get("val")
        if not isinstance(value, torch.Tensor) or not all(isinstance(d, int) for d in value.shape):
            return None
        shapes.append(tuple(int(d) for d in value.shape))
    return shapes


def load_weights_into(model: Model, path: PathLike) -> Model:
    """Load a checkpoint into `model` (a module, or a program's state dict), strictly: any missing,
    unexpected or mis-shaped tensor is an error."""
    state = load_checkpoint(path).tensors
    expected = dict(model.state_dict) if isinstance(model, ExportedProgram) else model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {list(state[k].shape)} vs {list(v.shape)}" for k, v in expected.items()
                  if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatch {_few(mismatched)}")
    if problems:
        raise ShapeError(f"checkpoint does not match the model: {'; '.join(problems)}", path=path)
    with torch.no_grad():
        for key, value in expected.items():
            value.copy_(torch.from_numpy(state[key]).to(value.dtype))
    return model


def _few(items: Sequence[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


__all__ = ["Model", "load_factory", "load_model", "load_program", "load_weights_into", "program_input_shapes"]
