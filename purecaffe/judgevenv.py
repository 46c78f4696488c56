"""A judge's own virtual environment (RKNN-Toolkit2, tpu-mlir, MNN), built once from a recipe and cached.

Each real consumer pins numpy, protobuf or a Python version that must not touch purecaffe's own
environment, so each lives in a venv of its own:

    recipe = VenvRecipe(title="MNN 3.6.1", directory="mnn/mnn-3.6.1", spec={...}, commands=...)
    venv = build_venv(recipe)          # <cache>/mnn/mnn-3.6.1-<12 hex digits of the spec>

The build runs `recipe.commands(work)` (a venv, `python -m pip install ...`, an import check)
into a hidden temporary directory beside the final one, then `recipe.fixup(work)` when given,
writes a stamp file, and renames the tree into place (`purecaffe.cache`): a killed build is
never used, the next call removes it and builds again, and a lock file serialises concurrent
builds.  `recipe.spec` is everything that decides what the venv holds (versions, pins, the
Python version, the fix-ups): its digest names the directory, so a changed recipe builds a new
venv.  Only `python -m pip` is ever run inside, never the venv's console scripts, whose shebangs
name the temporary directory.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from purecaffe.cache import build_lock, building_path, cache_dir, move_into_place, remove_leftovers
from purecaffe.errors import BackendUnavailableError, PurecaffeError

log = logging.getLogger(__name__)

STAMP = ".purecaffe-venv.json"
"""Written last into a finished venv; a venv without it is never run or reused."""
COMMAND_TIMEOUT = 3600.0

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class VenvRecipe:
    """How one judge's venv is made."""

    title: str                                   # "tpu-mlir 1.30.2", for messages
    directory: str                               # "tpumlir/tpu-mlir-1.30.2" under the cache dir; the digest is appended
    spec: Mapping[str, object]                   # what decides the contents (JSON-able): digest and stamp
    commands: Callable[[Path], list[list[str]]]  # the install commands, in order, for the work directory
    fixup: Callable[[Path], None] | None = None  # run on the installed tree, before `check`
    check: Callable[[Path], list[list[str]]] | None = None  # commands proving the finished tree works

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(dict(self.spec), sort_keys=True).encode()).hexdigest()[:12]

    def default_dir(self) -> Path:
        return cache_dir() / f"{self.directory}-{self.digest}"


def venv_python(venv: PathLike) -> Path:
    return Path(venv) / "bin" / "python"


def read_stamp(venv: PathLike) -> dict | None:
    try:
        return json.loads((Path(venv) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def venv_ready(venv: PathLike, recipe: VenvRecipe) -> bool:
    """True for a finished venv (stamp present) built from this recipe."""
    stamp = read_stamp(venv)
    if stamp is None or not venv_python(venv).exists():
        return False
    return stamp.get("recipe") == json.loads(json.dumps(dict(recipe.spec)))


def build_venv(recipe: VenvRecipe, venv: PathLike | None = None, *, rebuild: bool = False) -> Path:
    """Build (or find) the recipe's venv; returns its directory.

    Reuses a finished venv unless `rebuild`.  Refuses to replace a directory that is not a
    purecaffe venv.  A failed command raises `BackendUnavailableError` naming it and the log.
    """
    venv = (Path(venv) if venv is not None else recipe.default_dir()).absolute()
    if not rebuild and venv_ready(venv, recipe):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(venv):
        if not rebuild and venv_ready(venv, recipe):
            return venv  # another process finished it while we waited
        if venv.exists() and read_stamp(venv) is None and any(venv.iterdir()):
            raise PurecaffeError(f"exists but is not a purecaffe {recipe.title} venv (no stamp file); remove it "
                                 "or pick another --dir", path=venv)
        remove_leftovers(venv)
        if venv.exists() and read_stamp(venv) is not None and not venv_ready(venv, recipe):
            log.info("replacing %s: built from another recipe", venv)  # stamped by us, so ours to replace
        work = building_path(venv)
        log_path = venv.parent / f"{venv.name}.log"
        try:
            started = time.monotonic()
            log.warning("building the %s venv (pip, a few minutes) in %s", recipe.title, work)
            run_commands(recipe.commands(work), log_path, title=recipe.title)
            if recipe.fixup is not None:
                recipe.fixup(work)
            if recipe.check is not None:
                run_commands(recipe.check(work), log_path, title=recipe.title, append=True)
            stamp = {"recipe": dict(recipe.spec), "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "seconds": round(time.monotonic() - started, 1)}
            (work / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
            move_into_place(work, venv)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    log.info("%s venv ready at %s", recipe.title, venv)
    return venv


def clean_env() -> dict[str, str]:
    """This process's environment without what would point a child Python at purecaffe's own packages."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def run_commands(commands: Sequence[Sequence[str]], log_path: Path, *, title: str, append: bool = False) -> None:
    """Run each command in order, all output into `log_path`; the first failure raises, naming it."""
    env = clean_env()
    with open(log_path, "a" if append else "w", encoding="utf-8") as log_file:
        for command in commands:
            log_file.write(f"$ {' '.join(command)}\n")
            log_file.flush()
            try:
                done = subprocess.run(list(command), stdin=subprocess.DEVNULL, stdout=log_file,
                                      stderr=subprocess.STDOUT, env=env, timeout=COMMAND_TIMEOUT, check=False)
            except (OSError, subprocess.TimeoutExpired) as error:
                raise BackendUnavailableError(f"building the {title} venv failed at `{' '.join(command[-2:])}`: "
                                              f"{error} -- full log: {log_path}") from None
            if done.returncode != 0:
                lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                tail = lines[-1] if lines else "(no output)"
                raise BackendUnavailableError(f"building the {title} venv failed at `{' '.join(command[-2:])}` "
                                              f"(exit {done.returncode}): {tail} -- full log: {log_path}")


def find_python(version: tuple[int, int], *, variable: str) -> Path:
    """A Python `version` interpreter that can make venvs: `$<variable>`, then pyenv's, then `pythonX.Y` on PATH.

    Each candidate is run (`-c "import venv, ensurepip"`) and must report that version: pyenv's
    `pythonX.Y` shim on PATH exists even when no such version is active.  None works:
    `BackendUnavailableError` saying how to get one.
    """
    wanted = f"{version[0]}.{version[1]}"
    explicit = os.environ.get(variable)
    candidates: list[Path] = [Path(explicit)] if explicit else []
    pyenv_roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    pyenv_roots.append(Path.home() / ".pyenv")
    for root in pyenv_roots:
        candidates.extend(sorted((root / "versions").glob(f"{wanted}.*/bin/python{wanted}"), reverse=True))
    on_path = shutil.which(f"python{wanted}")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if _reports_version(candidate, version):
            return candidate
    if explicit:
        raise BackendUnavailableError(f"${variable}={explicit} is not a working Python {wanted} with venv and "
                                      f"ensurepip")
    raise BackendUnavailableError(
        f"no Python {wanted} found (needed for this judge's venv): set ${variable} to one, or install one "
        f"(`pyenv install {wanted}`; Ubuntu 22.04: `apt-get install python{wanted} python{wanted}-venv`)")


def _reports_version(python: Path, version: tuple[int, int]) -> bool:
    probe = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run([str(python), "-c", probe], stdin=subprocess.DEVNULL, capture_output=True,
                              env=clean_env(), timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.decode().strip() == f"{version[0]}.{version[1]}"


def pip_install(python: Path) -> list[str]:
    """`<venv python> -m pip install`, quiet about pip's own version, never asking."""
    return [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]


__all__ = ["STAMP", "VenvRecipe", "build_venv", "clean_env", "find_python", "pip_install", "read_stamp", "run_commands",
           "venv_python", "venv_ready"]
