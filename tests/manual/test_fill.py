"""`purecaffe.fill` as the user of issue 6 uses it, checked by the runtime (`purecaffe.run`).

Parity tolerance: max |caffe - torch| <= 1e-4 * max |torch|.  Both sides compute
in float32 with different summation orders (im2col GEMM vs PyTorch's conv), so
per-value errors are ~1e-7 relative and grow slowly with depth; 1e-4 of the
output's scale leaves two orders of margin and still catches any wrong blob
(a swapped, transposed or unscaled tensor changes the output by O(1) of scale).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from manual_project import (
    MAPPING,
    OUTPUT,
    PROTOTXT,
    reference_output,
    sample_input,
    scale_error,
    trained_model,
    with_swish,
    write_project,
)
from torch import nn

import purecaffe
from purecaffe.errors import ShapeError
from purecaffe.manual import MappingError, MissingTensorError, UnusedTensorError, fill

TOLERANCE = 1e-4  # of the output's scale; see the module docstring


@pytest.fixture()
def model() -> nn.Module:
    return trained_model()


@pytest.fixture()
def project(tmp_path: Path, model: nn.Module) -> dict[str, Path]:
    return write_project(tmp_path, model)


def runtime_error(prototxt: Path, caffemodel: Path, model: nn.Module) -> float:
    x = sample_input()
    out = purecaffe.run(str(prototxt), str(caffemodel), {"data": x}).blobs[OUTPUT]
    return scale_error(out, reference_output(model, x))


def test_fill_with_mapping_matches_pytorch(project: dict[str, Path], model: nn.Module, tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    result = fill(project["prototxt"], project["checkpoint"], output, project["mapping"])
    assert result.ok and output.is_file()
    sources = {(m.layer, m.index): (m.source, m.keys) for m in result.matched}
    assert sources[("score", 0)] == ("mapping", ("head.weight",))
    assert sources[("classifier", 0)] == ("order", ("fc.weight",))
    assert sources[("block/1/scale", 0)] == ("name", ("block.1.weight",))   # BatchNorm's gamma -> its Scale
    assert sources[("bn1", 2)] == ("constant", ())                           # scale factor 1
    assert sources[("act1", 0)] == ("name", ("act1.weight",))
    assert result.ignored == ("bn1.num_batches_tracked", "block.1.num_batches_tracked")
    weights = purecaffe.load_weights(output)
    assert list(weights) == ["conv1", "bn1", "scale1", "act1", "block/0", "block/1", "block/1/scale", "up",
                             "score", "classifier"]
    np.testing.assert_array_equal(weights["bn1"][2], [1.0])
    np.testing.assert_array_equal(weights["up"][0], model.up.weight.detach().numpy())  # (in, out/g, kh, kw)
    assert runtime_error(project["prototxt"], output, model) <= TOLERANCE


def test_without_mapping_the_renamed_layer_is_an_error(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    with pytest.raises(ShapeError) as caught:
        fill(project["prototxt"], project["checkpoint"], output)
    assert str(caught.value) == (f"{project['checkpoint']}:fc.weight: shape mismatch: checkpoint fc.weight is "
                                 f"10x320 but Caffe layer 'score' blob 0 (weight) is 5x16x1x1 (paired by order; "
                                 f"if they are different layers, add a --map entry) (and 7 more problems; see the "
                                 f"report)")
    report = caught.value.report
    assert [(m.layer, m.index) for m in report.mismatches] == [("score", 0), ("score", 1)]
    assert [(m.layer, m.index) for m in report.missing] == [("classifier", 0), ("classifier", 1)]
    assert [u.key for u in report.unused] == ["fc.weight", "fc.bias", "head.weight", "head.bias"]
    assert not output.exists()


@pytest.mark.parametrize("save", ["npz", "npy", "safetensors", "wrapped", "dataparallel"])
def test_every_checkpoint_format_gives_the_same_caffemodel(save: str, project: dict[str, Path],
                                                           model: nn.Module, tmp_path: Path) -> None:
    state = {k: v for k, v in model.state_dict().items()}
    arrays = {k: v.numpy() for k, v in state.items()}
    path = tmp_path / f"ckpt.{ {'wrapped': 'pth', 'dataparallel': 'pt'}.get(save, save)}"
    if save == "npz":
        np.savez(path, **arrays)
    elif save == "npy":
        np.save(path, arrays, allow_pickle=True)
    elif save == "safetensors":
        safetensors_torch = pytest.importorskip("safetensors.torch")
        safetensors_torch.save_file(state, str(path))
    elif save == "wrapped":
        torch.save({"epoch": 12, "model": state, "optimizer": {"lr": 0.1}}, path)
    else:
        torch.save(nn.DataParallel(model).state_dict(), path)
    reference = fill(project["prototxt"], project["checkpoint"], mapping=project["mapping"]).weights
    # safetensors keeps no model order, so `classifier` cannot pair with `fc` by order: map it too.
    mapping = {"score": "head", "classifier": "fc"} if save == "safetensors" else project["mapping"]
    result = fill(project["prototxt"], path, tmp_path / "out.caffemodel", mapping)
    assert result.ok
    for layer, blobs in reference.items():
        for ours, theirs in zip(result.weights[layer], blobs):
            np.testing.assert_array_equal(ours, theirs)
    if save == "safetensors":
        assert any("sorted by name" in note for note in result.notes)


def test_wrong_shape_is_refused_and_nothing_written(project: dict[str, Path], model: nn.Module,
                                                    tmp_path: Path) -> None:
    state = model.state_dict()
    state["act1.weight"] = torch.zeros(4)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    output = tmp_path / "net.caffemodel"
    with pytest.raises(ShapeError) as caught:
        fill(project["prototxt"], bad, output, project["mapping"])
    assert str(caught.value) == (f"{bad}:act1.weight: shape mismatch: checkpoint act1.weight is 4 but Caffe "
                                 f"layer 'act1' blob 0 (slope) is 8 (paired by name)")
    assert [m.layer for m in caught.value.report.mismatches] == ["act1"]
    assert not output.exists()


def test_missing_tensor_is_refused_and_nothing_written(project: dict[str, Path], model: nn.Module,
                                                       tmp_path: Path) -> None:
    state = model.state_dict()
    del state["up.bias"]
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    output = tmp_path / "net.caffemodel"
    with pytest.raises(MissingTensorError) as caught:
        fill(project["prototxt"], partial, output, project["mapping"])
    assert str(caught.value) == (f"{project['prototxt']}:up: no checkpoint tensor for blob 1 (bias) 16 of "
                                 f"Deconvolution layer 'up'; looked for up.bias (add it to a --map file, or "
                                 f"--allow-missing up to keep its prototxt filler)")
    assert not output.exists()


def test_allow_missing_keeps_the_prototxt_filler(project: dict[str, Path], model: nn.Module,
                                                 tmp_path: Path) -> None:
    state = model.state_dict()
    del state["up.weight"], state["up.bias"]
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    result = fill(project["prototxt"], partial, tmp_path / "net.caffemodel", project["mapping"],
                  allow_missing=["up"])
    assert result.ok and [m.allowed for m in result.missing] == [True, True]
    weight = result.weights["up"][0]
    kernel = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])  # its declared bilinear filler
    np.testing.assert_allclose(weight, np.broadcast_to(kernel, weight.shape), atol=1e-7)
    np.testing.assert_array_equal(result.weights["up"][1], 0)  # bias_filler default: constant 0


def test_unused_tensor_is_refused_unless_allowed(project: dict[str, Path], model: nn.Module,
                                                 tmp_path: Path) -> None:
    state = model.state_dict()
    state["aux_head.weight"] = torch.zeros(3, 16)
    extra = tmp_path / "extra.pth"
    torch.save(state, extra)
    output = tmp_path / "net.caffemodel"
    with pytest.raises(UnusedTensorError, match=r"extra.pth:aux_head.weight: tensor 3x16 was not used by any "
                                                r"Caffe layer") as caught:
        fill(project["prototxt"], extra, output, project["mapping"])
    assert not output.exists() and caught.value.report.matched
    result = fill(project["prototxt"], extra, output, project["mapping"], allow_unused=["aux_head.*"])
    assert result.ok and output.exists()
    assert [(u.key, u.allowed) for u in result.unused] == [("aux_head.weight", True)]


def test_strict_false_returns_the_report_and_writes_nothing(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    result = fill(project["prototxt"], project["checkpoint"], output, strict=False)
    assert not result.ok and not output.exists() and not result.weights
    assert len(result.problems()) == 8
    table = result.to_table()
    assert "score          0 weight    5x16x1x1     MISMATCH (order)  fc.weight" in table
    assert "classifier     0 weight    10x320       MISSING" in table
    assert "  head.weight 5x16x1x1" in table
    assert '"ok": false' in result.to_json()


def test_order_matching_fills_a_fully_renamed_net(model: nn.Module, tmp_path: Path) -> None:
    renamed = PROTOTXT
    for old, new in [('"conv1"', '"c1"'), ('"bn1"', '"b1"'), ('"scale1"', '"s1"'), ('"act1"', '"p1"'),
                     ('"block/0"', '"c2"'), ('"block/1"', '"b2"'), ('"block/1/scale"', '"s2"'),
                     ('"up"', '"u"')]:
        renamed = renamed.replace(f"name: {old}", f"name: {new}")
    prototxt = tmp_path / "renamed.prototxt"
    prototxt.write_text(renamed)
    # PyTorch registers `fc` before `head` but the net runs `head` first: move it in the state_dict.
    state = model.state_dict()
    reordered = {k: v for k, v in state.items() if not k.startswith("head.")}
    items = list(reordered.items())
    cut = next(i for i, (k, _) in enumerate(items) if k.startswith("fc."))
    reordered = dict(items[:cut] + [(k, state[k]) for k in ("head.weight", "head.bias")] + items[cut:])
    checkpoint = tmp_path / "reordered.pth"
    torch.save(reordered, checkpoint)
    output = tmp_path / "net.caffemodel"
    result = fill(prototxt, checkpoint, output)
    assert result.ok and {m.source for m in result.matched} == {"order", "constant"}
    assert runtime_error(prototxt, output, model) <= TOLERANCE
    with pytest.raises(MissingTensorError):
        fill(prototxt, checkpoint, tmp_path / "strict.caffemodel", by_order=False)


def test_order_matching_stops_at_a_shape_mismatch(model: nn.Module, tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(PROTOTXT.replace('name: "up"', 'name: "u"').replace('name: "score"', 'name: "s"'))
    state = model.state_dict()
    state["up.weight"] = torch.zeros(16, 8, 3, 3)  # a 3x3 kernel where the prototxt says 4
    checkpoint = tmp_path / "m.pth"
    torch.save(state, checkpoint)
    with pytest.raises(ShapeError, match=r"checkpoint up.weight is 16x8x3x3 but Caffe layer 'u' blob 0 \(weight\) "
                                         r"is 16x8x4x4 \(paired by order; if they are different layers, add a "
                                         r"--map entry\)"):
        fill(prototxt, checkpoint, tmp_path / "out.caffemodel", {"s": "head"})


def test_mapping_per_blob_with_transpose_and_null(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 2 dim: 6 }\n'
                        'layer { name: "ip_t" type: "InnerProduct" bottom: "x" top: "y"\n'
                        '  inner_product_param { num_output: 4 transpose: true bias_filler { type: "constant" '
                        'value: 0.5 } } }\n')
    torch.manual_seed(1)
    linear = nn.Linear(6, 4)
    checkpoint = tmp_path / "m.npz"
    np.savez(checkpoint, **{"proj.w": linear.weight.detach().numpy()})
    result = fill(prototxt, checkpoint, mapping={"ip_t": [{"key": "proj.w", "transform": "transpose"}, None]})
    np.testing.assert_array_equal(result.weights["ip_t"][0], linear.weight.detach().numpy().T)
    np.testing.assert_array_equal(result.weights["ip_t"][1], np.full(4, 0.5, np.float32))
    x = np.random.RandomState(0).standard_normal((2, 6)).astype(np.float32)
    out = purecaffe.run(str(prototxt), result.weights, {"x": x}).blobs["y"]
    expected = x @ linear.weight.detach().numpy().T + 0.5
    assert scale_error(out, expected) <= TOLERANCE


def test_auto_transpose_for_inner_product_transpose(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 2 dim: 6 }\n'
                        'layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"\n'
                        '  inner_product_param { num_output: 4 transpose: true } }\n')
    linear = nn.Linear(6, 4)
    checkpoint = tmp_path / "m.pth"
    torch.save(linear.state_dict(), checkpoint)
    with pytest.raises(MissingTensorError):  # keys are `weight`/`bias`: no module prefix to match by name
        fill(prototxt, checkpoint, by_order=False)
    result = fill(prototxt, checkpoint)
    assert [(m.source, m.transform) for m in result.matched] == [("order", "transpose"), ("order", "as_is")]
    np.testing.assert_array_equal(result.weights["fc"][0], linear.weight.detach().numpy().T)


def test_prelu_channel_shared_takes_a_one_element_weight(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
                        'layer { name: "act" type: "PReLU" bottom: "x" top: "x" '
                        'prelu_param { channel_shared: true } }\n')
    act = nn.PReLU()
    checkpoint = tmp_path / "m.pth"
    torch.save({"act.weight": torch.tensor([0.1])}, checkpoint)
    result = fill(prototxt, checkpoint)
    caffe_shape = purecaffe.infer_shapes(purecaffe.load_net(prototxt)).param_shapes["act"][0]
    assert act.weight.shape == (1,) and caffe_shape in ((), (1,))  # Caffe allocates (); see test_real_caffe
    assert result.weights["act"][0].shape == caffe_shape
    assert float(result.weights["act"][0].reshape(())) == pytest.approx(0.1)


def test_lstm_and_embed_gate_order_and_summed_biases(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(LSTM_PROTOTXT)
    torch.manual_seed(3)
    model = SeqModel().eval()
    checkpoint = tmp_path / "m.pth"
    torch.save(model.state_dict(), checkpoint)
    result = fill(prototxt, checkpoint, tmp_path / "net.caffemodel")
    by_blob = {(m.layer, m.index): m for m in result.matched}
    assert by_blob[("lstm", 1)].keys == ("lstm.bias_ih_l0", "lstm.bias_hh_l0")
    assert by_blob[("lstm", 1)].transform == "sum_lstm_gates"
    words, cont = lstm_inputs()
    out = purecaffe.run(str(prototxt), result.weights, {"words": words, "cont": cont}).blobs["out"]
    assert scale_error(out, lstm_reference(model, words)) <= TOLERANCE


LSTM_PROTOTXT = """\
input: "words" input_shape { dim: 5 dim: 2 }
input: "cont" input_shape { dim: 5 dim: 2 }
layer { name: "embed" type: "Embed" bottom: "words" top: "emb"
  embed_param { input_dim: 20 num_output: 6 bias_term: false } }
layer { name: "lstm" type: "LSTM" bottom: "emb" bottom: "cont" top: "h" recurrent_param { num_output: 7 } }
layer { name: "out" type: "InnerProduct" bottom: "h" top: "out" inner_product_param { num_output: 3 axis: 2 } }
"""


class SeqModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 7)
        self.out = nn.Linear(7, 3)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(words))
        return self.out(hidden)


def lstm_inputs() -> tuple[np.ndarray, np.ndarray]:
    words = np.random.RandomState(0).randint(0, 20, size=(5, 2)).astype(np.float32)
    cont = np.ones((5, 2), np.float32)
    cont[0] = 0  # a new sequence starts at t=0 (PyTorch's zero initial state)
    return words, cont


def lstm_reference(model: nn.Module, words: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(words.astype(np.int64))).numpy()


@pytest.mark.parametrize(("mapping", "error"), [
    ({"nope": "head"}, "<mapping>:nope: the net has no layer 'nope' with parameter blobs"),
    ({"score": "heda"}, "<mapping>:score: no checkpoint key starts with 'heda.'"),
    ({"score": ["head.weight"]}, "<mapping>:score: layer has 2 parameter blob(s) (weight, bias) but the "
                                 "mapping lists 1"),
    ({"score": ["head.weight", "head.bais"]}, "<mapping>:score: key 'head.bais' is not in the checkpoint"),
])
def test_mapping_errors_name_the_layer(project: dict[str, Path], tmp_path: Path, mapping: dict,
                                       error: str) -> None:
    output = tmp_path / "net.caffemodel"
    with pytest.raises(MappingError) as caught:
        fill(project["prototxt"], project["checkpoint"], output, mapping)
    assert str(caught.value) == error
    assert not output.exists()


def test_mapping_file_yaml(project: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("score: [head.weight\n")
    with pytest.raises(purecaffe.FormatError, match=r"bad.yaml:\d+:\d+: malformed YAML"):
        fill(project["prototxt"], project["checkpoint"], mapping=bad)
    per_blob = tmp_path / "per_blob.yaml"
    per_blob.write_text(MAPPING.replace("score: head", "score:\n  - head.weight\n  - {key: head.bias}\n"))
    assert fill(project["prototxt"], project["checkpoint"], mapping=per_blob).ok


def test_shared_params_are_copied_from_their_owner(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 4 }\n'
                        'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" param { name: "w" } '
                        'param { name: "b" } inner_product_param { num_output: 4 } }\n'
                        'layer { name: "b" type: "InnerProduct" bottom: "y" top: "z" param { name: "w" } '
                        'param { name: "b" } inner_product_param { num_output: 4 } }\n')
    linear = nn.Linear(4, 4)
    checkpoint = tmp_path / "m.pth"
    torch.save({f"a.{k}": v for k, v in linear.state_dict().items()}, checkpoint)
    result = fill(prototxt, checkpoint)
    assert [m.source for m in result.matched] == ["name", "name", "shared", "shared"]
    np.testing.assert_array_equal(result.weights["b"][0], linear.weight.detach().numpy())


def test_public_api_names() -> None:
    import purecaffe.manual

    assert purecaffe.fill is purecaffe.manual.fill and purecaffe.init_weights is purecaffe.manual.init_weights


def test_order_matching_says_where_it_stopped(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 3 dim: 5 dim: 5 }\n'
                        'layer { name: "c" type: "Convolution" bottom: "x" top: "y" '
                        'convolution_param { num_output: 4 kernel_size: 3 } }\n')
    checkpoint = tmp_path / "m.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 4, 3, bias=False)).state_dict(), checkpoint)
    result = fill(prototxt, checkpoint, strict=False)
    assert "matching by order stopped at Caffe layer 'c' (Convolution: bias, weight) and checkpoint module " \
           "'0' (weight)" in result.notes
    assert [(m.layer, m.role) for m in result.missing] == [("c", "weight"), ("c", "bias")]


def test_ssd_normalize_scale(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 6 dim: 3 dim: 3 }\n'
                        'layer { name: "conv4_3_norm" type: "Normalize" bottom: "x" top: "y" '
                        'norm_param { across_spatial: false channel_shared: false } }\n')
    weight = np.linspace(5, 20, 6).astype(np.float32)
    checkpoint = tmp_path / "m.npz"
    np.savez(checkpoint, **{"L2Norm.weight": weight})
    result = fill(prototxt, checkpoint, mapping={"conv4_3_norm": "L2Norm"})
    np.testing.assert_array_equal(result.weights["conv4_3_norm"][0], weight)
    x = np.random.RandomState(0).standard_normal((1, 6, 3, 3)).astype(np.float32)
    out = purecaffe.run(str(prototxt), result.weights, {"x": x}).blobs["y"]
    expected = x / np.sqrt((x.astype(np.float64) ** 2).sum(axis=1, keepdims=True)) * weight[None, :, None, None]
    assert scale_error(out, expected) <= TOLERANCE


def test_pspnet_bn_takes_a_whole_batchnorm(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 4 dim: 3 dim: 3 }\n'
                        'layer { name: "bn" type: "BN" bottom: "x" top: "y" bn_param { eps: 1e-5 } }\n')
    batch_norm = nn.BatchNorm2d(4)
    with torch.no_grad():
        batch_norm.running_mean.normal_(0, 0.5)
        batch_norm.running_var.uniform_(0.5, 2)
        batch_norm.weight.uniform_(0.5, 1.5)
        batch_norm.bias.normal_(0, 0.3)
    checkpoint = tmp_path / "m.pth"
    torch.save({f"bn.{k}": v for k, v in batch_norm.state_dict().items()}, checkpoint)
    result = fill(prototxt, checkpoint)
    assert [m.keys for m in result.matched] == [("bn.weight",), ("bn.bias",), ("bn.running_mean",),
                                                ("bn.running_var",)]
    x = np.random.RandomState(0).standard_normal((1, 4, 3, 3)).astype(np.float32)
    out = purecaffe.run(str(prototxt), result.weights, {"x": x}).blobs["y"]
    with torch.no_grad():
        expected = batch_norm.eval()(torch.from_numpy(x)).numpy()
    assert scale_error(out, expected) <= TOLERANCE


@pytest.mark.slow
def test_corpus_resnet50_prototxt_from_a_torchvision_style_state_dict(tmp_path: Path) -> None:
    """Kaiming He's ResNet-50 deploy prototxt filled from PyTorch module names: order + an 8-line mapping."""
    from corpus import model_dir
    from resnet_project import MAPPING, trained_resnet50

    prototxt = model_dir("resnet50") / "ResNet-50-deploy.prototxt"
    model = trained_resnet50()
    checkpoint = tmp_path / "resnet50.pth"
    torch.save(model.state_dict(), checkpoint)
    shapes = {"data": (1, 3, 224, 224)}
    with pytest.raises(ShapeError, match="Caffe layer 'res2a_branch1' blob 0 \\(weight\\) is 256x64x1x1 \\(paired "
                                         "by order"):
        fill(prototxt, checkpoint, input_shapes=shapes)  # the shortcut is registered last in PyTorch
    output = tmp_path / "resnet50.caffemodel"
    result = fill(prototxt, checkpoint, output, MAPPING, input_shapes=shapes)
    counts = {source: sum(m.source == source for m in result.matched) for source in ("name", "order", "mapping")}
    assert counts == {"name": 2, "order": 246, "mapping": 20}  # conv1 by name; 4 x (conv + BN + Scale) mapped
    x = np.random.RandomState(0).standard_normal(shapes["data"]).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    out = purecaffe.run(str(prototxt), str(output), {"data": x}, keep_steps=False).blobs["fc1000"]
    assert scale_error(out, expected) <= TOLERANCE


def test_fill_checks_the_target_before_reading_the_checkpoint(project: dict[str, Path], tmp_path: Path) -> None:
    """The Python API does what `purecaffe fill --target` does (the same as `purecaffe lint`)."""
    from purecaffe.errors import UnsupportedError

    prototxt = with_swish(project)
    output = tmp_path / "net.caffemodel"
    with pytest.raises(UnsupportedError) as caught:
        fill(prototxt, tmp_path / "not_read.pth", output, project["mapping"], target="caffe1")
    message = caught.value.one_line()
    assert message.startswith("1 layer(s) or field(s) the caffe1 target cannot take, nothing written "
                              f"(purecaffe lint {prototxt} --target caffe1): {prototxt}:")
    assert "caffe1 has no Swish layer" in message
    assert [f.finding.layer_type for f in caught.value.findings] == ["Swish"]  # type: ignore[attr-defined]
    assert not output.exists()
    assert fill(prototxt, project["checkpoint"], output, project["mapping"], target="bvlc").ok and output.is_file()


def test_fill_takes_the_target_from_the_sidecar(project: dict[str, Path], tmp_path: Path) -> None:
    import json

    from purecaffe.errors import UnsupportedError
    from purecaffe.targets import get_target

    prototxt = with_swish(project)
    prototxt.with_suffix(".purecaffe.json").write_text(
        json.dumps({"format": "purecaffe-sidecar", "tensors": [], "target": "caffe1"}))
    with pytest.raises(UnsupportedError, match="the caffe1 target cannot take"):
        fill(prototxt, project["checkpoint"], tmp_path / "net.caffemodel", project["mapping"])
    # A target given wins over the sidecar's; a Target object works as well as its name.
    assert fill(prototxt, project["checkpoint"], tmp_path / "net.caffemodel", project["mapping"],
                target=get_target("bvlc")).ok
