"""Calibration data: image folders preprocessed as declared, .npy/.npz arrays as they are, errors by type."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from purecaffe.calibration import Preprocess, read_calibration
from purecaffe.errors import FormatError, PurecaffeError

PIL = pytest.importorskip("PIL.Image")


def _write(folder: Path, name: str, pixels: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    PIL.fromarray(pixels).save(path)
    return path


def test_images_resized_ordered_and_normalized(tmp_path: Path) -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 10, 20, 30  # constant colour: resizing keeps it exactly
    _write(tmp_path, "b.png", pixels)
    _write(tmp_path, "a.png", pixels // 2)
    (tmp_path / "notes.txt").write_text("not an image")
    preprocess = Preprocess(mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 9.0), order="bgr")
    samples = read_calibration(tmp_path, {"data": (1, 3, 5, 7)}, preprocess)
    assert len(samples) == 2  # sorted by name: a.png first
    first, second = samples[0]["data"], samples[1]["data"]
    assert first.shape == second.shape == (1, 3, 5, 7) and first.dtype == np.float32
    # BGR: channel 0 is blue (30), normalized by the first mean/std
    np.testing.assert_allclose(second[0, :, 0, 0], [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 9], rtol=1e-6)
    np.testing.assert_allclose(first[0, :, 0, 0], [(15 - 1) / 2, (10 - 2) / 4, (5 - 3) / 9], rtol=1e-6)


def test_center_crop_keeps_the_middle(tmp_path: Path) -> None:
    pixels = np.zeros((8, 24), np.uint8)
    pixels[:, 8:16] = 200  # a bright middle third
    _write(tmp_path, "wide.png", pixels)
    cropped = read_calibration(tmp_path, {"data": (1, 1, 8, 8)}, Preprocess(resize="center-crop"))[0]["data"]
    stretched = read_calibration(tmp_path, {"data": (1, 1, 8, 8)}, Preprocess())[0]["data"]
    assert cropped.min() == 200.0  # only the middle third survives the crop
    assert stretched.min() == 0.0


def test_npy_and_npz_arrays(tmp_path: Path) -> None:
    arrays = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    np.save(tmp_path / "x.npy", arrays)
    samples = read_calibration(tmp_path / "x.npy", {"data": (1, 3, 2, 2)}, Preprocess(mean=(100.0,)))
    assert len(samples) == 2 and samples[1]["data"].dtype == np.float32
    np.testing.assert_array_equal(samples[1]["data"][0], arrays[1])  # arrays are not preprocessed
    np.savez(tmp_path / "two.npz", b=np.ones((3, 4)), a=np.zeros((3, 2, 2)))
    samples = read_calibration(tmp_path / "two.npz", {"a": (1, 2, 2), "b": (1, 4)})
    assert len(samples) == 3 and samples[0]["a"].shape == (1, 2, 2) and samples[2]["b"].shape == (1, 4)
    np.savez(tmp_path / "one.npz", np.ones((3, 4)))  # arr_0, in input order
    assert read_calibration(tmp_path / "one.npz", {"x": (1, 3, 4)})[0]["x"].shape == (1, 3, 4)  # one sample


@pytest.mark.parametrize("case, message", [
    ("missing", "no such calibration data"),
    ("suffix", "must be a folder of images, an .npy or an .npz"),
    ("empty", "no images"),
    ("shape", "has shape (2, 3, 4, 4); the input is (1, 3, 2, 2)"),
    ("names", "expected arrays named data"),
    ("corrupt", "cannot read calibration arrays"),
])
def test_bad_calibration_data(tmp_path: Path, case: str, message: str) -> None:
    path = {"missing": tmp_path / "nope", "suffix": tmp_path / "x.csv", "empty": tmp_path / "empty",
            "shape": tmp_path / "x.npy", "names": tmp_path / "x.npz", "corrupt": tmp_path / "bad.npy"}[case]
    if case == "suffix":
        path.write_text("1,2")
    elif case == "empty":
        path.mkdir()
    elif case == "shape":
        np.save(path, np.zeros((2, 3, 4, 4)))
    elif case == "names":
        np.savez(path, other=np.zeros((1, 3, 2, 2)))
    elif case == "corrupt":
        path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(PurecaffeError) as raised:
        read_calibration(path, {"data": (1, 3, 2, 2)})
    assert message in str(raised.value)
    assert str(path.name) in raised.value.one_line()


def test_images_need_one_image_input(tmp_path: Path) -> None:
    _write(tmp_path, "a.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(PurecaffeError, match="calibrates a net with one input"):
        read_calibration(tmp_path, {"a": (1, 3, 4, 4), "b": (1, 3, 4, 4)})
    with pytest.raises(PurecaffeError, match="images calibrate an N x 1|3 x H x W input"):
        read_calibration(tmp_path, {"a": (1, 16)})
    with pytest.raises(PurecaffeError, match="mean has 2 values; the input has 3 channels"):
        read_calibration(tmp_path, {"a": (1, 3, 4, 4)}, Preprocess(mean=(1.0, 2.0)))
    with pytest.raises(PurecaffeError, match="a channel's std is 0"):
        Preprocess(std=(0.0,))


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(FormatError, match="cannot read the image") as raised:
        read_calibration(tmp_path, {"data": (1, 3, 4, 4)})
    assert "broken.png" in raised.value.one_line()
