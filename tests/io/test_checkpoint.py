"""Checkpoint loading: every format, the unwrapping rules, and refusal of pickles that carry code.

Each refusal is checked three ways: the exception type, its one-line message,
and that the payload (`touch MARKER`) did not run.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from purecaffe.errors import FormatError
from purecaffe.io.checkpoint import UnsafeCheckpointError, load_checkpoint
from purecaffe.io.safetensors_format import load_safetensors


class Payload:
    """Unpickling this runs `touch <marker>`: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).state_dict()


def test_state_dict_keeps_order_and_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "m.pth"
    torch.save(small_state(), path)
    ckpt = load_checkpoint(path)
    assert ckpt.format == "torch" and ckpt.ordered
    assert list(ckpt.tensors) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                  "1.num_batches_tracked"]
    assert ckpt.tensors["0.weight"].dtype == np.float32


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state_dict"])
def test_wrapped_state_dict_is_unwrapped(tmp_path: Path, wrapper: str) -> None:
    path = tmp_path / "m.pth"
    torch.save({"epoch": 3, wrapper: small_state(), "best_acc": 0.9}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.unwrapped_from == wrapper and "0.weight" in ckpt.tensors


def test_dataparallel_prefix_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "m.pth"
    torch.save({f"module.{k}": v for k, v in small_state().items()}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.stripped_prefix == "module." and list(ckpt.tensors)[0] == "0.weight"


def test_half_precision_is_widened(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    torch.save({"a.weight": torch.ones(2, dtype=torch.bfloat16), "b.weight": torch.ones(2, dtype=torch.float16)},
               path)
    tensors = load_checkpoint(path).tensors
    assert tensors["a.weight"].dtype == np.float32 and tensors["b.weight"].dtype == np.float32


def test_npz_and_npy_dict(tmp_path: Path) -> None:
    arrays = {"conv.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "conv.bias": np.ones(2, np.float32)}
    np.savez(tmp_path / "m.npz", **arrays)
    np.save(tmp_path / "m.npy", arrays, allow_pickle=True)
    for name in ("m.npz", "m.npy"):
        ckpt = load_checkpoint(tmp_path / name)
        assert list(ckpt.tensors) == list(arrays) and ckpt.ordered
        np.testing.assert_array_equal(ckpt.tensors["conv.weight"], arrays["conv.weight"])


def test_safetensors_parser_agrees_with_the_reference_implementation(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {"b.weight": torch.randn(3, 4), "a.bias": torch.randn(5).to(torch.bfloat16),
               "c.half": torch.randn(2, 2).half(), "d.index": torch.arange(7), "e.scalar": torch.tensor(2.5)}
    path = tmp_path / "m.safetensors"
    safetensors_torch.save_file(tensors, str(path))
    ours = load_safetensors(path)
    theirs = safetensors_torch.load_file(str(path))
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        expected = value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        np.testing.assert_array_equal(ours[key], expected)
        assert ours[key].shape == tuple(value.shape)
    assert not load_checkpoint(path).ordered  # stored sorted by name: order matching is off


@pytest.mark.parametrize(("content", "message"), [
    (b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}", "bad data_offsets"),
    (b"\xff\x00\x00\x00\x00\x00\x00\x00{", "header length 255 does not fit the file"),
    (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
     "header is not JSON"),
])
def test_broken_safetensors_are_format_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        load_checkpoint(path)


def test_safetensors_offsets_beyond_the_file(tmp_path: Path) -> None:
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'
    path = tmp_path / "m.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\x00" * 8)
    with pytest.raises(FormatError, match=r"m.safetensors:w: data_offsets \[0, 16\] do not fit"):
        load_checkpoint(path)


def payload_files(tmp_path: Path, marker: Path) -> dict[str, Path]:
    files = {}
    files["pth"] = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(2), "hook": Payload(marker)}, files["pth"])
    files["legacy_pickle"] = tmp_path / "legacy.pth"
    with open(files["legacy_pickle"], "wb") as handle:
        pickle.dump({"x": Payload(marker)}, handle, protocol=2)
    files["npy"] = tmp_path / "evil.npy"
    np.save(files["npy"], {"conv.weight": np.zeros(2), "x": Payload(marker)}, allow_pickle=True)
    files["npz"] = tmp_path / "evil.npz"
    np.savez(files["npz"], w=np.array([Payload(marker)], dtype=object))
    return files


@pytest.mark.parametrize(("kind", "message"), [
    ("pth", "evil.pth: refused: its pickle asks for posix.system, which weights-only loading does not allow "
            "(a checkpoint that carries code is never executed; save model.state_dict() instead)"),
    ("legacy_pickle", "legacy.pth: refused: its pickle asks for posix.system, which weights-only loading"),
    ("npy", "evil.npy: refused: its pickle asks for posix.system; only numpy arrays in a dict are accepted "
            "(pickled code is never executed)"),
    ("npz", "evil.npz: refused: it holds pickled objects (only plain numeric arrays are accepted; pickled "
            "code is never executed)"),
])
def test_pickled_code_is_refused_not_run(tmp_path: Path, kind: str, message: str) -> None:
    if os.name != "posix":
        pytest.skip("the payload names posix.system")
    marker = tmp_path / "PAYLOAD_RAN"
    path = payload_files(tmp_path, marker)[kind]
    with pytest.raises(UnsafeCheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(caught.value)
    assert not marker.exists(), "the pickle's code ran"


def test_a_whole_pickled_module_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(nn.Linear(2, 2), path)  # torch.save(model) pickles the class: code, not weights
    with pytest.raises(UnsafeCheckpointError, match="asks for torch.nn.modules.linear.Linear"):
        load_checkpoint(path)


@pytest.mark.parametrize(("content", "suffix", "message"), [
    (None, ".npy", "holds one float32 array of shape (3,), not a dict of name -> array"),
    (b"hello world, not a checkpoint", ".pth", "not a checkpoint purecaffe reads (a .pth file)"),
    (b"", ".pt", "not a checkpoint purecaffe reads"),
])
def test_other_files_are_format_errors(tmp_path: Path, content: bytes | None, suffix: str, message: str) -> None:
    path = tmp_path / f"m{suffix}"
    if content is None:
        np.save(path, np.zeros(3, np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(FormatError) as caught:
        load_checkpoint(path)
    assert message in str(caught.value) and str(caught.value).startswith(str(path))


def test_non_tensor_checkpoint_dict(tmp_path: Path) -> None:
    path = tmp_path / "m.pth"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(FormatError, match="no state_dict found: the dict has no tensors and none under "
                                          "state_dict/model/model_state_dict"):
        load_checkpoint(path)


@pytest.mark.parametrize(("array", "dtype_text"), [
    (np.array(["a", "b"]), "<U1"),                          # float32 conversion would raise ValueError
    (np.array([1 + 2j, 3j], dtype=np.complex64), "complex64"),  # would drop the imaginary part silently
    (np.zeros(2, dtype="datetime64[s]"), "datetime64[s]"),  # would turn dates into numbers silently
])
def test_non_numeric_arrays_are_refused_naming_the_key(tmp_path: Path, array: np.ndarray, dtype_text: str) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, **{"conv.bias": np.zeros(2, np.float32), "conv.weight": array})
    with pytest.raises(FormatError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == f"{path}:conv.weight: holds a {dtype_text} array, not real numbers"


def test_integer_and_bool_arrays_are_still_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, a=np.arange(3), b=np.array([True, False]), c=np.zeros(2, np.uint8))
    assert list(load_checkpoint(path).tensors) == ["a", "b", "c"]
