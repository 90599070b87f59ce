#!/usr/bin/env bash
# Install ipyckpt with JupyterLab (and its JupyterLab extension, built here: needs Node 20) into
# .venv and open JupyterLab on the tutorials.
# This is the README's launch command.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
bash dev/build-extension.sh lab
exec .venv/bin/jupyter lab --notebook-dir=tutorials "$@"
