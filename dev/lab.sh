#!/usr/bin/env bash
# Install ipyckpt with JupyterLab (and its JupyterLab extension, built here: needs Node 20) into
# .venv and open JupyterLab on the tutorials. This is the README's launch command.
#
#   bash dev/lab.sh [JUPYTER LAB ARGUMENTS...]   e.g. --port 9999 --no-browser --ip 0.0.0.0
#
# - The extension is rebuilt and ipyckpt re-installed only when their sources changed (a stamp
#   in .venv over labextension/, pyproject.toml and the build script); FORCE_BUILD=1 forces it.
# - As root (a container), --allow-root is passed to jupyter lab unless you gave it.
# - Once the server answers, one line says where JupyterLab listens (with its token).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STAMP=.venv/.ipyckpt-lab-build

sources_digest() {
    {
        echo "extras=lab"
        find labextension/src labextension/schema labextension/style -type f -print0 |
            sort -z | xargs -0 sha256sum
        sha256sum labextension/package.json labextension/yarn.lock labextension/tsconfig.json \
            pyproject.toml dev/build-extension.sh
    } | sha256sum | cut -d' ' -f1
}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
digest=$(sources_digest)
if [ "${FORCE_BUILD:-0}" != 1 ] && [ -x .venv/bin/jupyter ] &&
    [ -f ipyckpt/labextension/static/style.js ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$digest" ]; then
    echo "== JupyterLab extension up to date (FORCE_BUILD=1 bash dev/lab.sh rebuilds it)"
else
    echo "== installing ipyckpt[lab] into .venv and building the JupyterLab extension"
    .venv/bin/python -m pip install --quiet --upgrade pip
    bash dev/build-extension.sh lab
    echo "$digest" >"$STAMP"
fi

args=("$@")
if [ "$(id -u)" = 0 ] && [[ " $* " != *" --allow-root "* ]]; then
    echo "== running as root: passing --allow-root to jupyter lab"
    args+=(--allow-root)
fi

# Say where the server listens once it answers (jupyter's own log scrolls it away).
server_pid=$$ # exec below makes jupyter lab this process
(
    for _ in $(seq 1 240); do
        url=$(.venv/bin/python - "$server_pid" 2>/dev/null <<'EOF'
import json, subprocess, sys
out = subprocess.run([sys.executable, "-m", "jupyter_server", "list", "--json"],
                     capture_output=True, text=True).stdout
for line in out.splitlines():
    server = json.loads(line)
    if server.get("pid") == int(sys.argv[1]):
        token = f"?token={server['token']}" if server.get("token") else ""
        print(f"{server['url'].rstrip('/')}/lab/tree/01-first-checkpoint.ipynb{token}")
        break
EOF
        )
        if [ -n "$url" ]; then
            echo "== JupyterLab listens on $url" >&2
            exit 0
        fi
        sleep 0.5
    done
) &
exec .venv/bin/jupyter lab --notebook-dir=tutorials "${args[@]}"
