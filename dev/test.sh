#!/usr/bin/env bash
# Install everything the test suite needs into .venv (and Debian's Chromium for the browser
# tests, when run as root), build the JupyterLab extension, then run linters, type checks and
# all tests: jest for the extension, pytest for the rest (real kernels, jupyter_server, a real
# `jupyter lab` in headless Chromium, the wheel installed without Node).
# This is the README's test command; .ci/run runs exactly this. Needs Python 3.11+ and Node 20.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== apt-get install chromium (browser tests; never a browser download)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
echo "== JupyterLab extension: jlpm install, build; pip install -e .[dev]"
bash dev/build-extension.sh dev

echo "== prettier, eslint, jest"
(
    cd labextension
    export PATH="$PWD/../.venv/bin:$PATH"
    jlpm prettier:check
    jlpm eslint:check
    jlpm test
)
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import layers (lint-imports; contracts in pyproject.toml)"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest "$@"
