"""The container route for real: the image built from docker/Dockerfile, run by docker or podman.

The README's bundle command runs on converted ResNet- and MobileNetV2-style nets, and every
layer's tops must equal the rootfs route's (both routes pin OpenBLAS's threads and kernels, so
they are bit-identical; the acceptance bound is 1e-5 of each blob's scale).  Without a container
engine these tests skip locally and fail under CI=true (scripts/test.sh installs podman and runc
when root).  Under CI the image store is `$PURECAFFE_CONTAINER_STORE`, inside the clone.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import purecaffe
from converter.zoo import ZOO
from corpus import unavailable
from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe import Backend, CaffeRun, ContainerEngine, DockerBackend, find_engine, resolve_backend
from purecaffe.realcaffe import run_real_caffe
from purecaffe.realcaffe.docker import bundle_command, default_image
from purecaffe.realcaffe.image import ensure_image
from purecaffe.realcaffe.result import read_bundle_result

pytestmark = [pytest.mark.real_caffe, pytest.mark.slow]
log = logging.getLogger(__name__)

RELATIVE_TOLERANCE = 1e-5
"""The acceptance bound between the routes; measured: 0 (bit-identical) once both pin OpenBLAS."""


def _unavailable(what: str, error: BackendUnavailableError) -> None:
    unavailable(f"{what} is not available: {error.one_line()}")


@pytest.fixture(scope="session")
def container_engine() -> ContainerEngine:
    """An engine that answers, with the image built (from docker/Dockerfile) when it was missing."""
    try:
        engine = find_engine()
        ensure_image(engine, default_image())
    except BackendUnavailableError as error:
        _unavailable("the container route", error)
    log.warning("container route: %s", engine.describe())
    return engine


@pytest.fixture(scope="session")
def rootfs_route() -> Backend:
    try:
        return resolve_backend("rootfs", rootfs_dir=os.environ.get("PURECAFFE_ROOTFS_DIR") or None)
    except BackendUnavailableError as error:
        _unavailable("the rootfs route", error)
        raise


def _readme_bundle(engine: ContainerEngine, bundle: Path) -> subprocess.CompletedProcess[bytes]:
    """README: docker run --rm --network none --user "$(id -u):$(id -g)" -v "$PWD/out:/bundle" caffe-verify."""
    return subprocess.run(bundle_command(engine, bundle, default_image()), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=600, check=False)


def _worst_difference(container: CaffeRun, rootfs: CaffeRun) -> tuple[float, int]:
    """The largest |container - rootfs| over every layer's tops, relative to that top's scale; and the count."""
    expected = {(layer.index, top): value for layer, top, value in rootfs.snapshots()}
    worst, count = 0.0, 0
    for layer, top, value in container.snapshots():
        reference = expected.pop((layer.index, top))
        assert value.shape == reference.shape, (layer.name, top)
        scale = max(float(np.max(np.abs(reference))), 1e-30) if reference.size else 1.0
        difference = float(np.max(np.abs(value.astype(np.float64) - reference))) / scale if value.size else 0.0
        assert difference <= RELATIVE_TOLERANCE, f"{layer.name}/{top}: {difference:.3g} of its scale"
        worst, count = max(worst, difference), count + 1
    assert not expected, f"tops only the rootfs route has: {sorted(expected)[:5]}"
    return worst, count


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_readme_bundle_command_matches_the_rootfs_route(name: str, container_engine: ContainerEngine,
                                                        rootfs_route: Backend, tmp_path: Path) -> None:
    model, (x,) = ZOO[name]()
    files = purecaffe.convert(model, (x,), input_names=["data"]).save(tmp_path / name)
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(files.prototxt, out / "net.prototxt")
    shutil.copyfile(files.caffemodel, out / "net.caffemodel")
    inputs = {"data": x.numpy()}
    np.savez(out / "inputs.npz", **inputs)
    done = _readme_bundle(container_engine, out)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    container = read_bundle_result(out, backend="docker", returncode=done.returncode,
                                   stderr=done.stderr.decode("utf-8", "replace"), seconds=0.0)
    rootfs = run_real_caffe(files.prototxt, files.caffemodel, inputs, backend=rootfs_route)
    assert container.ok and rootfs.ok, container.error or rootfs.error
    worst, count = _worst_difference(container, rootfs)
    log.warning("%s: %d layer tops, container vs rootfs worst difference %.3g of scale", name, count, worst)
    print(f"{name}: {count} layer tops, container vs rootfs worst difference {worst:.3g} of scale")
    assert worst == 0.0, "within tolerance but not bit-identical: OpenBLAS threads or kernels differ"


def test_caffe_refusal_reaches_the_user_as_data(container_engine: ContainerEngine, tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\ninput: "data"\ninput_shape { dim: 1 dim: 1 dim: 2 dim: 2 }\n'
                        'layer { name: "odd" type: "NoSuchLayer" bottom: "data" top: "odd" }\n')
    run = run_real_caffe(prototxt, None, {"data": np.ones((1, 1, 2, 2), np.float32)},
                         backend=DockerBackend(engine=container_engine))
    assert not run.ok and "Unknown layer type: NoSuchLayer" in (run.error or "")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(prototxt, bundle / "net.prototxt")
    done = _readme_bundle(container_engine, bundle)
    assert done.returncode != 0 and not (bundle / "result.json").exists()
    assert "Unknown layer type: NoSuchLayer" in done.stderr.decode("utf-8", "replace")


def test_a_missing_image_is_a_one_line_error_saying_how_to_build_it(container_engine: ContainerEngine) -> None:
    with pytest.raises(BackendUnavailableError) as raised:
        DockerBackend("localhost/purecaffe-no-such-image", build=False, engine=container_engine)
    message = raised.value.one_line()
    assert "\n" not in message and "purecaffe caffe-image" in message
    assert f"{container_engine.name} build -t localhost/purecaffe-no-such-image docker/" in message
