"""Which variables a cell needs (inputs) and produces (outputs), from its syntax tree."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from dataclasses import dataclass

from ipyckpt.namespace import is_internal


@dataclass(frozen=True)
class CellNames:
    """Names a cell reads (and that exist in the namespace) and names it assigns."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class _Scan:
    """Reads anywhere (a function body may read a global); assignments at the cell's level."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.assigns: set[str] = set()
        self.imports: set[str] = set()

    def visit(self, node: ast.AST, depth: int = 0) -> None:
        """Collect names from ``node``; ``depth`` > 0 inside functions, classes, comprehensions."""
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.reads.add(node.id)
            elif depth == 0:
                self.assigns.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.reads.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom) and depth == 0:
            self.imports |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, _DEFINITIONS):
            if depth == 0:
                self.assigns.add(node.name)
            depth += 1
        elif isinstance(node, _SCOPES):
            depth += 1
        for child in ast.iter_child_nodes(node):
            self.visit(child, depth)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def cell_names(source: str, namespace: Mapping[str, object]) -> CellNames:
    """Inputs: names the cell reads that exist in ``namespace`` (not IPython's own, not
    unshadowed builtins); outputs: names the cell assigns at its own level (not imports)."""
    scan = _Scan()
    scan.visit(ast.parse(source))
    inputs = {
        n
        for n in scan.reads
        if n in namespace
        and not is_internal(n)
        and not (hasattr(builtins, n) and namespace[n] is getattr(builtins, n))
    }
    return CellNames(tuple(sorted(inputs)), tuple(sorted(scan.assigns - scan.imports)))
