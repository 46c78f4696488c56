"""Getting a model for conversion: `package.module:factory` specs and checkpoints.

Used by `purecaffe convert`, usable from Python the same way.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from purecaffe.errors import PurecaffeError


def load_factory(spec: str) -> torch.nn.Module:
    """Import `package.module:factory` and call it with no arguments; a module instance is used as is."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise PurecaffeError(f"model {spec!r}: expected 'package.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise PurecaffeError(f"model {spec!r}: cannot import {module_name}: {error}") from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PurecaffeError(f"model {spec!r}: {module_name} has no attribute {attribute}")
        target = getattr(target, part)
    model = target
    if not isinstance(target, torch.nn.Module) and callable(target):
        try:
            model = target()
        except Exception as error:  # noqa: BLE001 - the user's factory may raise anything
            first = next((line for line in str(error).splitlines() if line.strip()), "")
            raise PurecaffeError(f"model {spec!r}: {attribute}() raised {type(error).__name__}"
                                 f"{': ' + first.strip() if first else ''}") from error
    if not isinstance(model, torch.nn.Module):
        raise PurecaffeError(f"model {spec!r}: {attribute} did not give a torch.nn.Module "
                             f"(got {type(model).__name__})")
    return model


def checkpoint_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state_dict from a checkpoint: the dict itself, or the one under 'state_dict' / 'model'.

    Loaded with `weights_only=True` (no arbitrary pickled code); `module.` prefixes
    (DataParallel / DistributedDataParallel) are stripped.
    """
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PurecaffeError("checkpoint not found", path=path) from None
    except Exception as error:  # noqa: BLE001 - unpickling errors come in many types
        first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise PurecaffeError(f"cannot load checkpoint with weights_only=True: {first.strip()}", path=path) from error
    state = loaded
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(loaded.get(key), Mapping):
                state = loaded[key]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PurecaffeError("checkpoint is not a state_dict (nor a dict holding one under "
                             "'state_dict' or 'model')", path=path)
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike[str]) -> torch.nn.Module:
    """Load a checkpoint into `model`, strictly: any missing, unexpected or mis-shaped tensor is an error."""
    state = checkpoint_state_dict(path)
    expected = model.state_dict()
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
        raise PurecaffeError(f"checkpoint does not match the model: {'; '.join(problems)}", path=path)
    model.load_state_dict(state, strict=True)
    return model


def _few(items: Sequence[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")

