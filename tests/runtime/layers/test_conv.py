"""Convolution and Deconvolution against direct loops written from Caffe's definitions."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import ShapeError

# float32 kernels vs a float64 reference; each output sums at most 4 * 4 * 4 = 64 products of
# unit-normal values, so float32 rounding stays below ~1e-5 absolute.
ATOL = 2e-5


def reference_conv(x, w, b, stride, pad, dilation, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    out_h = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    out_w = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    y = np.zeros((n, o, out_h, out_w))
    og = o // group
    for g, i, j in itertools.product(range(group), range(kh), range(kw)):
        r0, c0 = i * dilation[0], j * dilation[1]
        patch = xp[:, g * cg:(g + 1) * cg, r0:r0 + stride[0] * (out_h - 1) + 1:stride[0],
                   c0:c0 + stride[1] * (out_w - 1) + 1:stride[1]]
        y[:, g * og:(g + 1) * og] += np.einsum("oc,nchw->nohw", w[g * og:(g + 1) * og, :, i, j], patch)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def reference_deconv(x, w, b, stride, pad, dilation, group):
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    full_h = stride[0] * (h - 1) + dilation[0] * (kh - 1) + 1
    full_w = stride[1] * (wd - 1) + dilation[1] * (kw - 1) + 1
    y = np.zeros((n, og * group, full_h, full_w))
    cg = c // group
    for g, i, j in itertools.product(range(group), range(kh), range(kw)):
        r0, c0 = i * dilation[0], j * dilation[1]
        rows = slice(r0, r0 + stride[0] * (h - 1) + 1, stride[0])
        cols = slice(c0, c0 + stride[1] * (wd - 1) + 1, stride[1])
        y[:, g * og:(g + 1) * og, rows, cols] += np.einsum("co,nchw->nohw", w[g * cg:(g + 1) * cg, :, i, j],
                                                           x[:, g * cg:(g + 1) * cg])
    y = y[:, :, pad[0]:full_h - pad[0], pad[1]:full_w - pad[1]]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_text(kind: str, num_output: int, kernel, stride, pad, dilation, group, bias_term: bool) -> str:
    return (f'type: "{kind}" convolution_param {{ num_output: {num_output} kernel_h: {kernel[0]} '
            f'kernel_w: {kernel[1]} stride_h: {stride[0]} stride_w: {stride[1]} pad_h: {pad[0]} '
            f'pad_w: {pad[1]} dilation: {dilation[0]} dilation: {dilation[1]} group: {group} '
            f'bias_term: {"true" if bias_term else "false"} }}')


GEOMETRIES = [
    # kernel, stride, pad, dilation, group, input H x W
    ((1, 1), (1, 1), (0, 0), (1, 1), 1, (5, 5)),
    ((3, 3), (1, 1), (1, 1), (1, 1), 1, (7, 6)),
    ((3, 3), (2, 2), (1, 1), (1, 1), 2, (7, 7)),      # odd input, stride 2
    ((2, 3), (2, 1), (0, 1), (1, 1), 1, (6, 5)),      # kernel_h != kernel_w, asymmetric pad
    ((3, 3), (1, 2), (2, 0), (2, 1), 1, (9, 8)),      # dilation in H only
    ((3, 3), (3, 3), (1, 2), (2, 2), 4, (11, 10)),    # groups == channels (depthwise)
    ((4, 4), (2, 2), (1, 1), (1, 1), 2, (8, 8)),
    ((1, 3), (1, 1), (0, 1), (1, 3), 1, (4, 9)),
]


@pytest.mark.parametrize("bias_term", [True, False])
@pytest.mark.parametrize("kernel, stride, pad, dilation, group, size", GEOMETRIES)
def test_convolution(kernel, stride, pad, dilation, group, size, bias_term) -> None:
    r = rng(sum(kernel) + 10 * group)
    channels, num_output = 4, 8
    x = r.standard_normal((2, channels, *size)).astype(np.float32)
    w = r.standard_normal((num_output, channels // group, *kernel)).astype(np.float32)
    b = r.standard_normal(num_output).astype(np.float32)
    blobs = [w, b] if bias_term else [w]
    (y,) = run_layer(conv_text("Convolution", num_output, kernel, stride, pad, dilation, group, bias_term),
                     x, blobs=blobs)
    expected = reference_conv(x.astype(np.float64), w, b if bias_term else None, stride, pad, dilation, group)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=ATOL)


@pytest.mark.parametrize("bias_term", [True, False])
@pytest.mark.parametrize("kernel, stride, pad, dilation, group, size", GEOMETRIES)
def test_deconvolution(kernel, stride, pad, dilation, group, size, bias_term) -> None:
    r = rng(sum(kernel) + 10 * group + 1)
    channels, num_output = 4, 8
    size = (max(2, size[0] // 2), max(2, size[1] // 2))
    x = r.standard_normal((1, channels, *size)).astype(np.float32)
    w = r.standard_normal((channels, num_output // group, *kernel)).astype(np.float32)
    b = r.standard_normal(num_output).astype(np.float32)
    blobs = [w, b] if bias_term else [w]
    (y,) = run_layer(conv_text("Deconvolution", num_output, kernel, stride, pad, dilation, group, bias_term),
                     x, blobs=blobs)
    expected = reference_deconv(x.astype(np.float64), w, b if bias_term else None, stride, pad, dilation, group)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=ATOL)


@pytest.mark.parametrize("kind, bottom, expected_top, expected_params", [
    ("Convolution", (1, 6, 10, 10), (1, 12, 4, 4), [(12, 2, 3, 3), (12,)]),
    ("Deconvolution", (1, 6, 10, 10), (1, 12, 21, 21), [(6, 4, 3, 3), (12,)]),
    ("DepthwiseConvolution", (1, 6, 10, 10), (1, 12, 4, 4), [(12, 2, 3, 3), (12,)]),
])
def test_shapes_and_param_shapes(kind, bottom, expected_top, expected_params) -> None:
    text = f'type: "{kind}" convolution_param {{ num_output: 12 kernel_size: 3 stride: 2 pad: 0 group: 3 }}'
    tops, params = layer_shapes(text, bottom)
    assert tops == [expected_top] and params == expected_params


def test_bias_term_false_has_one_blob() -> None:
    text = 'type: "Convolution" convolution_param { num_output: 4 kernel_size: 1 bias_term: false }'
    _, params = layer_shapes(text, (1, 3, 5, 5))
    assert params == [(4, 3, 1, 1)]


def test_three_spatial_axes_and_axis() -> None:
    text = 'type: "Convolution" convolution_param { num_output: 2 kernel_size: 3 kernel_size: 1 kernel_size: 2 }'
    tops, params = layer_shapes(text, (1, 3, 5, 4, 6))
    assert tops == [(1, 2, 3, 4, 5)] and params == [(2, 3, 3, 1, 2), (2,)]
    # axis 2: axes 0 and 1 are batch-like
    text = 'type: "Convolution" convolution_param { num_output: 2 kernel_size: 3 axis: 2 }'
    tops, _ = layer_shapes(text, (2, 3, 4, 7, 7))
    assert tops == [(2, 3, 2, 5, 5)]


def test_multiple_bottoms_share_the_weights() -> None:
    r = rng(3)
    a, b = r.standard_normal((2, 1, 2, 4, 4)).astype(np.float32)
    w = r.standard_normal((3, 2, 3, 3)).astype(np.float32)
    text = ('type: "Convolution" top: "ya" top: "yb" '
            'convolution_param { num_output: 3 kernel_size: 3 bias_term: false }')
    ya, yb = run_layer(text, a, b, blobs=[w])
    for x, y in ((a, ya), (b, yb)):
        np.testing.assert_allclose(y, reference_conv(x.astype(np.float64), w, None, (1, 1), (0, 0), (1, 1), 1),
                                   atol=ATOL)


@pytest.mark.parametrize("text, message", [
    ('convolution_param { num_output: 5 kernel_size: 3 group: 2 }', "multiple of group"),
    ('convolution_param { num_output: 4 kernel_size: 9 }', "output size"),
    ('convolution_param { num_output: 4 kernel_size: 3 kernel_size: 3 kernel_size: 3 }', "once per spatial"),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        layer_shapes(f'type: "Convolution" {text}', (1, 4, 5, 5))
