"""`purecaffe convert` then `purecaffe verify` from the command line: exit status and reports."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from purecaffe.cli import main

EXAMPLE = "purecaffe.examples.tiny_resnet:tiny_resnet"


@pytest.fixture()
def converted(tmp_path: Path) -> Path:
    prefix = tmp_path / "tiny"
    assert main(["convert", EXAMPLE, "--input-shape", "1,3,32,32", "-o", str(prefix)]) == 0
    return prefix


def test_verify_passes_and_writes_reports(converted: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    html_report = tmp_path / "report.html"
    code = main(["verify", EXAMPLE, str(converted), "--input-shape", "1,3,32,32", "--report", str(html_report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tiny: PARITY OK on runtime" in out
    assert html_report.read_text().startswith("<!DOCTYPE html>")
    md_report = tmp_path / "report.md"
    assert main(["verify", EXAMPLE, str(converted), "--input-shape", "1,3,32,32", "--json",
                 "--report", str(md_report)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["comparisons"]
    assert md_report.read_text().startswith("# Parity report: tiny")


def test_verify_exit_1_names_the_diverging_layer(converted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prototxt = converted.with_suffix(".prototxt")
    text = prototxt.read_text()
    # the stem max-pool rounds up (ceil_mode=True in the model); make Caffe round down
    edited, count = re.subn(r"(name: \"maxpool\"[\s\S]*?pooling_param \{\n)", r"\1    round_mode: FLOOR\n", text)
    assert count == 1
    prototxt.write_text(edited)
    code = main(["verify", EXAMPLE, str(converted), "--input-shape", "1,3,32,32"])
    out = capsys.readouterr().out
    assert code == 1
    assert "PARITY FAILED" in out and "first at layer 'maxpool' [Pooling]" in out


def test_verify_bad_report_suffix_is_exit_2(converted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", EXAMPLE, str(converted), "--input-shape", "1,3,32,32", "--report", "r.pdf"]) == 2
    assert "the file must end in .html or .md" in capsys.readouterr().err


def test_verify_inputs_from_npz(converted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    inputs = tmp_path / "x.npz"
    np.savez(inputs, data=np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32))
    assert main(["verify", EXAMPLE, str(converted), "--inputs", str(inputs)]) == 0
    assert "PARITY OK" in capsys.readouterr().out


def test_verify_shows_its_stages_without_verbose(converted: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["verify", EXAMPLE, str(converted), "--input-shape", "1,3,32,32"]) == 0
    stages = [r.getMessage() for r in caplog.records if r.name == "purecaffe.parity.progress"]
    assert any(line.endswith("running the net on runtime ...") for line in stages), stages
    assert logging.getLogger("purecaffe.parity.progress").level == logging.NOTSET  # restored after the command
