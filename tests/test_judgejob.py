"""The judges' child-process plumbing, with stand-in runners: a refusal is data, a death or a hang a one-line error.

Every case runs both ways: a process per job, and inside `persistent_runners()` (one child serving the jobs).
"""
from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.judgejob import RUNNERS, net_files, persistent_runners, read_arrays, run_runner, write_job

PROTOTXT = 'name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } } }\n' \
           'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'


def _runner(tmp_path: Path, body: str) -> str:
    """A runner script beside a copy of jobio, as the judges' venvs run them (`import jobio`)."""
    (tmp_path / "jobio.py").write_text((RUNNERS / "jobio.py").read_text())
    script = tmp_path / "run_fake.py"
    script.write_text("import sys\nimport numpy as np\nimport jobio\n\n" + textwrap.dedent(body) +
                      "\nif __name__ == '__main__':\n    sys.exit(jobio.serve(run, sys.argv))\n")
    return str(script)  # absolute: RUNNERS / it is itself


def _job(tmp_path: Path, name: str = "job") -> Path:
    job = tmp_path / name
    job.mkdir()
    write_job(job, {"inputs": ["data"], "double": True}, {"data": np.array([[1.0, -2.0]])})
    return job


@pytest.fixture(params=["process per job", "persistent child"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    with persistent_runners(enabled=request.param == "persistent child"):
        yield request.param


@pytest.mark.usefixtures("mode")
def test_a_result_and_its_arrays_come_back(tmp_path: Path) -> None:
    runner = _runner(tmp_path, """
        def run(job, request, result):
            result["stage"] = "compute"
            x = jobio.read_inputs(job, request["inputs"])["data"]
            print("the toolchain talks")
            jobio.save_outputs(job, {"out": x * (2 if request["double"] else 1)})
        """)
    job = _job(tmp_path)
    result = run_runner(Path(sys.executable), runner, job, judge="Fake", net="n.prototxt", timeout=60)
    assert result["ok"] and result["error"] is None and result["seconds"] >= 0
    assert read_arrays(job, "outputs.npz")["out"].tolist() == [[2.0, -4.0]]
    assert "the toolchain talks" in (job / "runner.log").read_text()


@pytest.mark.usefixtures("mode")
def test_a_refusal_and_an_exception_are_data(tmp_path: Path) -> None:
    refuses = _runner(tmp_path, """
        def run(job, request, result):
            raise jobio.Refused("convert", "Fake has no ReLU layer")
        """)
    result = run_runner(Path(sys.executable), refuses, _job(tmp_path), judge="Fake", net="n", timeout=60)
    assert not result["ok"] and result["stage"] == "convert" and result["error"] == "Fake has no ReLU layer"
    (tmp_path / "second").mkdir()
    raises = _runner(tmp_path / "second", """
        def run(job, request, result):
            result["stage"] = "load"
            raise KeyError("layer r")
        """)
    job = tmp_path / "job2"
    job.mkdir()
    write_job(job, {"inputs": []}, {})
    result = run_runner(Path(sys.executable), raises, job, judge="Fake", net="n", timeout=60)
    assert result["error"] == "load failed: KeyError: 'layer r'" and result["detail"]


@pytest.mark.usefixtures("mode")
def test_a_dead_runner_is_a_one_line_error_naming_the_net(tmp_path: Path) -> None:
    runner = _runner(tmp_path, """
        import os
        def run(job, request, result):
            print("F1203 net.cpp:381] Check failed: something native")
            sys.stdout.flush()
            os._exit(134)
        """)
    with pytest.raises(PurecaffeError) as error:
        run_runner(Path(sys.executable), runner, _job(tmp_path), judge="Fake", net="n.prototxt", timeout=60)
    text = error.value.one_line()
    assert text.startswith("n.prototxt: the Fake runner died (exit 134): ") and "Check failed: something native" in text
    assert "\n" not in text


@pytest.mark.usefixtures("mode")
def test_a_hanging_runner_is_stopped(tmp_path: Path) -> None:
    runner = _runner(tmp_path, """
        import time
        def run(job, request, result):
            time.sleep(30)
        """)
    with pytest.raises(PurecaffeError, match=r"n.prototxt: Fake did not finish within 1 s"):
        run_runner(Path(sys.executable), runner, _job(tmp_path), judge="Fake", net="n.prototxt", timeout=1)


def test_net_files_checks_files_and_inputs(tmp_path: Path) -> None:
    prototxt = tmp_path / "n.prototxt"
    prototxt.write_text(PROTOTXT)
    with pytest.raises(FormatError, match="missing: Fake needs the prototxt and the caffemodel"):
        net_files(prototxt, tmp_path / "absent.caffemodel", {"data": np.zeros((1, 2))}, judge="Fake")
    (tmp_path / "n.caffemodel").write_bytes(b"")
    with pytest.raises(PurecaffeError, match=r"no input given for data \(the net's inputs: data\)"):
        net_files(prototxt, tmp_path / "n.caffemodel", {"x": np.zeros((1, 2))}, judge="Fake")
    _, _, inputs, outputs = net_files(prototxt, tmp_path / "n.caffemodel", {"data": np.zeros((1, 2))}, judge="Fake")
    assert (inputs, outputs) == (["data"], ["r"])


COUNTING = """
    import os
    JOBS = []
    def run(job, request, result):
        JOBS.append(job)
        result.update(pid=os.getpid(), jobs=len(JOBS), cwd=os.getcwd())
        if request.get("die"):
            os._exit(3)
        if request.get("hang"):
            import time
            time.sleep(30)
        print("job", len(JOBS))
    """


def test_a_persistent_child_serves_many_jobs_and_is_replaced_when_it_dies_or_hangs(tmp_path: Path) -> None:
    runner = _runner(tmp_path, COUNTING)
    python = Path(sys.executable)
    with persistent_runners() as children:
        assert children is not None
        results = [run_runner(python, runner, _job(tmp_path, f"j{i}"), judge="Fake", net="n", timeout=60)
                   for i in range(3)]
        assert [r["jobs"] for r in results] == [1, 2, 3] and len({r["pid"] for r in results}) == 1
        assert [r["cwd"] for r in results] == [str(tmp_path / f"j{i}") for i in range(3)]
        assert [(tmp_path / f"j{i}" / "runner.log").read_text() for i in range(3)] == ["job 1\n", "job 2\n", "job 3\n"]
        assert children.started == 1
        dying = _job(tmp_path, "dies")
        write_job(dying, {"inputs": [], "die": True}, {})
        with pytest.raises(PurecaffeError, match=r"^n: the Fake runner died \(exit 3\)"):
            run_runner(python, runner, dying, judge="Fake", net="n", timeout=60)
        after = run_runner(python, runner, _job(tmp_path, "after"), judge="Fake", net="n", timeout=60)
        assert after["jobs"] == 1 and after["pid"] != results[0]["pid"] and children.started == 2
        hanging = _job(tmp_path, "hangs")
        write_job(hanging, {"inputs": [], "hang": True}, {})
        with pytest.raises(PurecaffeError, match=r"^n: Fake did not finish within 1 s"):
            run_runner(python, runner, hanging, judge="Fake", net="n", timeout=1)
        again = run_runner(python, runner, _job(tmp_path, "again"), judge="Fake", net="n", timeout=60)
        assert again["jobs"] == 1 and children.started == 3
        other_env = run_runner(python, runner, _job(tmp_path, "env"), judge="Fake", net="n", timeout=60,
                               env={"OMP_NUM_THREADS": "1"})
        assert other_env["pid"] != again["pid"] and children.started == 4


def test_a_persistent_child_is_recycled_after_max_jobs(tmp_path: Path) -> None:
    runner = _runner(tmp_path, COUNTING)
    with persistent_runners(max_jobs=2) as children:
        assert children is not None
        jobs = [run_runner(Path(sys.executable), runner, _job(tmp_path, f"j{i}"), judge="Fake", net="n",
                           timeout=60)["jobs"] for i in range(5)]
    assert jobs == [1, 2, 1, 2, 1] and children.started == 3
