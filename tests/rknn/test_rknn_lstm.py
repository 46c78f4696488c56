"""LSTM on rknn: Caffe's LSTM of x alone (no cont bottom), reverse directions by Slice + Concat in time.

RKNN-Toolkit2 2.5 reads a one-bottom LSTM with Caffe's blobs W_xc, b_c, W_hc right and fails to build
one with a cont bottom (`purecaffe.targets.rules_recurrent`).  A reverse direction is the LSTM of the
sequence reversed in time, a Slice into its T steps and a Concat of them backwards (pure copies:
measured exact to fp16 storage at T 40), and reversed back.  Measured on its fp16 simulator, outputs
read by position: T 40, I 512, H 256, 2 bidirectional layers 5.6e-4 of max|torch|; CRNN-style
(conv stack, 25 steps, H 256) below.  Tolerance: FP16 (purecaffe.targets.judges).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from judge_nets import CrnnStyle, Recognizer, assert_close, randomized, save_converted
from purecaffe.rknn import run_rknn
from purecaffe.targets.judges import FP16

pytestmark = pytest.mark.rknn


@pytest.mark.parametrize("shape, hidden, layers, bidirectional, batch_first", [
    ((40, 1, 512), 256, 2, True, False),     # a CRNN's sequence
    ((26, 1, 64), 32, 1, True, False),
    ((1, 1, 5), 4, 1, True, False),          # one step: no reversal
    ((9, 2, 5), 4, 1, False, False),         # batch 2
    ((1, 31, 48), 24, 2, True, True),        # EasyOCR/docTR style: batch-first
], ids=["t40_h256_bi2", "t26_bi", "one_step", "batch2", "batch_first"])
def test_lstm_on_rknn(shape: tuple[int, int, int], hidden: int, layers: int, bidirectional: bool,
                      batch_first: bool, rknn_venv: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Recognizer(nn.LSTM(shape[2], hidden, num_layers=layers, bidirectional=bidirectional,
                               batch_first=batch_first)).eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    files, (expected,) = save_converted(model, x, tmp_path / "lstm", target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    (got,) = run.positional  # inference()'s list, read by place as board code does
    assert_close(got, expected, rel=FP16.rtol, min_cosine=FP16.min_cosine)


def test_crnn_style_recognizer_on_rknn(rknn_venv: Path, tmp_path: Path) -> None:
    model = randomized(CrnnStyle())
    x = torch.randn(1, 1, 32, 100, generator=torch.Generator().manual_seed(3))
    files, (expected,) = save_converted(model, x, tmp_path / "crnn", target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    (got,) = run.positional
    assert_close(got, expected, rel=FP16.rtol, min_cosine=FP16.min_cosine)
    assert (got.argmax(2) == expected.argmax(2)).mean() >= 0.95  # the CTC path a user decodes
