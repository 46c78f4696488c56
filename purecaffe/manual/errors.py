"""Errors of the manual path; each carries the `FillResult` report when there is one."""
from __future__ import annotations

from purecaffe.errors import PurecaffeError


class MissingTensorError(PurecaffeError):
    """A Caffe parameter blob has no checkpoint tensor (and was not allowed to keep its filler)."""


class UnusedTensorError(PurecaffeError):
    """A checkpoint tensor feeds no Caffe blob (and was not allowed to be left out)."""


class MappingError(PurecaffeError):
    """A mapping file names a layer or key that does not exist, or lists the wrong number of blobs."""
