"""The user cache directory (compiled schemas, the Debian rootfs)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$PURECAFFE_CACHE_DIR`, else `$XDG_CACHE_HOME/purecaffe`, else `~/.cache/purecaffe`."""
    explicit = os.environ.get("PURECAFFE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "purecaffe"
