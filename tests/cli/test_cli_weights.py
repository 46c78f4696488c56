"""`convert --weights` and `fill` read checkpoints through one reader: the same forms accepted, the same errors.

Damaged checkpoints (the crashes measured in issue 11) end as one line naming
the file, exit status 2, and nothing written.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import purecaffe
from purecaffe.cli import main
from purecaffe.examples.tiny_resnet import tiny_resnet

MODEL = "purecaffe.examples.tiny_resnet:tiny_resnet"


def convert_with(checkpoint: Path, out: Path) -> int:
    return main(["convert", MODEL, "--input-shape", "1,3,32,32", "--weights", str(checkpoint), "-o", str(out)])


@pytest.mark.parametrize("form", ["torch_compile", "compiled_data_parallel", "state_dict", "model",
                                  "model_state_dict", "npz", "safetensors"])
def test_convert_accepts_every_form_fill_accepts(tmp_path: Path, form: str) -> None:
    model = tiny_resnet(seed=7)
    state = model.state_dict()
    checkpoint = tmp_path / "ckpt.pth"
    if form == "torch_compile":  # torch.compile(model).state_dict() keys
        torch.save({f"_orig_mod.{k}": v for k, v in state.items()}, checkpoint)
    elif form == "compiled_data_parallel":
        torch.save({f"module._orig_mod.{k}": v for k, v in state.items()}, checkpoint)
    elif form in ("state_dict", "model", "model_state_dict"):
        torch.save({form: state, "epoch": 3, "optimizer": {"lr": 0.1}}, checkpoint)
    elif form == "npz":
        checkpoint = tmp_path / "ckpt.npz"
        np.savez(checkpoint, **{k: v.numpy() for k, v in state.items()})
    else:
        from safetensors.torch import save_file

        checkpoint = tmp_path / "ckpt.safetensors"
        save_file(state, str(checkpoint))
    assert convert_with(checkpoint, tmp_path / "net") == 0
    weights = purecaffe.load_weights(tmp_path / "net.caffemodel")
    np.testing.assert_array_equal(weights["fc"][0], model.fc.weight.detach().numpy())
    np.testing.assert_array_equal(weights["conv1"][0], model.conv1.weight.detach().numpy())


def test_a_real_torch_compile_checkpoint(tmp_path: Path) -> None:
    model = tiny_resnet(seed=3)
    compiled = torch.compile(model)  # wrapping only: no compilation happens until it is called
    state = compiled.state_dict()
    assert next(iter(state)).startswith("_orig_mod."), "the test needs torch.compile's key prefix"
    torch.save(state, tmp_path / "compiled.pth")
    assert convert_with(tmp_path / "compiled.pth", tmp_path / "net") == 0
    weights = purecaffe.load_weights(tmp_path / "net.caffemodel")
    np.testing.assert_array_equal(weights["fc"][0], model.fc.weight.detach().numpy())


def truncated_pth(tmp_path: Path) -> Path:
    path = tmp_path / "cut.pth"
    torch.save(tiny_resnet().state_dict(), path)
    path.write_bytes(path.read_bytes()[:3000])
    return path


def bad_zip_npz(tmp_path: Path) -> Path:
    path = tmp_path / "cut.npz"
    np.savez(path, w=np.zeros(1000, np.float32))
    data = bytearray(path.read_bytes())
    data[-10:] = b"\xff" * 10  # the end-of-central-directory record
    path.write_bytes(bytes(data))
    return path


def npz_unknown_compression(tmp_path: Path) -> Path:
    path = tmp_path / "lzma.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("w.npy", b"\x93NUMPY" + b"\x00" * 64)
    data = bytearray(path.read_bytes())
    data[8:10] = (99).to_bytes(2, "little")  # compression method 99 in the local header
    central = data.rindex(b"PK\x01\x02")
    data[central + 10:central + 12] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


DAMAGED = {
    "truncated_pth": (truncated_pth, "cut.pth: "),
    "bad_zip_npz": (bad_zip_npz, "cut.npz: a broken zip archive: "),
    "npz_unknown_compression": (npz_unknown_compression, "lzma.npz:w: not a valid .npz member: "
                                                         "NotImplementedError: "),
}


@pytest.mark.parametrize("damage", sorted(DAMAGED))
@pytest.mark.parametrize("command", ["convert", "fill"])
def test_damaged_checkpoints_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str,
                                                 command: str) -> None:
    make, expected = DAMAGED[damage]
    checkpoint = make(tmp_path)
    out = tmp_path / "out" / "net"
    if command == "convert":
        status = convert_with(checkpoint, out)
    else:
        prototxt = tmp_path / "net.prototxt"
        prototxt.write_text('input: "data"\ninput_shape { dim: 1 dim: 1 dim: 4 dim: 4 }\n'
                            'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                            'convolution_param { num_output: 2 kernel_size: 1 } }\n')
        status = main(["fill", str(prototxt), str(checkpoint), "-o", str(out) + ".caffemodel"])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"purecaffe {command}: error: {tmp_path}/{expected}" in err
    assert not (tmp_path / "out").exists()
