"""The API reference: ``.. yxt-api:: PACKAGE`` documents a package and each public module in it.

One reST page per package holds one directive::

    yxt_provider.client
    ===================

    .. yxt-api:: yxt_provider.client

It writes the package's docstring, the names the package re-exports (linked to where they
are defined), then a section per public module of the package (subpackages have pages of
their own) with ``automodule``. A module added to a package is documented with no further
step; a new package needs its page (``docs/api/`` collects them with a glob).

Public means: no part of the dotted name starts with ``_``; within a module, the names in
``__all__`` where there is one (autodoc's rule). A name a module re-exports is documented
once, where it is defined, so cross-references have one target.

At the end of reading, every public module under ``yxt_api_package`` must have been
documented; a module nobody documents is a warning naming it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from yxt_sphinx.tables import py_ref

logger = logging.getLogger(__name__)


def is_public(dotted: str) -> bool:
    """True when no part of ``dotted`` starts with an underscore."""
    return not any(part.startswith("_") for part in dotted.split("."))


def submodules(package: str) -> list[str]:
    """The public modules directly in ``package`` (not subpackages), by name.

    :param package: a package's dotted name.
    """
    module = importlib.import_module(package)
    paths = getattr(module, "__path__", None)
    if paths is None:
        return []
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(paths)
        if not info.ispkg and is_public(info.name)
    )


def all_public_modules(package: str) -> list[str]:
    """``package`` and every public module and subpackage under it.

    :param package: the root package's dotted name.
    """
    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        if is_public(info.name):
            found.append(info.name)
    return sorted(found)


def _assigned_names(module: ModuleType) -> set[str]:
    """Names a module binds at top level itself (assignments, defs, classes), not by importing."""
    source = inspect.getsource(module) if getattr(module, "__file__", None) else ""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def home_of(module: ModuleType, name: str) -> str | None:
    """The dotted name of the module that defines ``module.name``, or ``None`` if not found.

    Classes and functions say it themselves (``__module__``); a constant is looked for in the
    modules of the same package that bind it.

    :param module: the module exporting ``name``.
    :param name: the exported name.
    """
    value = getattr(module, name)
    declared = getattr(value, "__module__", None)
    if (inspect.isclass(value) or inspect.isroutine(value)) and isinstance(declared, str):
        return declared
    if name in _assigned_names(module):
        return module.__name__
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    for candidate in submodules(package):
        other = importlib.import_module(candidate)
        if getattr(other, name, None) is value and name in _assigned_names(other):
            return candidate
    return None


def reexports(module: ModuleType) -> dict[str, str | None]:
    """Names in ``module.__all__`` defined elsewhere → where they are defined.

    :param module: the module documented.
    """
    exported = getattr(module, "__all__", None) or []
    found: dict[str, str | None] = {}
    for name in exported:
        home = home_of(module, name)
        if home != module.__name__:
            found[name] = home
    return found


class ApiDirective(SphinxDirective):
    """``.. yxt-api:: PACKAGE``: the package's docstring and re-exports, then each public module."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        try:
            modules = submodules(package)
        except ImportError as exc:
            raise self.error(f"yxt-api: cannot import {package}: {exc}") from None
        result = self._automodule(
            package, with_members=not hasattr(importlib.import_module(package), "__path__")
        )
        result.extend(self._reexport_list(package))
        for name in modules:
            section = nodes.section(ids=[nodes.make_id(f"api-{name}")], names=[name])
            section += nodes.title(name, "", nodes.literal(name, name))
            section.extend(self._automodule(name, with_members=True))
            section.extend(self._reexport_list(name))
            result.append(section)
        return result

    def _automodule(self, name: str, *, with_members: bool) -> list[nodes.Node]:
        lines = [f".. automodule:: {name}"]
        if with_members:
            lines += ["   :members:", "   :show-inheritance:"]
            skipped = reexports(importlib.import_module(name))
            if skipped:
                lines.append(f"   :exclude-members: {', '.join(sorted(skipped))}")
        return self._parse_rst(lines)

    def _parse_rst(self, lines: list[str]) -> list[nodes.Node]:
        source, _line = self.get_source_info()
        holder = nodes.container()
        self.state.nested_parse(StringList(lines, source=source), self.content_offset, holder)
        return list(holder.children)

    def _reexport_list(self, name: str) -> list[nodes.Node]:
        module = importlib.import_module(name)
        names = reexports(module)
        if not names:
            return []
        intro = (
            "Importable from here, documented where each is defined:"
            if hasattr(module, "__path__")
            else ("Also importable from here:")
        )
        items = nodes.bullet_list()
        for exported, home in sorted(names.items(), key=lambda item: item[0].casefold()):
            paragraph = nodes.paragraph()
            if home is None:
                paragraph += nodes.literal(exported, exported)
            else:
                paragraph.extend(py_ref(f"{home}.{exported}", title=exported, reftype="obj"))
                paragraph += nodes.Text(" (")
                paragraph.extend(py_ref(home, title=home, reftype="mod"))
                paragraph += nodes.Text(")")
            items += nodes.list_item("", paragraph)
        return [nodes.paragraph(intro, intro), items]


def check_every_module_documented(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn for each public module of ``yxt_api_package`` that no page documents."""
    package = app.config.yxt_api_package
    if not package:
        return
    documented = set(env.domains.python_domain.modules)
    for name in all_public_modules(package):
        if name not in documented:
            logger.warning(
                "%s is not in the API reference: its package needs a page with '.. yxt-api:: %s' in docs/api/",
                name,
                name if hasattr(importlib.import_module(name), "__path__") else name.rpartition(".")[0],
                type="yxt",
                subtype="api",
                location=str(Path(app.srcdir) / "api"),
            )


def setup(app: Sphinx) -> dict[str, Any]:
    """Register ``yxt-api`` and the completeness check."""
    app.setup_extension("sphinx.ext.autodoc")
    app.add_config_value("yxt_api_package", "", "env", types=frozenset({str}))
    app.add_directive("yxt-api", ApiDirective)
    app.connect("env-check-consistency", check_every_module_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
