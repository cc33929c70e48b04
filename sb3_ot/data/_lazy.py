"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists its public names once, as imports inside ``if TYPE_CHECKING:`` (what type checkers
and IDEs read) and in ``__all__``. :func:`lazy_exports` reads that import block from the package's
source and imports a name's module the first time the name is used, so importing the package costs
nothing until then (the same idea as ``lazy_loader.attach_stub``, with the stub inline).
``sb3_ot.data`` re-exports the trajectory core next to the dataset builders this way without
importing Stable-Baselines3, Minari or d3rlpy up front.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for the package whose globals are ``namespace``.

    The names and their modules come from the package's ``if TYPE_CHECKING:`` block of
    ``from module import name`` lines, which must name exactly the package's ``__all__``. A resolved
    name is stored in ``namespace``, so each is looked up once.

    Raises
    ------
    ImportError
        If the block and ``__all__`` disagree, or an exported name is also a submodule's name
        (importing submodule ``pkg.x`` binds ``x`` on the package, which would shadow a function ``x``).
    """
    package = namespace["__name__"]
    owner = _type_checking_imports(Path(namespace["__file__"]).read_text(), package)
    differ = sorted(set(owner) ^ set(namespace.get("__all__", ())))
    if differ:
        raise ImportError(f"{package}: __all__ and the TYPE_CHECKING imports differ on {differ}")
    clashes = sorted(name for name in owner if f"{package}.{name}" in set(owner.values()))
    if clashes:
        raise ImportError(f"{package}: exported names {clashes} are also names of its submodules")

    def __getattr__(name: str) -> Any:
        module = owner.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(owner))

    return __getattr__, __dir__


def _type_checking_imports(source: str, package: str) -> dict[str, str]:
    """Name -> module of the ``from module import name`` lines under ``if TYPE_CHECKING:``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            owner = {}
            for stmt in node.body:
                if not isinstance(stmt, ast.ImportFrom) or stmt.level or stmt.module is None:
                    raise ImportError(
                        f"{package}: the TYPE_CHECKING block must hold absolute `from x import y` lines"
                    )
                for alias in stmt.names:
                    if alias.asname is not None:
                        raise ImportError(
                            f"{package}: `import {alias.name} as {alias.asname}` cannot be exported lazily"
                        )
                    owner[alias.name] = stmt.module
            return owner
    raise ImportError(f"{package}: no `if TYPE_CHECKING:` block of exports")
