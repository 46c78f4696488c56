"""The RKNN-Toolkit2 judge's own virtual environment, built once and cached.

RKNN-Toolkit2 pins numpy<=1.26.4, protobuf<=4.25.4 and a torch<=2.4 whose wheel is
a CUDA build, none of which may touch purecaffe's own environment.  So it lives in
a venv of its own, installed by this recipe (docs: judges.md, RKNN section):

    python3 -m venv V
    V/bin/python -m pip install --no-deps rknn-toolkit2==2.5.0
    V/bin/python -m pip install <PINNED_DEPENDENCIES>
    V/bin/python -m pip install --no-deps torch==2.13.0      # the CPU wheel; its Caffe path works with it

into `<cache>/rknn/toolkit2-2.5.0-<12 hex digits of the recipe>` (`purecaffe.cache.cache_dir()`):
first into a hidden temporary directory beside it, then renamed into place after
`import rknn.api` worked and a stamp file was written, so a half-built venv (a
killed build) is never used; the next call removes it and builds again.  A lock
file serialises concurrent builds.  Only `python -m pip` is ever run inside, never
the venv's console scripts, whose shebangs name the temporary directory.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from purecaffe.cache import build_lock, building_path, cache_dir, move_into_place, remove_leftovers
from purecaffe.errors import BackendUnavailableError, PurecaffeError

log = logging.getLogger(__name__)

RKNN_VERSION = "2.5.0"
TORCH_VERSION = "2.13.0"
PINNED_DEPENDENCIES: tuple[str, ...] = (
    "numpy<=1.26.4", "protobuf<=4.25.4,>=4.21.6", "onnx>=1.16.1,<1.19", "onnxruntime", "scipy", "psutil",
    "ruamel.yaml", "tqdm", "opencv-python-headless<4.11", "fast-histogram", "sympy", "networkx", "jinja2",
    "filelock", "fsspec", "typing-extensions",
)
"""rknn-toolkit2's run-time needs, minus its torch pin (installed without dependencies)."""
STAMP = ".purecaffe-venv.json"
"""Written last into a finished venv; a venv without it is never run or reused."""
PIP_TIMEOUT = 3600.0


def recipe() -> dict[str, object]:
    """Everything that decides what the venv holds (its digest names the directory)."""
    return {"rknn_toolkit2": RKNN_VERSION, "dependencies": list(PINNED_DEPENDENCIES), "torch": TORCH_VERSION,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def recipe_digest() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:12]


def default_venv_dir() -> Path:
    """`<cache>/rknn/toolkit2-<version>-<12 hex digits of the recipe>`."""
    return cache_dir() / "rknn" / f"toolkit2-{RKNN_VERSION}-{recipe_digest()}"


def venv_python(venv: str | os.PathLike[str]) -> Path:
    return Path(venv) / "bin" / "python"


def read_stamp(venv: str | os.PathLike[str]) -> dict | None:
    try:
        return json.loads((Path(venv) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def venv_ready(venv: str | os.PathLike[str]) -> bool:
    """True for a finished venv (stamp present) built from today's recipe."""
    stamp = read_stamp(venv)
    if stamp is None or not venv_python(venv).exists():
        return False
    return stamp.get("recipe") == recipe()


def build_venv(venv: str | os.PathLike[str] | None = None, *, rebuild: bool = False) -> Path:
    """Build (or find) the RKNN-Toolkit2 venv; returns its directory.

    Reuses a finished venv unless `rebuild`.  Refuses to replace a directory that
    is not a purecaffe venv.  Takes a few minutes the first time (pip installs
    about 1.5 GB, torch included).
    """
    venv = (Path(venv) if venv is not None else default_venv_dir()).absolute()
    if not rebuild and venv_ready(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(venv):
        if not rebuild and venv_ready(venv):
            return venv  # another process finished it while we waited
        if venv.exists() and read_stamp(venv) is None and any(venv.iterdir()):
            raise PurecaffeError("exists but is not a purecaffe RKNN venv (no stamp file); remove it or pick "
                                 "another --dir", path=venv)
        _remove_leftovers(venv)
        work = building_path(venv)
        log_path = venv.parent / f"{venv.name}.log"
        try:
            started = time.monotonic()
            _install(work, log_path)
            seconds = time.monotonic() - started
            stamp = {"recipe": recipe(), "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "seconds": round(seconds, 1)}
            (work / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
            move_into_place(work, venv)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    log.info("RKNN-Toolkit2 %s venv ready at %s", RKNN_VERSION, venv)
    return venv


def install_commands(work: Path) -> list[list[str]]:
    """The exact commands of the recipe, in order."""
    python = str(venv_python(work))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    return [
        [sys.executable, "-m", "venv", str(work)],
        [*pip, "--no-deps", f"rknn-toolkit2=={RKNN_VERSION}"],
        [*pip, *PINNED_DEPENDENCIES],
        [*pip, "--no-deps", f"torch=={TORCH_VERSION}"],
        [python, "-c", "import rknn.api"],
    ]


def _install(work: Path, log_path: Path) -> None:
    log.warning("building the RKNN-Toolkit2 %s venv (pip, a few minutes) in %s", RKNN_VERSION, work)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with open(log_path, "w", encoding="utf-8") as log_file:
        for command in install_commands(work):
            log_file.write(f"$ {' '.join(command)}\n")
            log_file.flush()
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                  env=env, timeout=PIP_TIMEOUT, check=False)
            if done.returncode != 0:
                lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                tail = lines[-1] if lines else "(no output)"
                raise BackendUnavailableError(f"building the RKNN venv failed at `{' '.join(command[-2:])}` "
                                              f"(exit {done.returncode}): {tail} -- full log: {log_path}")



def _remove_leftovers(venv: Path) -> None:
    """Half-built or half-replaced venvs of earlier, interrupted builds (we hold the lock)."""
    remove_leftovers(venv)
    if venv.exists() and read_stamp(venv) is not None and not venv_ready(venv):
        log.info("removing %s: built from another recipe", venv)  # stamped by us, so ours to replace


