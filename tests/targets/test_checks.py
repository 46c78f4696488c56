"""The target checks (`purecaffe.targets.checks`) and `purecaffe lint`, which runs them on a prototxt."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from corpus import corpus_dir
from purecaffe.canonical import Blob, builders
from purecaffe.cli import main
from purecaffe.converter import UnsupportedOpsError
from purecaffe.targets import findings, get_target

X = Blob("x", (1, 8, 12, 12))


def _rules(layers: list, target: str) -> list[str]:
    return [f.rule for f in findings(layers, get_target(target))]


@pytest.mark.parametrize(("layer", "rule"), [
    (builders.convolution("c", X, "c", num_output=8, kernel=1, group=8), None),
    (builders.power("p", X, "p", power=0.5), None),
    (builders.power("p", X, "p", power=1.5), "nnie-power"),
    (builders.permute("t", X, "t", order=(0, 2, 3, 1)), None),
    (builders.permute("t", X, "t", order=(0, 1, 3, 2)), "nnie-permute"),
    (builders.concat("cat", [X, X], "cat", axis=0), "nnie-batch-axis"),
    (builders.softmax("s", X, "s", axis=1), None),
    (builders.reshape("r", X, "r", dims=(0, -1)), None),
    (builders.reshape("r", X, "r", dims=(2, 4, 12, 12)), "nnie-reshape"),
    (builders.swish("w", X, "w"), "layer-type"),
    (builders.pooling("m", X, "m", method="MAX", kernel=3, stride=2, round_mode="FLOOR"), "pooling-round-mode"),
])
def test_nnie_rules(layer: object, rule: str | None) -> None:
    assert _rules([layer], "nnie") == ([rule] if rule else [])


def test_nnie_kernel_and_group_limits() -> None:
    wide = Blob("w", (1, 4096, 300, 300))
    big = builders.convolution("c", wide, "c", num_output=4096, kernel=257, group=4096)
    assert sorted(_rules([big], "nnie")) == ["nnie-group", "nnie-kernel-pad"]


def test_bvlc_takes_floor_pooling_and_clip() -> None:
    layers = [builders.pooling("m", X, "m", method="MAX", kernel=3, stride=2, round_mode="FLOOR"),
              builders.clip("c", X, "c", min=0.0, max=1.0), builders.swish("s", X, "s")]
    assert _rules(layers, "bvlc") == []
    assert sorted(_rules(layers, "caffe1")) == ["layer-type", "layer-type", "pooling-round-mode"]


def test_convert_refuses_what_no_rule_makes_legal_naming_the_torch_node() -> None:
    """A batch-axis concat is fine for bvlc; nnie refuses it, naming the op and the module."""
    class Cat(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x, x * 2.0], dim=0)

    purecaffe.convert(Cat().eval(), (torch.randn(1, 3, 4, 4),), target="bvlc")
    with pytest.raises(UnsupportedOpsError, match=r"aten\.cat.*nnie does nothing on the batch axis|"
                                                  r"aten\.cat.* batch axis") as info:
        purecaffe.convert(Cat().eval(), (torch.randn(1, 3, 4, 4),), target="nnie")
    assert "nothing was written" in str(info.value) and "nnie" in str(info.value)


def test_unknown_target_is_a_one_line_error() -> None:
    with pytest.raises(purecaffe.PurecaffeError, match="unknown target 'ncnn'.*bvlc, caffe1, nnie, rknn, opencv"):
        purecaffe.convert(nn.ReLU().eval(), (torch.randn(1, 3, 4, 4),), target="ncnn")


HAND_WRITTEN = """name: "hand"
input: "data"
input_shape { dim: 1 dim: 3 dim: 17 dim: 17 }
layer {
  name: "pool"
  type: "Pooling"
  bottom: "data"
  top: "pool"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR }
}
layer {
  name: "act"
  type: "Swish"
  bottom: "pool"
  top: "act"
}
layer {
  name: "fine"
  type: "ReLU"
  bottom: "act"
  top: "act"
}
"""


def test_lint_names_line_rule_and_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hand.prototxt"
    path.write_text(HAND_WRITTEN)
    assert main(["lint", str(path), "--target", "caffe1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{path}:4: layer 'pool' (Pooling)") and "PoolingParameter.round_mode" in line
               for line in out), out
    assert any(line.startswith(f"{path}:4: layer 'pool' (Pooling)") and "pooling-round-mode" in line
               for line in out), out
    assert any(line.startswith(f"{path}:11: layer 'act' (Swish)") and "caffe1 has no Swish layer" in line
               for line in out), out
    assert out[-1] == f"{path}: 3 findings for caffe1"
    assert main(["lint", str(path), "--target", "bvlc"]) == 0


def test_lint_bad_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.prototxt"
    path.write_text('layer { name: "x" tpye: "ReLU" }\n')
    assert main(["lint", str(path), "--target", "nnie"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.prototxt:1:" in err and "tpye" in err


def test_targets_command_lists_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for name in ("bvlc:", "caffe1:", "nnie:", "rknn:", "opencv:"):
        assert out.count(f"\n{name}") + out.startswith(name) == 1
    assert "judge: --backend rknn, RKNN-Toolkit2" in out and "limit nnie-permute (Permute)" in out


def test_lint_checks_field_spelling_against_the_toolchains_own_proto(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """bvlc itself takes round_mode and Swish; handed Caffe 1.0's caffe.proto, lint finds the field it lacks."""
    path = tmp_path / "hand.prototxt"
    path.write_text(HAND_WRITTEN)
    proto = corpus_dir() / "protos" / get_target("caffe1").schema
    assert main(["lint", str(path), "--target", "bvlc", "--proto", str(proto)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{path}:4: layer 'pool' (Pooling)") and "PoolingParameter.round_mode" in line
               and "schema-field" in line and str(proto) in line for line in out), out
    assert out[-1] == f"{path}: 1 finding for bvlc"
