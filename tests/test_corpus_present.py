"""The shared corpus must be there: a skip with the reason locally, a failure under CI=true."""
from __future__ import annotations

from corpus import corpus_dir, manifest


def test_corpus_is_present() -> None:
    assert (corpus_dir() / "models").is_dir()
    assert len(manifest()) == 19
