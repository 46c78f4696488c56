"""The exact-GELU construction in real Caffe 1.0 over a dense grid: its measured error bounds hold there too
(`purecaffe.converter.lowerings.gelu`'s MEASURED_* constants, one ulp of margin for glibc's expf/powf)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import purecaffe
from gelu_error import gelu_files, worst_errors
from purecaffe.converter.lowerings import gelu as construction


@pytest.mark.real_caffe
def test_erf_construction_error_in_real_caffe(real_caffe_backend, tmp_path: Path) -> None:
    """A dense grid (step 2^-14 over [-16, 16], 524289 values, plus the runtime's worst arguments) in real
    Caffe 1.0: within the measured bounds with one ulp of margin (glibc's expf/powf against torch's)."""
    from purecaffe.realcaffe import run_real_caffe

    net, prototxt, caffemodel = gelu_files(tmp_path)
    peaks = np.array([0.0307464599609375, 0.00766754150390625, -3.861328125, 5.34765625], dtype=np.float32)
    x = np.concatenate([np.arange(-2 ** 18, 2 ** 18 + 1, dtype=np.float32) / np.float32(2 ** 14), peaks])
    run = run_real_caffe(prototxt, caffemodel, {net.input_names[0]: x.reshape(1, 1, 1, -1)},
                         backend=real_caffe_backend, snapshots=False)
    assert run.ok, run.error
    y = np.asarray(run.blobs[net.output_names[0]]).reshape(-1)
    worst = worst_errors(x, y)
    assert worst["x"] <= construction.MEASURED_ULPS_OF_X + 1, worst
    assert worst["positive"] <= construction.MEASURED_ULPS_POSITIVE + 1, worst
    assert worst["negative"] <= construction.MEASURED_ULPS_NEGATIVE + 1, worst
    ours = purecaffe.run(str(prototxt), str(caffemodel), {net.input_names[0]: x.reshape(1, 1, 1, -1)},
                         keep_steps=False).blobs[net.output_names[0]].reshape(-1)
    np.testing.assert_allclose(ours, y, rtol=0, atol=4 * float(np.spacing(np.float32(16))))
