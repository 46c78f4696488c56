"""RKNN judge tests: the session fixture comes from tests/rknn_judge.py."""
from rknn_judge import rknn_venv  # noqa: F401
