"""`purecaffe convert`: the bundled example, checkpoints, one-line errors, nothing written on failure."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from purecaffe.cli import main
from purecaffe.examples.tiny_resnet import tiny_resnet
from never_lowers import OP, REASON


def test_quick_start_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "tiny_resnet"
    status = main(["convert", "purecaffe.examples.tiny_resnet:tiny_resnet", "--input-shape", "1,3,64,64",
                   "-o", str(out)])
    assert status == 0
    for suffix in (".prototxt", ".caffemodel", ".purecaffe.json"):
        assert (tmp_path / "out" / f"tiny_resnet{suffix}").is_file()
    assert "inputs data[1, 3, 64, 64], outputs fc[1, 10]" in capsys.readouterr().out
    sidecar = json.loads((tmp_path / "out" / "tiny_resnet.purecaffe.json").read_text())
    assert sidecar["name"] == "tiny_resnet" and sidecar["inputs"] == [{"blob": "data", "torch": "x"}]


@pytest.mark.parametrize("wrapping", ["plain", "state_dict", "model", "data_parallel"])
def test_checkpoint_forms(tmp_path: Path, wrapping: str) -> None:
    import purecaffe

    model = tiny_resnet(seed=5)
    state = model.state_dict()
    if wrapping == "data_parallel":
        state = {f"module.{k}": v for k, v in state.items()}
    saved = {"plain": state, "state_dict": {"state_dict": state, "epoch": 3},
             "model": {"model": state}, "data_parallel": state}[wrapping]
    checkpoint = tmp_path / "ckpt.pth"
    torch.save(saved, checkpoint)
    out = tmp_path / "net"
    assert main(["convert", "purecaffe.examples.tiny_resnet:tiny_resnet", "--input-shape", "1,3,32,32",
                 "--weights", str(checkpoint), "-o", str(out)]) == 0
    weights = purecaffe.load_weights(str(out) + ".caffemodel")
    assert torch.equal(torch.from_numpy(weights["fc"][0]), model.fc.weight.detach())


def test_mismatched_checkpoint_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tiny_resnet(num_classes=7).state_dict()
    checkpoint = tmp_path / "ckpt.pth"
    torch.save(state, checkpoint)
    out = tmp_path / "out" / "net"
    status = main(["convert", "purecaffe.examples.tiny_resnet:tiny_resnet", "--input-shape", "1,3,32,32",
                   "--weights", str(checkpoint), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "checkpoint does not match the model: shape mismatch fc.weight [7, 32] vs [10, 32]" in err
    assert not (tmp_path / "out").exists()


def test_pickled_object_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "whole_model.pth"
    torch.save(tiny_resnet(), checkpoint)
    status = main(["convert", "purecaffe.examples.tiny_resnet:tiny_resnet", "--input-shape", "1,3,32,32",
                   "--weights", str(checkpoint), "-o", str(tmp_path / "net")])
    assert status == 2
    assert ("whole_model.pth: refused: its pickle asks for purecaffe.examples.tiny_resnet.TinyResNet, which "
            "weights-only loading does not allow") in capsys.readouterr().err
    assert not list(tmp_path.glob("net*"))


def test_unsupported_model_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["convert", "never_lowers:NeverLowers", "--input-shape", "1,3,4,4", "-o", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert status == 2 and f"{OP}.default" in err and REASON in err
    assert list(tmp_path.iterdir()) == []


def test_bad_model_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["convert", "no_such_module_xyz:f", "--input-shape", "1,3", "-o", str(tmp_path / "x")]) == 2
    assert "cannot import no_such_module_xyz" in capsys.readouterr().err


@pytest.mark.parametrize(("spec", "error"), [("torch.nn:Conv2d", "TypeError"), ("torch.nn:Linear", "TypeError")])
def test_factory_that_raises_is_one_line_exit_2(spec: str, error: str, capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """A factory needing arguments (or failing inside) is the user's problem: one line, no traceback."""
    assert main(["convert", spec, "--input-shape", "1,3", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"{spec}" in err and f"raised {error}" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_import_purecaffe_does_not_import_torch() -> None:
    code = "import sys, purecaffe; purecaffe.load_schema; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
