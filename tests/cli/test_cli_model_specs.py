"""Where `convert` and `verify` get the model: `module:factory` from the working directory,
`file.py:factory`, `--model-kwargs`, and a saved `torch.export` program (`model.pt2`).

Each failure is one line, exit status 2, nothing written.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import purecaffe
from corpus import REPO_ROOT
from purecaffe.cli import main

MYMODEL = textwrap.dedent('''\
    import torch
    import torch.nn as nn

    from blocks import Block  # a sibling module: the model's folder must be searchable


    class Net(nn.Module):
        def __init__(self, c: int = 4) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, c, 3)
            self.bn = nn.BatchNorm2d(c)
            self.head = nn.Sequential(nn.ReLU(), Block(c))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.bn(self.conv(x)) + 1)


    instance = Net()
''')
BLOCKS = textwrap.dedent('''\
    import torch.nn as nn


    class Block(nn.Sequential):
        def __init__(self, c: int) -> None:
            super().__init__(nn.Conv2d(c, 2, 1))
''')
# What pip's console-script wrapper runs: the script's own folder, not the working directory, on sys.path.
CONSOLE_SCRIPT = "import sys\nfrom purecaffe.cli import main\nsys.exit(main())\n"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding mymodel.py (and the blocks.py it imports), as the working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mymodel.py").write_text(MYMODEL)
    (folder / "blocks.py").write_text(BLOCKS)
    monkeypatch.chdir(folder)
    for name in ("mymodel", "blocks"):  # each test's files are its own
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield folder
    for name in [n for n, m in sys.modules.items() if str(folder) in (getattr(m, "__file__", "") or "")]:
        del sys.modules[name]


def _layer_names(prototxt: Path) -> list[str]:
    return [layer.name for layer in purecaffe.load_net(prototxt).layer]


def _num_output(prototxt: Path, layer_name: str) -> int:
    layer = next(layer for layer in purecaffe.load_net(prototxt).layer if layer.name == layer_name)
    return int(layer.convolution_param.num_output)


def test_module_factory_from_the_working_directory_with_the_console_script(project: Path, tmp_path: Path) -> None:
    """`purecaffe convert mymodel:Net` as the installed command runs it (python -m would find it anyway)."""
    script = tmp_path / "bin" / "purecaffe"
    script.parent.mkdir()
    script.write_text(CONSOLE_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, str(script), "convert", "mymodel:Net", "--model-kwargs", '{"c": 6}',
                           "--input-shape", "1,3,8,8", "-o", "out/net"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "wrote out/net.prototxt" in done.stdout
    assert _num_output(project / "out" / "net.prototxt", "conv") == 6


def test_file_factory_with_model_kwargs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "mymodel.py:Net", "--model-kwargs", '{"c": 8}', "--input-shape", "1,3,8,8",
                 "-o", "out/net"]) == 0
    assert _num_output(project / "out" / "net.prototxt", "conv") == 8
    torch.save(purecaffe.load_model("mymodel.py:Net", kwargs={"c": 8}).state_dict(), "other.pth")
    capsys.readouterr()
    # Fresh random weights are not the converted ones: one line, exit 2, nothing compared.
    assert main(["verify", "mymodel.py:Net", "out/net", "--model-kwargs", '{"c": 8}', "--weights", "other.pth",
                 "--input-shape", "1,3,8,8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("purecaffe verify: error: out/net.purecaffe.json: the model's weights are not the ones "
                          "converted (fingerprint ") and len(err.splitlines()) == 1


def test_file_factory_from_another_folder(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "project/mymodel.py:instance", "--input-shape", "1,3,8,8", "-o", "out/net"]) == 0
    assert _layer_names(tmp_path / "out" / "net.prototxt") == ["data", "conv", "bn", "bn/scale", "add", "head.0",
                                                              "head.1.0"]


def _save_program(project: Path, name: str, *, strip_module_paths: bool = False) -> tuple[Path, torch.nn.Module]:
    sys.path.insert(0, str(project))
    try:
        from mymodel import Net
    finally:
        sys.path.remove(str(project))
    model = Net(c=5).eval()
    program = torch.export.export(model, (torch.randn(1, 3, 8, 8),), strict=False)
    if strip_module_paths:  # as a tool that rewrites the graph and drops the metadata would leave it
        for node in program.graph.nodes:
            node.meta.pop("nn_module_stack", None)
    path = project / name
    torch.export.save(program, str(path))
    return path, model


def test_saved_program_converts_and_verifies_without_its_source(project: Path) -> None:
    path, _ = _save_program(project, "model.pt2")
    for module in ("mymodel", "blocks"):
        (project / f"{module}.py").unlink()  # no Python source needed
        sys.modules.pop(module, None)
    assert main(["convert", "model.pt2", "-o", "out/net"]) == 0  # the shapes it was exported for
    assert _layer_names(project / "out" / "net.prototxt") == ["data", "conv", "bn", "bn/scale", "add", "head.0",
                                                              "head.1.0"]
    assert main(["verify", "model.pt2", "out/net"]) == 0


def test_saved_program_without_module_paths_keeps_readable_names(project: Path) -> None:
    path, _ = _save_program(project, "bare.pt2", strip_module_paths=True)
    loaded = torch.export.load(str(path))
    assert not any(node.meta.get("nn_module_stack") for node in loaded.graph.nodes)
    assert main(["convert", "bare.pt2", "-o", "out/net"]) == 0
    # Layers reading one module's parameters are named after it; the others after their op.
    assert _layer_names(project / "out" / "net.prototxt") == ["data", "conv", "bn", "bn/scale", "add", "relu",
                                                              "head.1.0"]
    assert main(["verify", "bare.pt2", "out/net"]) == 0


@pytest.mark.parametrize("spec", ["mymodel.py:Net", "model.pt2"])
def test_list_outputs_takes_every_spec(spec: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_program(project, "model.pt2")
    argv = ["convert", spec, "--list-outputs"] + ([] if spec.endswith(".pt2") else ["--input-shape", "1,3,8,8"])
    assert main(argv) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert ["conv", "Conv2d", "conv2d", "1x5x6x6" if spec.endswith(".pt2") else "1x4x6x6", "1"] in rows
    assert any(row[0] == "head.1.0" for row in rows)
    assert not (project / "out").exists()


def test_weights_into_a_saved_program(project: Path) -> None:
    path, model = _save_program(project, "model.pt2")
    other = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    other["bn.running_var"] = other["bn.running_var"].abs() + 0.5
    torch.save(other, project / "other.pth")
    assert main(["convert", "model.pt2", "--weights", "other.pth", "-o", "out/net"]) == 0
    weights = purecaffe.load_weights(project / "out" / "net.caffemodel")
    assert torch.equal(torch.from_numpy(weights["conv"][0]), other["conv.weight"])


def test_python_api_takes_the_same_specs(project: Path) -> None:
    model = purecaffe.load_model("mymodel.py:Net", kwargs={"c": 3})
    assert isinstance(model, torch.nn.Module) and not model.training and model.conv.out_channels == 3
    path, _ = _save_program(project, "model.pt2")
    program = purecaffe.load_model(str(path))
    assert isinstance(program, torch.export.ExportedProgram)
    net = purecaffe.convert(program, (torch.randn(1, 3, 8, 8),))
    assert net.name == "net" and net.output_shapes == {"head.1.0": (1, 2, 6, 6)}


@pytest.mark.parametrize(("argv", "message"), [
    (["mymodel.py:Net", "--model-kwargs", '{"c": 8'], "--model-kwargs '{\"c\": 8': not JSON (Expecting ',' "
                                                      "delimiter: line 1 column 8 (char 7)); give an object such as"),
    (["mymodel.py:Net", "--model-kwargs", "[8]"], "expected a JSON object such as '{\"num_classes\": 10}', got a list"),
    (["mymodel.py:Net", "--model-kwargs", '{"classes": 8}'],
     "model 'mymodel.py:Net': Net(classes=8) raised TypeError: Net.__init__() got an unexpected keyword argument"),
    (["mymodel.py:instance", "--model-kwargs", '{"c": 8}'], "instance is a model instance, not a factory"),
    (["mymodel.py:Missing"], "model 'mymodel.py:Missing': mymodel.py has no attribute Missing"),
    (["nosuch.py:Net"], "model 'nosuch.py:Net': no such file nosuch.py"),
    (["nosuch_module_xyz:Net"], "model 'nosuch_module_xyz:Net': cannot import nosuch_module_xyz: No module named "
                                "'nosuch_module_xyz' (searched the working directory"),
    (["broken.py:Net"], "model 'broken.py:Net': running broken.py raised NameError: name 'undefined_name' is not"),
    (["mymodel.py"], "expected 'package.module:factory', 'path/to/file.py:factory' or 'model.pt2'"),
    (["nosuch.pt2"], "nosuch.pt2: no such file (a saved torch.export program"),
    (["foreign.pt2"], "foreign.pt2: not a torch.export program (.pt2 files are zip archives; this is not one)"),
    (["checkpoint.pt2"], "checkpoint.pt2: not a loadable torch.export program: RuntimeError: PytorchStreamReader "
                         "failed locating file"),
    (["model.pt2", "--model-kwargs", '{"c": 8}'], "a saved program takes no factory arguments"),
    (["model.pt2", "--input-shape", "1,3,9,9"], "input 0 has shape [1, 3, 9, 9], but the exported program takes "
                                                "[1, 3, 8, 8]"),
])
def test_bad_model_specs_are_one_line_exit_2(argv: list[str], message: str, project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (project / "broken.py").write_text("undefined_name\n")
    (project / "foreign.pt2").write_text("not a program\n")
    torch.save({"w": torch.zeros(2)}, project / "checkpoint.pt2")  # a zip archive, but not a program
    _save_program(project, "model.pt2")
    if "--input-shape" not in argv and not argv[0].endswith(".pt2"):
        argv = [*argv, "--input-shape", "1,3,8,8"]
    assert main(["convert", *argv, "-o", "out/net"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert message in err
    assert not (project / "out").exists()
