"""The shared fixture: resolved once per process; skips locally, fails under CI=true."""
from __future__ import annotations

import pytest

import caffe_backend
from purecaffe.errors import BackendUnavailableError


@pytest.fixture
def no_backend(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def resolve(name: str, rootfs_dir: str | None = None) -> None:
        calls.append(name)
        raise BackendUnavailableError("no Docker, not root")

    monkeypatch.setattr(caffe_backend.REAL_CAFFE, "resolution", None)
    monkeypatch.setattr(caffe_backend, "resolve_backend", resolve)
    monkeypatch.delenv(caffe_backend.BACKEND_ENV, raising=False)
    monkeypatch.setattr(caffe_backend, "is_root", lambda: False)
    return calls


def test_skips_locally_with_the_reason_and_resolves_once(no_backend: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    for _ in range(3):
        with pytest.raises(pytest.skip.Exception, match="real Caffe is not available: no Docker, not root"):
            caffe_backend.get_real_caffe_backend()
    assert no_backend == ["auto"]


def test_fails_under_ci(no_backend: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI=true"):
        caffe_backend.get_real_caffe_backend()


def test_root_defaults_to_the_rootfs_route(no_backend: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caffe_backend, "is_root", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        caffe_backend.get_real_caffe_backend()
    assert no_backend == ["rootfs"]
