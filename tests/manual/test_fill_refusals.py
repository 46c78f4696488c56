"""fill refuses a checkpoint whose pickle carries code, and writes nothing."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from manual_project import trained_model, write_project

from purecaffe.manual import UnsafeCheckpointError, fill


class Payload:
    """Unpickling this runs `touch <marker>`: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def payload_file(tmp_path: Path, kind: str, marker: Path) -> Path:
    if kind == "pth":
        path = tmp_path / "evil.pth"
        torch.save({"conv.weight": torch.zeros(2), "hook": Payload(marker)}, path)
    else:
        path = tmp_path / "evil.npy"
        np.save(path, {"conv.weight": np.zeros(2), "x": Payload(marker)}, allow_pickle=True)
    return path


@pytest.mark.parametrize("kind", ["pth", "npy"])
def test_fill_with_pickled_code_writes_nothing(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "PAYLOAD_RAN"
    project = write_project(tmp_path, trained_model())
    output = tmp_path / "net.caffemodel"
    with pytest.raises(UnsafeCheckpointError, match="refused: its pickle asks for posix.system"):
        fill(project["prototxt"], payload_file(tmp_path, kind, marker), output, project["mapping"])
    assert not output.exists() and not marker.exists()
