"""Fork resizing layers: Upsample (YOLOv3/SegNet forks) and Interp (PSPNet/DeepLab fork).

Neither exists in BVLC Caffe; the semantics below are those of the forks that define them.

* Upsample, one bottom (YOLOv3 forks, `upsample_param { scale: 2 }`): nearest-neighbour
  repetition by an integer factor per axis (`scale`, or `scale_h`/`scale_w`).  The output
  is `H * scale_h` (minus 1 with `pad_out_h`), or `upsample_h` when given (then the
  repeated rows are cut to that size); the same for W.
* Upsample, two bottoms (SegNet max-unpooling): bottom 1 is the argmax mask of a MAX
  pooling (index `h * W_out + w` into each output plane); every bottom value is written to
  its masked position, the rest is 0.  Output size as above.
* Interp (DeepLab `interp_layer.cpp`): bilinear with align-corners arithmetic,
  `src = dst * (in - 1) / (out - 1)` computed in float32.  Output size: `zoom_factor` z gives
  `in + (in - 1) * (z - 1)`; `shrink_factor` s gives `(in - 1) // s + 1`; both: shrink then
  zoom; else `height`/`width`.  `in` is the effective size `H + pad_beg + pad_end`; only
  pads <= 0 (cropping) are supported in the forward.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, Tensor, need_axes, need_bottoms


def _upsample_size(shape: Shape, scale: tuple[int, int], pad_out: tuple[bool, bool],
                   size: tuple[int | None, int | None]) -> tuple[int, int]:
    if min(scale) <= 0:
        raise LayerProblem(f"scale {scale} must be positive")
    out = []
    for n, s, p, explicit in zip(shape[2:4], scale, pad_out, size):
        out.append(explicit if explicit is not None else n * s - int(p))
    return out[0], out[1]


def upsample_shapes(bottoms: Sequence[Shape], *, scale: tuple[int, int], pad_out: tuple[bool, bool],
                    size: tuple[int | None, int | None]) -> LayerShapes:
    need_bottoms(bottoms, 1, 2)
    shape = bottoms[0]
    need_axes(shape, 4)
    if len(bottoms) == 2 and bottoms[1] != shape:
        raise LayerProblem(f"mask {bottoms[1]} must be shaped like the data {shape}")
    h, w = _upsample_size(shape, scale, pad_out, size)
    return LayerShapes(tops=((shape[0], shape[1], h, w),))


def upsample(bottoms: Sequence[Tensor], *, scale: tuple[int, int], pad_out: tuple[bool, bool],
             size: tuple[int | None, int | None]) -> list[Tensor]:
    x = bottoms[0]
    h, w = _upsample_size(tuple(x.shape), scale, pad_out, size)
    if len(bottoms) == 2:
        n, c = x.shape[:2]
        where = bottoms[1].reshape(n, c, -1).to(torch.int64)
        if bool(((where < 0) | (where >= h * w)).any()):
            raise LayerProblem(f"mask index outside the {h}x{w} output plane")
        out = torch.zeros(n, c, h * w, dtype=x.dtype)
        out.scatter_(2, where, x.reshape(n, c, -1))
        return [out.reshape(n, c, h, w)]
    y = x.repeat_interleave(scale[0], dim=2).repeat_interleave(scale[1], dim=3)
    if y.shape[2] < h or y.shape[3] < w:
        raise LayerProblem(f"upsample size {(h, w)} larger than {scale} times the input {tuple(x.shape[2:])}")
    return [y[:, :, :h, :w].contiguous()]


def _interp_size(shape: Shape, *, height: int, width: int, zoom_factor: int | None, shrink_factor: int | None,
                 pad_beg: int, pad_end: int) -> tuple[int, int]:
    out = []
    for n, explicit in zip(shape[2:4], (height, width)):
        eff = n + pad_beg + pad_end
        if eff <= 0:
            raise LayerProblem(f"effective input size {eff} must be positive")
        if shrink_factor is not None and shrink_factor < 1 or zoom_factor is not None and zoom_factor < 1:
            raise LayerProblem("zoom_factor and shrink_factor must be >= 1")
        if shrink_factor is not None and zoom_factor is None:
            size = (eff - 1) // shrink_factor + 1
        elif zoom_factor is not None and shrink_factor is None:
            size = eff + (eff - 1) * (zoom_factor - 1)
        elif height and width:
            size = explicit
        elif shrink_factor is not None and zoom_factor is not None:
            size = (eff - 1) // shrink_factor + 1
            size = size + (size - 1) * (zoom_factor - 1)
        else:
            raise LayerProblem("interp_param sets none of zoom_factor, shrink_factor, height+width")
        if size <= 0:
            raise LayerProblem(f"output size {size} must be positive")
        out.append(size)
    return out[0], out[1]


def interp_shapes(bottoms: Sequence[Shape], *, height: int, width: int, zoom_factor: int | None,
                  shrink_factor: int | None, pad_beg: int, pad_end: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    need_axes(shape, 4)
    h, w = _interp_size(shape, height=height, width=width, zoom_factor=zoom_factor,
                        shrink_factor=shrink_factor, pad_beg=pad_beg, pad_end=pad_end)
    return LayerShapes(tops=((shape[0], shape[1], h, w),))


def _align_corners_axis(size_in: int, size_out: int) -> tuple[Tensor, Tensor, Tensor]:
    """Caffe's per-output (index, next index, weight of next) for one axis, float32 arithmetic."""
    ratio = torch.tensor((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0, dtype=torch.float32)
    position = ratio * torch.arange(size_out, dtype=torch.float32)
    low = position.to(torch.int64)
    high = low + (low < size_in - 1).to(torch.int64)
    return low, high, position - low.to(torch.float32)


def interp(bottoms: Sequence[Tensor], *, height: int, width: int, zoom_factor: int | None,
           shrink_factor: int | None, pad_beg: int, pad_end: int) -> list[Tensor]:
    x = bottoms[0]
    h, w = _interp_size(tuple(x.shape), height=height, width=width, zoom_factor=zoom_factor,
                        shrink_factor=shrink_factor, pad_beg=pad_beg, pad_end=pad_end)
    if pad_beg > 0 or pad_end > 0:
        raise LayerProblem("Interp with positive pad_beg/pad_end is not supported")
    x = x[:, :, -pad_beg: x.shape[2] + pad_end, -pad_beg: x.shape[3] + pad_end]
    r0, r1, rl = _align_corners_axis(x.shape[2], h)
    c0, c1, cl = _align_corners_axis(x.shape[3], w)
    rl, cl = rl[:, None], cl[None, :]
    top = x[:, :, r0][:, :, :, c0] * (1 - cl) + x[:, :, r0][:, :, :, c1] * cl
    bottom = x[:, :, r1][:, :, :, c0] * (1 - cl) + x[:, :, r1][:, :, :, c1] * cl
    return [(1 - rl) * top + rl * bottom]
