"""Whole notebooks as jobs: their code cells, outputs captured as text, the executed notebook.

On the submit side :func:`code_cells` reads a notebook (plain JSON, nbformat 4). On the execute
node the runner runs the cells one by one in one namespace (:mod:`ipyckpt.condor.runner`); this
module turns IPython syntax (``%magic``, ``!shell``) into Python run by an in-process IPython
shell, captures what each cell prints, displays (``display()``: HTML, images, any mimebundle)
and its last value (formatted by IPython's display formatter, as a kernel formats it) as notebook
outputs, and writes the executed notebook (the original with those outputs) for HTCondor to
bring back.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TextIO

MAX_OUTPUT = 200_000  # characters of text kept per cell (the rest is cut, with a note)
MAX_RICH = 5_000_000  # characters of one rich representation (an image, HTML) kept


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook at ``path`` (nbformat 4 JSON); ValueError saying what is wrong."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path} as a notebook: {exc}") from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a Jupyter notebook (nbformat 4)")
    return nb


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(nb: dict[str, Any]) -> list[str]:
    """The source of each code cell, in order."""
    return [_source(c) for c in nb["cells"] if c.get("cell_type") == "code"]


def to_python(source: str) -> str:
    """A cell's source with IPython syntax turned into Python (``get_ipython().run_*``)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return str(TransformerManager().transform_cell(source))  # type: ignore[no-untyped-call]


def shell_for(ns: dict[str, Any]) -> Any:
    """An in-process IPython shell whose user namespace is ``ns`` (for magics in cells), whose
    ``display()`` calls become ``display_data`` outputs of the cell running (:func:`capturing`)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(user_ns=ns)
    if not isinstance(shell.display_pub, _publisher_class()):
        shell.display_pub = _publisher_class()(shell=shell)
        _show_figures_as_png(shell)
    return shell


def _show_figures_as_png(shell: Any) -> None:
    """A matplotlib figure displayed (or a cell's value) becomes a PNG, as with ``%matplotlib
    inline`` in a kernel; registered by name, so matplotlib is imported only if a cell does."""
    from functools import partial

    from IPython.core.pylabtools import print_figure

    png = shell.display_formatter.formatters["image/png"]
    png.for_type_by_name("matplotlib.figure", "Figure", partial(print_figure, base64=True))


def _jsonable(bundle: dict[str, Any]) -> dict[str, Any]:
    """A mimebundle as notebook JSON: binary data (e.g. PNG bytes) base64-encoded; a
    representation longer than :data:`MAX_RICH` is left out (checkpoints carry the outputs)."""
    data = {
        mime: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        for mime, value in bundle.items()
    }
    cut = sorted(m for m, v in data.items() if m != "text/plain" and len(str(v)) > MAX_RICH)
    for mime in cut:
        del data[mime]
    if cut:
        note = f"[{', '.join(cut)} left out by ipyckpt: larger than {MAX_RICH} characters]"
        data["text/plain"] = f"{data.get('text/plain', '')}\n{note}".lstrip("\n")
    return data


@cache
def _publisher_class() -> type:
    """The DisplayPublisher subclass (made on first use: IPython loads only where needed)."""
    from IPython.core.displaypub import DisplayPublisher

    class Publisher(DisplayPublisher):
        """Appends what ``display()`` publishes to the outputs of the cell running."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)  # type: ignore[no-untyped-call]
            self.sink: list[dict[str, Any]] | None = None
            self.shown: dict[str, dict[str, Any]] = {}  # display_id -> its output

        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            if self.sink is None:  # outside a cell: as a plain shell does
                super().publish(data, metadata, *args, **kwargs)
                return
            output = {"output_type": "display_data", "data": _jsonable(dict(data)),
                      "metadata": dict(metadata or {})}  # fmt: skip
            display_id = (kwargs.get("transient") or {}).get("display_id")
            if kwargs.get("update"):  # as Jupyter does: the earlier display changes in place
                if display_id in self.shown:
                    self.shown[display_id].update(output)
                return
            self.sink.append(output)
            if display_id:
                self.shown[display_id] = output

        def clear_output(self, wait: bool = False) -> None:
            if self.sink is not None:
                self.sink.clear()

    return Publisher


def imports_of(sources: list[str]) -> str:
    """The top-level imports of ``sources`` (modules are not saved in checkpoints)."""
    found = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        found += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(found)


class _Tee(io.TextIOBase):
    """Writes to the job's own stream and keeps a copy for the notebook."""

    def __init__(self, stream: TextIO, name: str, sink: list[dict[str, Any]]) -> None:
        self.stream, self.name, self.sink = stream, name, sink

    def write(self, text: str) -> int:
        self.stream.write(text)
        last = self.sink[-1] if self.sink else None
        if last is not None and last.get("name") == self.name:
            last["text"] += text
        else:
            self.sink.append({"output_type": "stream", "name": self.name, "text": text})
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def capturing(outputs: list[dict[str, Any]]) -> Iterator[None]:
    """Copy what the code prints (stdout, stderr) and displays into ``outputs``, as notebook
    stream and ``display_data`` outputs, in the order they happen."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, "stdout", outputs), _Tee(err, "stderr", outputs)
    publisher = _current_publisher()
    if publisher is not None:
        publisher.sink = outputs
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        if publisher is not None:
            publisher.sink = None
        for item in outputs:
            if item.get("output_type") == "stream" and len(item["text"]) > MAX_OUTPUT:
                item["text"] = item["text"][:MAX_OUTPUT] + "\n[... output cut by ipyckpt]\n"


def _current_publisher() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return None
    publisher = InteractiveShell.instance().display_pub
    return publisher if isinstance(publisher, _publisher_class()) else None


def value_output(value: object, count: int) -> dict[str, Any]:
    """A cell's last value as an ``execute_result``: every representation IPython's display
    formatter gives it (HTML, images, ...), as a kernel shows it; plain text without a shell."""
    from IPython.core.interactiveshell import InteractiveShell

    data: dict[str, Any] = {"text/plain": repr(value)}
    metadata: dict[str, Any] = {}
    formatter = (
        InteractiveShell.instance().display_formatter if InteractiveShell.initialized() else None
    )
    if formatter is not None:
        data, metadata = formatter.format(value)  # type: ignore[no-untyped-call]
    data = _jsonable(dict(data))
    data["text/plain"] = str(data.get("text/plain", ""))[:MAX_OUTPUT]
    return {"output_type": "execute_result", "execution_count": count,
            "data": data, "metadata": dict(metadata)}  # fmt: skip


def error_output(exc: BaseException, traceback_text: str) -> dict[str, Any]:
    """A cell's exception as an ``error`` output."""
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": traceback_text.splitlines()}  # fmt: skip


def executed(nb: dict[str, Any], outputs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``nb`` with ``outputs[str(i)]`` as the outputs of its i-th code cell (numbered from 0)."""
    result: dict[str, Any] = json.loads(json.dumps(nb))
    index = 0
    for cell in result["cells"]:
        if cell.get("cell_type") != "code":
            continue
        if str(index) in outputs:
            cell["outputs"] = outputs[str(index)]
            cell["execution_count"] = index + 1
        index += 1
    return result
