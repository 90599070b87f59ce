#!/usr/bin/env bash
# Build the JupyterLab extension (labextension/ -> ipyckpt/labextension/) with jlpm from the
# jupyterlab in .venv, then install ipyckpt editable without build isolation so the fresh build
# lands in .venv/share/jupyter/labextensions/ipyckpt. Needs Node >= 20 on PATH.
# Usage (from dev/test.sh and dev/lab.sh): bash dev/build-extension.sh EXTRAS
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-dev}
export PATH="$PWD/.venv/bin:$PATH"

quiet() {  # run quietly; print the output only when the command fails
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

command -v node >/dev/null || {
    echo "Node.js (>= 20) is needed to build the JupyterLab extension: apt-get install nodejs" >&2
    exit 1
}
# the build requirements of pyproject.toml, installed once into .venv
python -m pip install --quiet "hatchling>=1.21" "hatch-jupyter-builder>=0.9" "jupyterlab>=4.2,<5" editables
(
    cd labextension
    quiet jlpm install --immutable
    quiet jlpm build:prod
)
python -m pip install --quiet --no-build-isolation -e ".[$EXTRAS]"
