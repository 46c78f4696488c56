"""Under CI=true no test is skipped (tests/ci_no_skip.py), and lowering tests pick their judge one way.

The hooks run in a child pytest on a sample of every kind of skip: locally each is a skip with its
reason; under CI=true each is a failure naming that reason, while an xfail stays an xfail.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ci_no_skip import FAILED_SKIP

TESTS = Path(__file__).resolve().parent

SAMPLE = textwrap.dedent('''\
    import pytest


    def test_skip_call():
        pytest.skip("no judge here")


    def test_importorskip():
        pytest.importorskip("no_such_module_for_the_ci_rule")


    @pytest.mark.skipif(True, reason="not on this machine")
    def test_skipif():
        pass


    @pytest.mark.parametrize("case", [])
    def test_empty_parameter_set(case):
        pass


    @pytest.mark.xfail(reason="a known gap", strict=True)
    def test_known_gap():
        assert False


    def test_runs():
        pass
''')
SKIPPED_MODULE = 'import pytest\n\npytest.skip("the whole module", allow_module_level=True)\n'
KINDS = ("test_skip_call", "test_importorskip", "test_skipif", "test_empty_parameter_set")


def _child_pytest(folder: Path, ci: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "ci_no_skip", "-p", "no:cacheprovider", "-rA",
                           "--continue-on-collection-errors",
                           "--rootdir", str(folder), str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ci_rule")
    (folder / "test_sample.py").write_text(SAMPLE)
    (folder / "test_skipped_module.py").write_text(SKIPPED_MODULE)
    return folder


def test_locally_a_skip_stays_a_skip(sample: Path) -> None:
    out = _child_pytest(sample, ci=False)
    assert re.search(r"5 skipped, 1 xfailed", out) and "1 passed" in out, out
    assert FAILED_SKIP not in out


def test_under_ci_every_skip_fails_with_its_reason(sample: Path) -> None:
    out = _child_pytest(sample, ci=True)
    for kind in KINDS:
        assert re.search(rf"(FAILED|ERROR) test_sample.py::{kind}\b", out), out  # ERROR: a skip in set-up
    assert re.search(r"ERROR test_skipped_module.py", out), out
    for reason in ("no judge here", "could not import 'no_such_module_for_the_ci_rule'", "not on this machine",
                   "got empty parameter set", "the whole module"):
        assert f"{FAILED_SKIP}: " in out and reason in out, (reason, out)
    assert "1 xfailed" in out and "1 passed" in out and "skipped" not in out.splitlines()[-1], out


def test_lowering_tests_take_their_judge_from_the_compare_helpers() -> None:
    """One style: `run_compare_torch` / `compare_cases` judge by real Caffe where there is one, by the
    runtime otherwise, by real Caffe always under CI=true.  A lowering test that asks for the
    `real_caffe_backend` fixture itself would skip instead of falling back."""
    asking = []
    for path in sorted((TESTS / "converter" / "lowerings").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(a.arg == "real_caffe_backend" for a in node.args.args):
                asking.append(f"{path.name}::{node.name}")
    assert not asking, f"take the judge from run_compare_torch/compare_cases: {', '.join(asking)}"
