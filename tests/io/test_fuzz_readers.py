"""Every reader, fed thousands of mutated files, either parses or raises a PurecaffeError, nothing else.

The mutation engine and the seed files are in `tests/fuzzing.py` (also driven by
`benchmarks/fuzz_readers.py` for 100,000+ inputs per reader).  The seeds are
made here, a few hundred bytes each, so 2,000 inputs per reader take seconds.
"""
from __future__ import annotations

import collections
import warnings
from pathlib import Path

import pytest
from fuzzing import BY_NAME, READERS, Reader, mutated_input, try_input

INPUTS_PER_READER = 2000
RUN_SEED = 11


@pytest.mark.parametrize("name", [reader.name for reader in READERS])
def test_every_mutated_input_parses_or_is_a_purecaffe_error(tmp_path: Path, name: str) -> None:
    reader = BY_NAME[name]
    seed = reader.seed(tmp_path)
    target = tmp_path / f"input{reader.suffix}"
    assert try_input(reader, target, seed, -1).outcome == "parsed", "the unmutated seed must parse"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch and numpy warn about odd pickle protocols and dtypes
        verdicts = [try_input(reader, target, mutated_input(seed, name, RUN_SEED, i), i)
                    for i in range(INPUTS_PER_READER)]
    crashes = [f"input {v.index}: {v.detail}" for v in verdicts if v.outcome == "crash"]
    assert crashes == []
    outcomes = collections.Counter(v.outcome for v in verdicts)
    # The mutations must reach the reader's checks: most inputs are refused, a few still parse.
    assert outcomes["refused"] >= INPUTS_PER_READER // 2 and outcomes["parsed"] >= 1, outcomes


def test_the_harness_reports_anything_but_a_purecaffe_error_as_a_crash(tmp_path: Path) -> None:
    def read(path: Path) -> None:
        if path.read_bytes().startswith(b"x"):
            raise IndexError("list index out of range")

    reader = Reader("broken", ".bin", lambda folder: b"x", read)
    verdict = try_input(reader, tmp_path / "a.bin", b"xyz", 3)
    assert verdict == type(verdict)(3, "crash", "IndexError: list index out of range")
    assert try_input(reader, tmp_path / "a.bin", b"abc", 4).outcome == "parsed"


def test_mutations_are_seeded() -> None:
    seed = BY_NAME["prototxt"].seed(Path("."))
    assert mutated_input(seed, "prototxt", 5, 17) == mutated_input(seed, "prototxt", 5, 17)
    assert len({mutated_input(seed, "prototxt", 5, i) for i in range(50)}) > 40
