# Sourced by setup.sh, example.sh and test.sh: picks the Python they use and exports PYTHON.
#
# $PYTHON (default python3) is used as it is, unless it is a system Python marked
# externally managed (PEP 668, e.g. Debian's /usr/bin/python3) and not already a
# virtual environment: pip refuses to install into it, so a virtual environment
# .venv in the repository is created once and used instead.
PYTHON="${PYTHON:-python3}"
if "$PYTHON" - <<'PY'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and not in_venv else 1)
PY
then
    if [ ! -x .venv/bin/python ]; then
        echo "$PYTHON is externally managed (PEP 668): creating a virtual environment in .venv" >&2
        "$PYTHON" -m venv .venv || {
            echo "cannot create .venv: install the venv module (Debian: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    PYTHON="$PWD/.venv/bin/python"
fi
export PYTHON
