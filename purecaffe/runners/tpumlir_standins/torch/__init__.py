"""purecaffe's stand-in for the few torch calls tpu-mlir's tools make (see the folder's __init__)."""
from __future__ import annotations

import numpy as np


class tensor:  # noqa: N801  spelled as torch.tensor, the only constructor tpu-mlir calls
    """`torch.tensor(array)` as tpu-mlir uses it: `.permute(order)`, `.numpy()`, `np.array(...)`."""

    def __init__(self, value: object) -> None:
        self.value = np.asarray(value)

    def permute(self, *order: object) -> "tensor":
        if len(order) == 1 and isinstance(order[0], (list, tuple)):
            order = tuple(order[0])
        return tensor(np.transpose(self.value, order))

    def numpy(self) -> np.ndarray:
        return self.value

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.value if dtype is None else self.value.astype(dtype)


def __getattr__(name: str) -> object:
    raise AttributeError(f"purecaffe's torch stand-in for tpu-mlir has no {name!r}: only torch.tensor(x) with "
                         f".permute() and .numpy() (tpu-mlir used more of torch than measured)")
