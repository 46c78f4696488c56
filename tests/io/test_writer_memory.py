"""`ConvertedNet.save` streams the weights: convert + save hold no second copy of them.

The blobs of a converted net share memory with the model's parameters (`converter.weights.caffe_blob`)
and the caffemodel writer writes each blob's bytes straight from them (`io.caffemodel.write_caffemodel`).
Measured in a fresh process on a model of 150 MB of weights, after one warm-up conversion (so the
first-use imports of torch.export are done): the peak RSS of convert, then of save, may grow by at
most 5% of the weights plus 16 MB (torch.export's tracing state and the allocators' slack; a copy of
one weight matrix alone is 64 MB, of all the weights 150 MB).  Measured here: 2 MB for convert,
0.01 MB for save.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import purecaffe
from purecaffe.examples.tiny_resnet import tiny_resnet
from purecaffe.io.weights import load_weights

CHILD = r'''
import gc, json, sys, tempfile
import torch
from torch import nn
import purecaffe

def peak_and_now():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) * 1024, int(status["VmRSS"].split()[0]) * 1024

def reset_peak():
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                      nn.Linear(4096, 1000)).eval()
purecaffe.convert(nn.Sequential(nn.Linear(4, 4)).eval(), torch.randn(1, 4))
gc.collect()
reset_peak()
_, before = peak_and_now()
net = purecaffe.convert(model, torch.randn(1, 4096), name="mlp")
convert_peak, after = peak_and_now()
reset_peak()
with tempfile.TemporaryDirectory() as folder:
    net.save(folder + "/mlp")
    save_peak, _ = peak_and_now()
print(json.dumps({"weights": sum(p.numel() * 4 for p in model.parameters()),
                  "convert": convert_peak - before, "save": save_peak - after}))
'''

SLACK = 16 * 2**20
SHARE = 0.05


def test_convert_and_save_hold_no_copy_of_the_weights() -> None:
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600, check=True,
                          env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    grown = json.loads(done.stdout.strip().splitlines()[-1])
    bound = SHARE * grown["weights"] + SLACK
    assert grown["convert"] <= bound, grown
    assert grown["save"] <= bound, grown


def test_the_streamed_caffemodel_is_the_message_protobuf_would_build(tmp_path: Path) -> None:
    """What real Caffe reads: the generated bindings parse the streamed file into exactly the NetParameter
    built the whole-message way from the same layers and blobs, of the same byte count."""
    torch.manual_seed(0)
    model = tiny_resnet().eval()
    net = purecaffe.convert(model, torch.randn(1, 3, 32, 32), name="tiny")
    files = net.save(tmp_path / "tiny")
    schema = purecaffe.load_schema()
    expected = schema.NetParameter(name=net.net.name)
    for layer in net.net.layer:
        built = expected.layer.add(name=layer.name, type=layer.type, bottom=list(layer.bottom), top=list(layer.top))
        for blob in net.weights.get(layer.name, []):
            built.blobs.add(shape=schema.BlobShape(dim=list(blob.shape)), data=np.asarray(blob).ravel().tolist())
    data = files.caffemodel.read_bytes()
    assert schema.NetParameter.FromString(data) == expected
    assert len(data) == len(expected.SerializeToString())
    assert any(net.weights.values())
    read_back = load_weights(files.caffemodel)
    assert all(np.array_equal(a, b) for name, blobs in net.weights.items() for a, b in zip(blobs, read_back[name]))
