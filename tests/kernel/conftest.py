"""Real IPython kernels driven through jupyter_client: start, execute, restart, SIGKILL."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager


@dataclass
class Result:
    """Everything one execute request produced."""

    stdout: str = ""
    stderr: str = ""
    displays: list[str] = field(default_factory=list)
    value: str | None = None
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "\n".join([self.stdout, self.stderr, *self.displays, self.value or ""])


class Kernel:
    """A real ipykernel for one notebook path, with helpers for the tests."""

    def __init__(self, notebook: Path, env: dict[str, str]) -> None:
        self.notebook = notebook
        self.env = env
        self.km = KernelManager(kernel_name="python3")
        self.client: Any = None

    def start(self) -> Kernel:
        self.km.start_kernel(env=self.env, cwd=str(self.notebook.parent))
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        return self

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.pid)  # type: ignore[union-attr]

    def run(self, code: str, *, timeout: float = 120, allow_error: bool = False) -> Result:
        """Execute ``code``; collect output until the kernel is idle again."""
        result = Result()
        msg_id = self.client.execute(code, allow_stdin=False)
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind in ("display_data", "update_display_data"):
                result.displays.append(content["data"].get("text/plain", ""))
            elif kind == "execute_result":
                result.value = content["data"].get("text/plain")
            elif kind == "error":
                result.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if result.error and not allow_error:
            raise AssertionError("\n".join(result.error["traceback"]))
        return result

    def start_running(self, code: str) -> str:
        """Send ``code`` without waiting (for kills while it runs); return the msg id."""
        return str(self.client.execute(code, allow_stdin=False))

    def wait_for_output(self, msg_id: str, needle: str, timeout: float = 60) -> str:
        """Read iopub until an output of ``msg_id`` contains ``needle``."""
        seen = ""
        while needle not in seen:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content = msg["content"]
            if msg["msg_type"] == "stream":
                seen += content["text"]
            elif msg["msg_type"] in ("display_data", "update_display_data"):
                seen += content["data"].get("text/plain", "")
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(content["traceback"]))
        return seen

    def value(self, expr: str) -> Any:
        """Evaluate ``expr`` in the kernel and return it (via repr / literal_eval)."""
        import ast

        out = self.run(f"print(repr({expr}))").stdout.strip()
        return ast.literal_eval(out)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        os.kill(self.pid, sig)
        self.km.provisioner.process.wait(timeout=60)  # type: ignore[union-attr]

    def exit_code(self) -> int | None:
        return self.km.provisioner.process.poll()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel_env(tmp_path: Path, private_jupyter_dirs: Path) -> dict[str, str]:
    """Environment for kernels: private Jupyter/IPython dirs, no inherited store override."""
    env = dict(os.environ)
    env.pop("IPYCKPT_STORE", None)
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["JUPYTER_DATA_DIR"] = str(private_jupyter_dirs)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.fixture
def open_kernel(tmp_path: Path, kernel_env: dict[str, str]) -> Iterator[Any]:
    """``open_kernel("analysis.ipynb")`` starts a kernel as jupyter_server would for that notebook."""
    kernels: list[Kernel] = []

    def start(name: str = "analysis.ipynb", **extra_env: str) -> Kernel:
        notebook = tmp_path / "notebooks" / name
        notebook.parent.mkdir(parents=True, exist_ok=True)
        env = {**kernel_env, "JPY_SESSION_NAME": str(notebook), **extra_env}
        kernel = Kernel(notebook, env).start()
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.stop()
