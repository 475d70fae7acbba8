"""A public module, class or function without a docstring is a Sphinx warning (``-W``: an error).

autodoc leaves an undocumented member out of the page without a word, unless
``:undoc-members:`` is given, and then shows it empty. Both cases are caught:

- ``autodoc-skip-member``: autodoc is about to leave out a public member for want of a
  docstring;
- ``autodoc-process-docstring``: autodoc documents a public object whose docstring is empty.

Public: the name does not start with ``_``; for a module's members, the module's ``__all__``
decides where there is one (autodoc passes only those). A name a module imports from
elsewhere is checked where it is defined. Attributes and constants are not checked: Python
gives them no docstring of their own.

The warning names the object (``yxt_provider.x.y: public function has no docstring``), with
``type="yxt"`` and ``subtype="docstring"``.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: autodoc's object types that need a docstring of their own.
CHECKED_TYPES = frozenset({"module", "class", "exception", "function", "decorator", "method", "property"})


def _unwrapped(obj: Any) -> Any:
    """The function behind a property, classmethod or staticmethod; anything else as is."""
    if isinstance(obj, property):
        return obj.fget
    return getattr(obj, "__func__", obj)


def own_docstring(obj: Any) -> str:
    """The docstring written for ``obj`` itself: not inherited, not made up by Python.

    A dataclass or named tuple without a docstring gets one generated from its fields
    (``Point(x: int, y: int)``); that is not documentation.

    :param obj: a module, class, function, method or property.
    """
    if isinstance(obj, property):
        doc = obj.__doc__
    elif inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        generated = dataclasses.is_dataclass(obj) or hasattr(obj, "_fields")
        if isinstance(doc, str) and generated and doc.startswith(f"{obj.__name__}("):
            return ""
    else:
        doc = getattr(_unwrapped(obj), "__doc__", None)
    return doc.strip() if isinstance(doc, str) else ""


def defined_in(obj: Any, module: str) -> bool:
    """True unless ``obj`` is a class or function defined in another module than ``module``."""
    target = _unwrapped(obj)
    home = getattr(target, "__module__", None)
    return not (inspect.isclass(target) or inspect.isroutine(target)) or home in (None, module)


def needs_docstring(what: str, full_name: str, obj: Any) -> bool:
    """True when autodoc documents ``obj`` as ``what`` under ``full_name`` and it has no docstring.

    :param what: autodoc's object type (``class``, ``function``, ``method``, …).
    :param full_name: the dotted name autodoc documents it under.
    :param obj: the object.
    """
    if what not in CHECKED_TYPES or any(part.startswith("_") for part in full_name.split(".")):
        return False
    if what in ("class", "exception", "function", "decorator") and not defined_in(
        obj, full_name.rpartition(".")[0]
    ):
        return False  # a re-export: checked where it is defined
    return not own_docstring(obj)


def member_type(parent: str, obj: Any) -> str | None:
    """The autodoc type of a member of a ``parent`` (``module``, ``class``), or ``None`` if unchecked."""
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if isinstance(obj, property):
        return "property"
    if inspect.isroutine(_unwrapped(obj)):
        return "method" if parent in ("class", "exception") else "function"
    return None


def _published_at_home(obj: Any, name: str) -> bool:
    """True when the module defining ``obj`` makes ``name`` public (in ``__all__``, or no ``__all__``)."""
    home = sys.modules.get(getattr(_unwrapped(obj), "__module__", None) or "")
    exported = getattr(home, "__all__", None)
    return exported is None or name in exported


def _defined_here(app: Sphinx, obj: Any, name: str) -> bool:
    """True when module member ``obj`` is defined in the module autodoc is documenting.

    An imported name (``Iterator`` in a module without ``__all__``) belongs to its own module.
    """
    current = getattr(app.env, "current_document", None)
    documenting = getattr(current, "autodoc_module", "") if current is not None else ""
    home = getattr(_unwrapped(obj), "__module__", None)
    if documenting:
        return home == documenting
    return _published_at_home(obj, name)


def _warn(what: str, full_name: str) -> None:
    logger.warning("%s: public %s has no docstring", full_name, what, type="yxt", subtype="docstring")


def on_process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Warn when autodoc documents a public object whose docstring is empty (``:undoc-members:``)."""
    if needs_docstring(what, name, obj):
        _warn(what, name)


def on_skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    """Warn when autodoc leaves out a public class or function because it has no docstring.

    Members skipped for other reasons (private, excluded, another module's) are not warned about;
    the decision itself is left to autodoc.
    """
    kind = member_type(what, obj)
    if not skip or kind is None or name.startswith("_") or own_docstring(obj):
        return None
    if name in (getattr(options, "exclude_members", None) or ()):
        return None
    if what == "module" and not _defined_here(app, obj, name):
        return None
    target = _unwrapped(obj)
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", name)
    _warn(kind, f"{module}.{qualname}" if module else name)
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    """Connect the check to autodoc's events."""
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", on_process_docstring)
    app.connect("autodoc-skip-member", on_skip_member)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
