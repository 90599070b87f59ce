"""The comm protocol has one source: the kernel and the JupyterLab extension agree on it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ipyckpt.kernel import comm

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_and_extension_read_the_same_protocol_file() -> None:
    source = json.loads((ROOT / "ipyckpt" / "kernel" / "comm_protocol.json").read_text())
    assert (source["version"], source["target"]) == (comm.PROTOCOL_VERSION, comm.TARGET)
    generated = (ROOT / "labextension" / "src" / "protocolVersion.ts").read_text()
    version = re.search(r"PROTOCOL_VERSION = (\d+);", generated)
    target = re.search(r"COMM_TARGET = '([^']+)';", generated)
    assert version and target, generated
    assert (int(version[1]), target[1]) == (source["version"], source["target"]), (
        "labextension/src/protocolVersion.ts is stale: run `node labextension/scripts/protocol.js`"
    )
