"""Package attributes that load on first use (PEP 562), so importing a package stays cheap.

A DAG file that imports an operator pays, on every parse, for everything that import pulls
in. Packages whose public names live in heavy modules (``requests``, SQLAlchemy engines,
FastAPI) list where each name lives and load that module only when the name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for names that load on first use.

    :param package: the package's ``__name__``.
    :param homes: public name → the submodule (relative to ``package``) that defines it.
    :param namespace: the package's ``globals()``; a loaded name is cached there, so later
        lookups do not come back here.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
