"""Values autodoc prints: readable dataclass defaults, and no object reprs.

- A dataclass field with ``default_factory`` shows as ``<factory>`` in the signature Python
  builds, which is not Python: Sphinx then falls back to splitting the signature at commas
  and breaks every annotation with a comma (``tuple[str, ...]``). The factory is written
  out instead (``dict()``, or ``...`` when it is not a plain callable name).
- A constant whose value is an object (a SQLAlchemy expression) shows its repr, memory
  address included (``<... at 0x7f...>``): noise that changes every build. Such values are
  left out; the constant's own comment says what it is.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

# A repr with no value to a reader: <module.Class object>, <Thing at 0x...>.
_OBJECT_REPR = re.compile(r"<[\w.]+(?: object| at 0x[0-9a-f]+)[^>]*>")


def factory_text(factory: Any) -> str:
    """How to write a ``default_factory`` in a signature: ``list()``, or ``...`` for a lambda.

    :param factory: the field's ``default_factory``.
    """
    name = getattr(factory, "__qualname__", "")
    return f"{name}()" if name.isidentifier() else "..."


def with_factories(cls: type, signature: str) -> str:
    """``signature`` of dataclass ``cls`` with each ``<factory>`` written out.

    :param cls: a dataclass.
    :param signature: the signature autodoc made, e.g. ``(a: int, b: dict = <factory>)``.
    """
    for field in dataclasses.fields(cls):
        if field.init and field.default_factory is not dataclasses.MISSING:
            pattern = re.compile(rf"(\b{re.escape(field.name)}\b.*?=\s*)<factory>")
            signature = pattern.sub(
                lambda m, f=field: m.group(1) + factory_text(f.default_factory), signature, 1
            )
    return signature


def on_process_signature(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str | None, str | None] | None:
    """``autodoc-process-signature``: write out dataclass factories."""
    if signature and "<factory>" in signature and inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        return with_factories(obj, signature), annotation
    return None


def drop_object_reprs(app: Sphinx, doctree: nodes.document) -> None:
    """``doctree-read``: remove ``= <object repr>`` values from constant descriptions."""
    for annotation in list(doctree.findall(addnodes.desc_annotation)):
        text = annotation.astext()
        if text.lstrip().startswith("=") and _OBJECT_REPR.search(text):
            annotation.parent.remove(annotation)


def setup(app: Sphinx) -> dict[str, Any]:
    """Connect both fixes."""
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-signature", on_process_signature)
    app.connect("doctree-read", drop_object_reprs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
