"""Net inputs from an `.npz`: the one reader of `verify --inputs` and `verify-caffe --inputs`.

One array per net input, named after the input blob (`np.savez("x.npz", data=x)`); keys written
`input:NAME` (as the corpus' reference.npz files hold them) are read as `NAME`, and then only
those.  Given the net's input names, in order:

* every name is in the file: those arrays, in the net's order; any other array is an error
  (a misspelt second input would otherwise be left out);
* otherwise, exactly as many arrays as inputs: the file's arrays in the file's order (so a
  single input may be saved under any name);
* otherwise an error naming what the net takes and what the file holds.

Arrays must be numeric (bool, integer or float) and are returned as C-contiguous float32;
pickled objects are refused, never loaded.  Every problem is one `FormatError` naming the file.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from purecaffe.errors import FormatError

PathLike = str | os.PathLike[str]
PREFIX = "input:"


def read_inputs_npz(path: PathLike, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """{input blob name: float32 array} from `path`; with `names` (the net's inputs), by the rules above."""
    arrays = _arrays(path)
    if not names:
        return arrays
    if all(name in arrays for name in names):
        extra = [key for key in arrays if key not in names]
        if extra:
            what = (f"array {extra[0]} is not an input" if len(extra) == 1
                    else f"arrays {', '.join(extra)} are not inputs")
            raise FormatError(f"{what} of the net (its inputs: {', '.join(names)})", path=path)
        return {name: arrays[name] for name in names}
    if len(arrays) == len(names):
        return dict(zip(names, arrays.values()))
    raise FormatError(f"expected arrays named {', '.join(names)} (or {len(names)} array"
                      f"{'s' if len(names) != 1 else ''} in input order), found {', '.join(arrays) or 'none'}",
                      path=path)


def _arrays(path: PathLike) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise FormatError("inputs file not found", path=path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:  # numpy's refusal of a pickle, or not an array file at all
        raise FormatError(f"not an .npz of plain arrays ({error})", path=path) from None
    except OSError as error:
        raise FormatError(f"not a readable .npz ({error})", path=path) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FormatError("not an .npz of named arrays (np.savez(path, data=x)), but a single .npy array", path=path)
    with archive:
        try:
            arrays = {key: archive[key] for key in archive.files}
        except ValueError as error:  # a member holding pickled objects
            raise FormatError(f"not an .npz of plain arrays ({error})", path=path) from None
    prefixed = {key[len(PREFIX):]: value for key, value in arrays.items() if key.startswith(PREFIX)}
    arrays = prefixed or arrays
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise FormatError(f"array {key} is {value.dtype}, not numbers", path=path)
    return {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in arrays.items()}
