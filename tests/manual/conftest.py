"""tests/manual: helpers beside these tests (manual_project.py) import by name; real Caffe's fixture."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from caffe_backend import real_caffe_backend  # noqa: E402,F401  (the session fixture for test_real_caffe.py)
