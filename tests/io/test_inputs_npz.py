"""`read_inputs_npz`: the one reader of net inputs, for `verify --inputs` and `verify-caffe --inputs`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from purecaffe.cli import main
from purecaffe.errors import FormatError
from purecaffe.io.inputs_npz import read_inputs_npz

X = np.arange(12, dtype=np.float64).reshape(1, 3, 2, 2)
Y = np.ones((1, 2), dtype=np.int64)


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    return path


def test_by_name_in_the_nets_order(tmp_path: Path) -> None:
    read = read_inputs_npz(_npz(tmp_path, b=Y, a=X), ["a", "b"])
    assert list(read) == ["a", "b"]
    assert read["a"].dtype == np.float32 and read["a"].flags.c_contiguous
    np.testing.assert_array_equal(read["b"], Y.astype(np.float32))


def test_corpus_style_input_prefix(tmp_path: Path) -> None:
    """reference.npz files hold `input:data` beside every blob Caffe computed: only the inputs count."""
    read = read_inputs_npz(_npz(tmp_path, **{"input:data": X, "prob": Y}), ["data"])
    assert list(read) == ["data"]


def test_in_file_order_when_the_names_differ(tmp_path: Path) -> None:
    read = read_inputs_npz(_npz(tmp_path, image=X, extra=Y), ["data", "im_info"])
    assert list(read) == ["data", "im_info"] and read["data"].shape == X.shape


def test_without_names_every_array(tmp_path: Path) -> None:
    assert list(read_inputs_npz(_npz(tmp_path, data=X, other=Y))) == ["data", "other"]


@pytest.mark.parametrize(("arrays", "names", "message"), [
    ({"data": X, "daat2": Y}, ["data"], "array daat2 is not an input of the net (its inputs: data)"),
    ({"img": X, "a": Y, "b": Y}, ["data", "im_info"], "expected arrays named data, im_info (or 2 arrays in input "
                                                      "order), found img, a, b"),
    ({"data": X, "a": Y, "b": Y}, ["data"], "arrays a, b are not inputs of the net (its inputs: data)"),
    ({"data": np.array(["a", "b"])}, ["data"], "array data is <U1, not numbers"),
])
def test_one_line_errors(tmp_path: Path, arrays: dict, names: list[str], message: str) -> None:
    path = _npz(tmp_path, **arrays)
    with pytest.raises(FormatError) as caught:
        read_inputs_npz(path, names)
    assert caught.value.one_line() == f"{path}: {message}"


def test_files_that_are_not_plain_npz(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="inputs file not found"):
        read_inputs_npz(tmp_path / "none.npz")
    np.save(tmp_path / "one.npy", X)
    with pytest.raises(FormatError, match="not an .npz of named arrays"):
        read_inputs_npz(tmp_path / "one.npy")
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, data=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FormatError, match="not an .npz of plain arrays"):
        read_inputs_npz(pickled)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(FormatError, match="not an .npz of plain arrays|not a readable .npz"):
        read_inputs_npz(tmp_path / "text.npz")


def test_verify_and_verify_caffe_read_inputs_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same file, the same one-line refusal from both commands (before any backend starts)."""
    out = tmp_path / "net"
    assert main(["convert", "purecaffe.examples.tiny_resnet:tiny_resnet", "--input-shape", "1,3,32,32",
                 "-o", str(out)]) == 0
    inputs = _npz(tmp_path, data=np.zeros((1, 3, 32, 32), np.float32), label=Y)
    capsys.readouterr()
    errors = []
    for argv in (["verify", "purecaffe.examples.tiny_resnet:tiny_resnet", str(out), "--inputs", str(inputs)],
                 ["verify-caffe", f"{out}.prototxt", f"{out}.caffemodel", "--inputs", str(inputs)]):
        assert main(argv) == 2
        errors.append(capsys.readouterr().err.strip().split(": error: ", 1)[1])
    assert errors[0] == errors[1] == f"{inputs}: array label is not an input of the net (its inputs: data)"
