"""Cross-references resolve the way Python finds names: through re-exports and imports.

A docstring may name an object as its readers import it — ``yxt_provider.client.YxtClient``
(the package re-exports it), or ``SandboxConfig`` in a module that imports it — while the
API reference documents each object once, where it is defined
(``yxt_provider.client.client.YxtClient``). When Sphinx finds no target, this looks the name
up in the referring module's namespace (or from the top, for a dotted name) as Python would,
and resolves to where the object is defined. Only names that end up inside
``yxt_api_package`` are resolved; anything else stays missing (and nitpicky reports it).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from yxt_sphinx.api import home_of

_MISSING = object()


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return _MISSING


def defining_name(target: str, context_module: str | None = None) -> str | None:
    """Where the object ``target`` names is defined, as a dotted name; ``None`` if not found.

    :param target: a dotted name, absolute (``yxt_provider.client.YxtClient``) or relative to
        ``context_module`` (``SandboxState.inject_reply``).
    :param context_module: the module whose docstring holds the reference.
    """
    candidates = [f"{context_module}.{target}", target] if context_module else [target]
    for dotted in candidates:
        parts = dotted.split(".")
        # The longest prefix that is a module; the rest are attributes.
        for split in range(len(parts) - 1, 0, -1):
            module = _import(".".join(parts[:split]))
            if module is _MISSING:
                continue
            first, rest = parts[split], parts[split + 1 :]
            value = getattr(module, first, _MISSING)
            if value is _MISSING:
                break
            if inspect.isclass(value) or inspect.isroutine(value):
                base = f"{value.__module__}.{value.__qualname__}"
            else:
                home = home_of(module, first)
                if home is None:
                    break
                base = f"{home}.{first}"
            return ".".join([base, *rest])
    return None


def resolve_by_import(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """``missing-reference`` handler: retry a Python reference at the name's definition."""
    package = app.config.yxt_api_package
    if node.get("refdomain") != "py" or not package:
        return None
    target = node["reftarget"].lstrip("~.")
    found = defining_name(target, node.get("py:module"))
    if found is None or found == target or not found.startswith(f"{package}."):
        return None
    domain = env.domains.python_domain
    retry = node.deepcopy()
    retry["reftarget"] = found
    retry["refspecific"] = False
    for context in ("py:module", "py:class"):
        if context in retry:
            del retry[context]
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], found, retry, contnode)


def setup(app: Sphinx) -> dict[str, Any]:
    """Connect the resolver."""
    app.setup_extension("yxt_sphinx.api")
    app.connect("missing-reference", resolve_by_import)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
