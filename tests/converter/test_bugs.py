"""A bug inside the converter is a `ConverterBugError` naming the op, the module path and the source
line, never a user error and never a bare traceback; the CLI prints one line (exit 3) and a
hint for `--debug`, which shows the traceback."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.cli import main
from purecaffe.converter import registry as registry_module
from purecaffe.errors import ConverterBugError, PurecaffeError


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def _broken_relu(ctx, node) -> None:  # noqa: ANN001 - the lowering signature
    return {}["missing"]  # the KeyError a buggy lowering raises


@pytest.fixture
def broken_relu(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find = registry_module.Registry.find

    def find(self, op: str, overload: str | None = None):  # noqa: ANN202
        return _broken_relu if op == "aten.relu" else real_find(self, op, overload)

    monkeypatch.setattr(registry_module.Registry, "find", find)


def test_exception_in_a_lowering_is_a_bug_naming_op_module_and_line(broken_relu: None) -> None:
    with pytest.raises(ConverterBugError) as info:
        purecaffe.convert(Block().eval(), (torch.randn(1, 3, 8, 8),))
    bug = info.value
    assert not isinstance(bug, PurecaffeError), "a converter bug must not look like the user's mistake"
    assert bug.op == "aten.relu.default" and bug.module_path == "act"
    assert "test_bugs.py" in bug.source and "self.act(self.conv(x))" in bug.source
    assert "KeyError" in str(bug) and "purecaffe bug" in str(bug) and "\n" not in str(bug)
    assert isinstance(bug.__cause__, KeyError)


def test_a_shape_disagreement_at_emit_time_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lowering whose top Caffe computes with another shape than torch: a bug, not an unsupported op."""
    from purecaffe.canonical import builders

    def lower_relu_wrongly(ctx, node) -> None:  # noqa: ANN001
        x = ctx.blob(node.arg("self"))
        ctx.emit(builders.pooling(ctx.name(node), x, ctx.name(node), method="MAX", kernel=2, stride=2), result=node)

    real_find = registry_module.Registry.find
    monkeypatch.setattr(registry_module.Registry, "find",
                        lambda self, op, overload=None: lower_relu_wrongly if op == "aten.relu"
                        else real_find(self, op, overload))
    with pytest.raises(ConverterBugError, match=r"aten\.relu\.default in act.*torch computes \[1, 4, 6, 6\]"):
        purecaffe.convert(Block().eval(), (torch.randn(1, 3, 8, 8),))


MODEL_FILE = textwrap.dedent("""
    import torch
    from torch import nn

    def block():
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
""")


def test_cli_prints_one_line_and_exits_3_with_a_debug_hint(broken_relu: None, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bugmodel.py").write_text(MODEL_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("bugmodel", None)
    args = ["convert", "bugmodel:block", "--input-shape", "1,3,8,8", "-o", str(tmp_path / "out")]
    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "purecaffe bug while converting aten.relu.default in 1" in err[0]
    assert err[1] == "purecaffe: rerun with --debug for the full traceback"
    assert not list(tmp_path.glob("out*")), "nothing is written"
    assert main(["--debug", *args]) == 3
    assert "Traceback" in capsys.readouterr().err
