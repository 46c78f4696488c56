"""Real-Caffe tests: the session fixture comes from tests/caffe_backend.py."""
from caffe_backend import real_caffe_backend  # noqa: F401
