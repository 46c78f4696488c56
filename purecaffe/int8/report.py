"""The int8 part of a parity report: both routes side by side, and cosine by depth as inline SVG."""
from __future__ import annotations

import html
from collections.abc import Sequence

from purecaffe.int8.measure import LayerCosine, RouteResult
from purecaffe.int8.routes import Int8Comparison

WORST = 3
"""How many of each route's worst layers are highlighted (plot and table)."""
COLOURS = {"caffe": "#1f6fb4", "onnx": "#e08a1e"}


def _cells(route: RouteResult | None) -> list[str]:
    if route is None:
        return ["(not run)", "", "", ""]
    if not route.ok:
        return [f"failed: {route.error}", "", "", ""]
    outputs = route.eval_cosine or route.output_cosine or {}
    worst = ", ".join(f"{layer.layer} {layer.cosine:.5f}" for layer in route.worst_layers(WORST))
    top = "-" if route.top1 is None else f"{route.top1:.2f} / {route.topk:.2f}"
    return [f"{route.min_output_cosine:.5f}", " ".join(f"{k}={v:.5f}" for k, v in outputs.items()), top, worst]


HEADER = ("route", "worst output cosine", "per output", "top-1 / top-5", f"worst {WORST} layers (int8 vs float)")


def int8_rows(result: Int8Comparison) -> list[tuple[str, ...]]:
    rows = [HEADER, (result.toolchain.caffe_route, *_cells(result.caffe))]
    if result.onnx is not None:
        rows.append((result.toolchain.onnx_route, *_cells(result.onnx)))
    return rows


def int8_table(result: Int8Comparison) -> str:
    rows = int8_rows(result)
    widths = [min(max(len(row[i]) for row in rows), 70) for i in range(len(HEADER))]
    lines = [f"int8 routes on {result.toolchain.title} ({result.quantization}; cosine to PyTorch, mean over the "
             f"evaluation samples):"]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell[:70].ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(result.summary())
    return "\n".join(lines)


def cosine_plot(routes: Sequence[RouteResult], *, width: int = 720, height: int = 260, toolchain: str = "the toolchain"
                ) -> str:
    """Inline SVG: each route's per-layer cosine against relative depth (0 = input, 1 = output), on a
    log scale of 1 - cosine, the worst layers as labelled red dots."""
    import math

    left, right, top, bottom = 64, 16, 16, 36
    plotted = [route for route in routes if route.ok and route.layers]
    if not plotted:
        return ""
    floor = min(layer.cosine for route in plotted for layer in route.layers)
    decades = max(1, math.ceil(-math.log10(max(1.0 - floor, 1e-7))))
    low = max(decades - 1, 0)  # 1 - cosine from 10^-(decades+1) ... 10^-low (worse at the bottom)

    def y(cosine: float) -> float:
        loss = min(max(1.0 - cosine, 10.0 ** -(decades + 1)), 10.0 ** -low)
        position = (-math.log10(loss) - low) / (decades + 1 - low)
        return top + (1 - position) * (height - top - bottom)

    def x(depth: int, count: int) -> float:
        return left + (depth / max(count - 1, 1)) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="system-ui, sans-serif" font-size="11">',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             f'fill="#fafafa" stroke="#ccc"/>']
    for exponent in range(low, decades + 2):
        value = 1.0 - 10.0 ** -exponent
        level = y(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{level:.1f}" y2="{level:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 4}" y="{level + 4:.1f}" text-anchor="end">{value:.{exponent}f}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f'relative depth (layers {html.escape(toolchain)} kept, input to output)</text>')
    for route in plotted:
        count = len(route.layers)
        points = " ".join(f"{x(layer.depth, count):.1f},{y(layer.cosine):.1f}" for layer in route.layers)
        colour = COLOURS.get(route.route, "#555")
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}">'
                     f'<title>{html.escape(route.route)} route</title></polyline>')
        for layer in route.worst_layers(WORST):
            parts.append(_dot(x(layer.depth, count), y(layer.cosine), layer, route.route))
    for index, route in enumerate(plotted):
        colour = COLOURS.get(route.route, "#555")
        parts.append(f'<text x="{width - right - 8}" y="{top + 14 + 14 * index}" text-anchor="end" '
                     f'fill="{colour}">{html.escape(route.route)} route</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _dot(cx: float, cy: float, layer: LayerCosine, route: str) -> str:
    label = html.escape(f"{route}: {layer.layer} {layer.cosine:.5f}")
    return (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#d33"><title>{label}</title></circle>'
            f'<text x="{cx + 6:.1f}" y="{cy - 5:.1f}" fill="#b00">{html.escape(layer.layer[:32])}</text>')


def int8_html(result: Int8Comparison) -> str:
    rows = int8_rows(result)
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    status = "pass" if result.passed else "fail"
    routes = [route for route in (result.caffe, result.onnx) if route is not None]
    title = html.escape(result.toolchain.title)
    return (f'<h2>int8 on {title}: the Caffe route beside the toolchain\'s own ONNX route</h2>\n'
            f'<p class="summary {status}">{html.escape(result.summary())}</p>\n'
            f'<p>{html.escape(result.quantization)}. Output cosine to PyTorch (mean over the evaluation samples); '
            f'per layer: {html.escape(result.toolchain.golden)}. Red: each route\'s {WORST} worst layers.</p>\n'
            f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
            f'{cosine_plot(routes, toolchain=result.toolchain.title)}\n')


def int8_dict(result: Int8Comparison) -> dict:
    def route(value: RouteResult | None) -> dict | None:
        if value is None:
            return None
        return {"route": value.route, "error": value.error, "output_cosine": value.output_cosine,
                "eval_cosine": value.eval_cosine, "top1": value.top1, "topk": value.topk,
                "layers": [{"depth": l.depth, "layer": l.layer, "cosine": l.cosine} for l in value.layers]}

    return {"toolchain": result.toolchain.backend, "quantization": result.quantization, "passed": result.passed, "gap": result.gap(),
            "summary": result.summary(), "caffe": route(result.caffe), "onnx": route(result.onnx)}


__all__ = ["cosine_plot", "int8_dict", "int8_html", "int8_rows", "int8_table"]
