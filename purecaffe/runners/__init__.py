"""The judges' runner scripts, each run by its judge's venv python as `python run_X.py JOB_DIR`.

Never imported by purecaffe: they live in other venvs (other numpy, protobuf, Python versions)
and import only the standard library, numpy, their toolchain and `jobio` beside them.
"""
