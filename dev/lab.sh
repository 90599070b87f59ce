#!/usr/bin/env bash
# Install ipyckpt with JupyterLab into .venv and open JupyterLab on the tutorials.
# This is the README's launch command.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[lab]"
exec .venv/bin/jupyter lab --notebook-dir=tutorials "$@"
