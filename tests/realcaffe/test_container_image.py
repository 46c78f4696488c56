"""Pure helpers of the container route: the Dockerfile's base image, and OpenBLAS pinning for both routes."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe import process
from purecaffe.realcaffe.assets import runner_path
from purecaffe.realcaffe.image import assets_digest, base_image, debian_suite_of, qualified

AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n"
AVX_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx\n"


def test_the_base_is_the_dockerfiles_from_fully_qualified() -> None:
    assert base_image() == "docker.io/library/debian:bullseye-slim"
    assert debian_suite_of(base_image()) == "bullseye"
    assert base_image("# x\nFROM debian:bullseye AS build\n") == "docker.io/library/debian:bullseye"


@pytest.mark.parametrize(("reference", "expected"), [
    ("debian:bullseye-slim", "docker.io/library/debian:bullseye-slim"),
    ("me/caffe:1", "docker.io/me/caffe:1"),
    ("quay.io/me/caffe:1", "quay.io/me/caffe:1"),
    ("localhost/caffe-verify", "localhost/caffe-verify"),
])
def test_qualified(reference: str, expected: str) -> None:
    assert qualified(reference) == expected


def test_a_base_of_another_release_is_refused() -> None:
    with pytest.raises(BackendUnavailableError, match="is not Debian bullseye"):
        debian_suite_of("docker.io/library/debian:bookworm-slim")


def test_assets_digest_is_stable() -> None:
    assert assets_digest() == assets_digest() and len(assets_digest()) == 12


def _runner_avx2_coretype():  # type: ignore[no-untyped-def]  # importing the runner would set os.environ
    source = runner_path().read_text()
    start = source.index("def avx2_coretype")
    namespace: dict = {}
    exec("from typing import Optional\n" + source[start:source.index("\n\n\n", start)], namespace)
    return namespace["avx2_coretype"]


@pytest.mark.parametrize(("cpuinfo", "expected"), [(AVX512, "Haswell"), (AVX_ONLY, None)])
def test_host_and_runner_pin_the_same_openblas_kernels(cpuinfo: str, expected: str | None,
                                                       tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(cpuinfo)
    assert process.openblas_coretype(str(tmp_path / "cpuinfo")) == expected
    assert _runner_avx2_coretype()(str(tmp_path / "cpuinfo")) == expected
    assert process.openblas_coretype(str(tmp_path / "missing")) is None


def test_the_hosts_openblas_settings_do_not_reach_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "123")
    monkeypatch.setattr(process, "openblas_coretype", lambda: "Haswell")
    env = process.runner_env("/root")
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and "OPENBLAS_L2_SIZE" not in env
