"""batch_norm in eval mode -> BatchNorm (use_global_stats) + Scale (gamma, beta).

The BatchNorm layer is named after the module (`layer1.0.bn1`), the Scale
after it (`layer1.0.bn1/scale`); the torch value is the Scale's output.
Works on (N, C), (N, C, L) and (N, C, H, W): Caffe's BatchNorm takes channels
from axis 1 and treats the rest as spatial.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering


def _batch_norm(ctx: LoweringContext, node: Node, *, x_ref: object, weight: object, bias: object,
                running_mean: object, running_var: object, eps: float, outputs: tuple[int, ...] | None) -> None:
    if running_mean is None or running_var is None:
        raise ctx.unsupported("batch norm without running statistics normalizes with the batch's own "
                              "statistics (track_running_stats=False); Caffe's BatchNorm needs stored ones")
    x = ctx.blob(x_ref)
    if len(x.shape) < 2:
        raise ctx.unsupported(f"batch norm on a {len(x.shape)}-D tensor")
    mean, var = ctx.constant(running_mean), ctx.constant(running_var)
    name = ctx.name(node)
    has_affine = weight is not None or bias is not None
    bn_top = name if has_affine else ctx.name(node)
    normalized = ctx.emit(builders.batch_norm(name, x, bn_top, eps=float(eps)), weights.batch_norm_blobs(mean, var),
                          result=None if has_affine else node, outputs=None if has_affine else outputs)[0]
    if not has_affine:
        return
    channels = x.shape[1]
    gamma = ctx.constant(weight) if weight is not None else [1.0] * channels
    beta = ctx.constant(bias) if bias is not None else None
    scale_name = ctx.name(node, "scale")
    ctx.emit(builders.scale(scale_name, [normalized], scale_name, bias_term=beta is not None),
             weights.scale_blobs(gamma, beta), result=node, outputs=outputs)


@lowering("aten.batch_norm")
def lower_batch_norm(ctx: LoweringContext, node: Node) -> None:
    x, weight, bias, running_mean, running_var, training, eps = node.unpack(
        "input", "weight", "bias", "running_mean", "running_var", "training", "eps")
    if training:
        raise ctx.unsupported("batch norm in training mode (batch statistics); call model.eval()")
    _batch_norm(ctx, node, x_ref=x, weight=weight, bias=bias, running_mean=running_mean,
                running_var=running_var, eps=eps, outputs=None)


@lowering("aten._native_batch_norm_legit_no_training")
def lower_native_batch_norm_legit_no_training(ctx: LoweringContext, node: Node) -> None:
    """The functional form: (output, save_mean, save_invstd); only output 0 has a Caffe blob."""
    x, weight, bias, running_mean, running_var, eps = node.unpack(
        "input", "weight", "bias", "running_mean", "running_var", "eps")
    _batch_norm(ctx, node, x_ref=x, weight=weight, bias=bias, running_mean=running_mean,
                running_var=running_var, eps=eps, outputs=(0,))


@lowering("aten._native_batch_norm_legit", aliases=("aten.native_batch_norm",))
def lower_native_batch_norm_legit(ctx: LoweringContext, node: Node) -> None:
    """Batch statistics (training mode or track_running_stats=False): not a fixed function of one sample."""
    raise ctx.unsupported("batch norm using the batch's own statistics (training mode or "
                          "track_running_stats=False); Caffe's BatchNorm needs stored running statistics")
