#!/usr/bin/env python3
"""Run one Caffe net on one bundle directory with real Caffe and record every layer.

This file runs INSIDE the verification system (Debian bullseye, Python 3.9,
`python3-caffe` = BVLC Caffe 1.0, CPU).  It uses only the standard library,
numpy and caffe.  purecaffe ships it as `purecaffe/data/caffe_runner.py`; the
Docker image `caffe-verify` has it as `/opt/purecaffe/caffe_runner.py`.

Usage:  python3 caffe_runner.py BUNDLE_DIR

Bundle (input):
  request.json   optional: {"prototxt": "net.prototxt", "caffemodel": "net.caffemodel" or null,
                            "inputs": "inputs.npz", "snapshots": true, "params": false}
                 Without it: the single *.prototxt, the single *.caffemodel (if any) and
                 inputs.npz (if any) in BUNDLE_DIR, snapshots on, params off.
  *.prototxt, *.caffemodel, inputs.npz (keys = net input names, float32 arrays; each input
                 blob is reshaped to its array's shape before the forward pass).

Bundle (output), written only when Caffe accepted the net:
  result.npz     arrays, uncompressed; which key holds what is listed in result.json:
                   blob:NAME             final value of every blob after the whole forward pass
                   after:I:LAYER:TOP     value of TOP right after layer I, stored only when a
                                         later layer rewrites TOP in place (otherwise the
                                         snapshot IS the final value and result.json points
                                         at blob:TOP; Split tops point at their bottom's key)
                   shape:NAME            int64 blob shape as Caffe reshaped it
                   paramshape:LAYER:J    int64 shape of parameter blob J as Caffe allocated it
                   param:LAYER:J         parameter values (only with "params": true)
  result.json    written last (its presence means success); "format": 1, "status": "ok" or
                 "error" (a Python-level problem such as unknown input names, with "error"),
                 "inputs", "outputs", "blobs" (name -> {"key", "shape"}, in Caffe's blob order),
                 "layers" (in order: index, name, type, bottoms, tops, "snapshots" top -> key,
                 "params" list of {"shape", "key"}), "timing".

When Caffe refuses the net it aborts the process (glog CHECK failure, SIGABRT) and
writes its reason to stderr; then there is no result.json and the caller reads stderr.
Set GLOG_minloglevel=1 to drop Caffe's INFO chatter.
"""
from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from typing import Any, Dict, List, Optional, Tuple



def avx2_coretype(cpuinfo: str = "/proc/cpuinfo") -> Optional[str]:
    """"Haswell" when the CPU has AVX2 and FMA, else None (also when /proc is not mounted).

    purecaffe.realcaffe.process.openblas_coretype() is the same rule on the host side: it
    passes the value in for the chroot, which has no /proc.
    """
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return "Haswell" if {"avx2", "fma"} <= set(line.split(":", 1)[1].split()) else None
    except OSError:
        pass
    return None


# Before numpy and caffe load OpenBLAS and glog.  OpenBLAS 0.3.13 (DYNAMIC_ARCH) rounds
# differently single-threaded; 2 threads (what the corpus references were made with) and more
# agree bit for bit, so pin it: results must not depend on the host's core count.  It also
# picks its kernels from the CPU (SkylakeX on an AVX-512 CPU, Haswell on an AVX2 one), and
# those round differently (~1e-6 of scale), so pin the Haswell kernels wherever the CPU can
# run them: the corpus references were made with them, and any AVX2 machine reproduces them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
if "OPENBLAS_CORETYPE" not in os.environ and avx2_coretype():
    os.environ["OPENBLAS_CORETYPE"] = avx2_coretype() or ""
os.environ.setdefault("GLOG_minloglevel", "1")

import numpy as np  # noqa: E402

FORMAT = 1
REQUEST = "request.json"
RESULT_JSON = "result.json"
RESULT_NPZ = "result.npz"

Record = Dict[str, Any]


def _single(bundle: str, suffix: str, required: bool) -> Optional[str]:
    found = sorted(n for n in os.listdir(bundle) if n.endswith(suffix))
    if len(found) == 1:
        return found[0]
    if not found and not required:
        return None
    raise ValueError("expected exactly one *%s in %s, found %s" % (suffix, bundle, found or "none"))


def read_request(bundle: str) -> Record:
    path = os.path.join(bundle, REQUEST)
    if os.path.exists(path):
        with open(path) as handle:
            request = json.load(handle)
    else:
        request = {
            "prototxt": _single(bundle, ".prototxt", True),
            "caffemodel": _single(bundle, ".caffemodel", False),
            "inputs": "inputs.npz" if os.path.exists(os.path.join(bundle, "inputs.npz")) else None,
        }
    request.setdefault("caffemodel", None)
    request.setdefault("inputs", None)
    request.setdefault("snapshots", True)
    request.setdefault("params", False)
    return request


class NpzWriter:
    """Writes arrays one at a time into an .npz (a zip of .npy files), so memory stays flat."""

    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.keys = set()  # type: set

    def put(self, key: str, array: Any) -> str:
        if key in self.keys:
            raise ValueError("duplicate result key %r" % key)
        self.keys.add(key)
        with self.zip.open(key + ".npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)
        return key

    def close(self) -> None:
        self.zip.close()


def load_inputs(bundle: str, request: Record) -> Dict[str, Any]:
    if not request["inputs"]:
        return {}
    with np.load(os.path.join(bundle, request["inputs"]), allow_pickle=False) as data:
        return {key: np.ascontiguousarray(data[key], dtype=np.float32) for key in data.files}


def feed_inputs(net: Any, inputs: Dict[str, Any]) -> None:
    """Reshape each input blob to its array, reshape the net, then copy the values in."""
    unknown = sorted(set(inputs) - set(net.blobs.keys()))
    if unknown:
        raise ValueError("inputs %s are not blobs of the net (net inputs: %s)" % (unknown, list(net.inputs)))
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
    net.reshape()
    for name, value in inputs.items():
        net.blobs[name].data[...] = value


def last_writers(net: Any) -> Dict[int, int]:
    """blob index -> index of the last layer that has it as a top."""
    last = {}
    for index in range(len(net.layers)):
        for blob in net._top_ids(index):
            last[blob] = index
    return last


def forward_layer_by_layer(net: Any, writer: NpzWriter, snapshots: bool) -> Tuple[List[Record], Dict[int, str]]:
    """Run layer i alone (ForwardFromTo(i, i)) for every i, keeping each top's value after it.

    A top's value after layer i is stored as after:I:LAYER:TOP only when a later
    layer rewrites that blob in place; otherwise it is the blob's final value and the
    record points at blob:TOP.  Returns the layer records and blob index -> final key.
    """
    blob_names = list(net._blob_names)
    layer_names = list(net._layer_names)
    last = last_writers(net)
    current = {}  # type: Dict[int, str]
    records = []
    for index, layer in enumerate(net.layers):
        net._forward(index, index)
        bottoms = list(net._bottom_ids(index))
        tops = list(net._top_ids(index))
        record = {
            "index": index,
            "name": layer_names[index],
            "type": layer.type,
            "bottoms": [blob_names[b] for b in bottoms],
            "tops": [blob_names[t] for t in tops],
            "snapshots": {},
        }
        for top in tops:
            name = blob_names[top]
            key = None
            if last[top] == index:
                key = "blob:" + name
                source = current.get(bottoms[0]) if layer.type == "Split" and bottoms else None
                if source is not None and source.startswith("blob:"):
                    key = source  # a Split top shares its bottom's data, which is final by now
            elif snapshots:
                key = writer.put("after:%d:%s:%s" % (index, layer_names[index], name),
                                 np.array(net._blobs[top].data, copy=True))
            if key is not None:
                current[top] = key
                record["snapshots"][name] = key
        records.append(record)
    return records, current


def final_blobs(net: Any, writer: NpzWriter, current: Dict[int, str]) -> Dict[str, Record]:
    """Store every blob's final value and shape; name -> {"key", "shape"}."""
    index_of = {name: i for i, name in enumerate(net._blob_names)}
    blobs = {}
    for index, name in enumerate(net._blob_names):
        key = current.get(index, "blob:" + name)
        if key not in writer.keys:
            source = index_of[key[len("blob:"):]]
            writer.put(key, np.array(net._blobs[source].data, copy=True))
        shape = [int(d) for d in net._blobs[index].data.shape]
        writer.put("shape:" + name, np.array(shape, dtype=np.int64))
        blobs[name] = {"key": key, "shape": shape}
    return blobs


def record_params(net: Any, writer: NpzWriter, with_values: bool) -> List[List[Record]]:
    """Per layer: its parameter blobs' shapes as Caffe allocated them (and values on request)."""
    layer_names = list(net._layer_names)
    per_layer = []
    for index, layer in enumerate(net.layers):
        params = []
        for j, blob in enumerate(layer.blobs):
            shape = [int(d) for d in blob.shape]
            tag = "%s:%d" % (layer_names[index], j)
            if "paramshape:" + tag not in writer.keys:
                writer.put("paramshape:" + tag, np.array(shape, dtype=np.int64))
            entry = {"shape": shape, "key": None}
            if with_values and "param:" + tag not in writer.keys:
                entry["key"] = writer.put("param:" + tag, np.array(blob.data, copy=True))
            params.append(entry)
        per_layer.append(params)
    return per_layer


def write_json(bundle: str, result: Record) -> None:
    tmp = os.path.join(bundle, RESULT_JSON + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=1)
    os.replace(tmp, os.path.join(bundle, RESULT_JSON))


def run(bundle: str) -> int:
    started = time.time()
    request = read_request(bundle)
    import caffe

    caffe.set_mode_cpu()
    inputs = load_inputs(bundle, request)
    prototxt = os.path.join(bundle, request["prototxt"])
    if request["caffemodel"]:
        net = caffe.Net(prototxt, caffe.TEST, weights=os.path.join(bundle, request["caffemodel"]))
    else:
        net = caffe.Net(prototxt, caffe.TEST)
    loaded = time.time()
    result = {
        "format": FORMAT,
        "status": "ok",
        "error": None,
        "caffe": getattr(caffe, "__version__", "unknown"),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "request": request,
        "inputs": list(net.inputs),
        "outputs": list(net.outputs),
    }  # type: Record
    try:
        feed_inputs(net, inputs)
    except ValueError as error:
        result["status"] = "error"
        result["error"] = str(error)
        write_json(bundle, result)
        return 1
    tmp_npz = os.path.join(bundle, RESULT_NPZ + ".tmp")
    writer = NpzWriter(tmp_npz)
    try:
        records, current = forward_layer_by_layer(net, writer, bool(request["snapshots"]))
        forwarded = time.time()
        result["blobs"] = final_blobs(net, writer, current)
        for record, params in zip(records, record_params(net, writer, bool(request["params"]))):
            record["params"] = params
        result["layers"] = records
    finally:
        writer.close()
    os.replace(tmp_npz, os.path.join(bundle, RESULT_NPZ))
    result["timing"] = {"load_s": loaded - started, "forward_s": forwarded - loaded,
                        "total_s": time.time() - started}
    write_json(bundle, result)
    return 0


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: caffe_runner.py BUNDLE_DIR\n")
        return 2
    return run(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
