"""Build a docutils table from rows of cells: the one table layout of the generated pages."""

from __future__ import annotations

from collections.abc import Sequence

from docutils import nodes

# A cell: plain text, or nodes already built (inline markup, cross-references).
Cell = str | Sequence[nodes.Node]


def _cell_content(cell: Cell) -> nodes.Element:
    paragraph = nodes.paragraph()
    if isinstance(cell, str):
        paragraph += nodes.Text(cell)
    else:
        paragraph.extend(cell)
    return paragraph


def build_table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, classes: Sequence[str] = ()
) -> nodes.table:
    """A table with one header row.

    :param headers: the column titles.
    :param rows: the body, each row as many cells as ``headers``.
    :param classes: CSS classes for the table.
    """
    table = nodes.table(classes=["yxt-generated", *classes])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in headers)
    head = nodes.thead()
    group += head
    head += _row(headers)
    body = nodes.tbody()
    group += body
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells, the table {len(headers)} columns")
        body += _row(row)
    return table


def _row(cells: Sequence[Cell]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += _cell_content(cell)
        row += entry
    return row


def literal(text: str) -> list[nodes.Node]:
    """``text`` as inline code."""
    return [nodes.literal(text, text)]


def py_ref(target: str, *, title: str | None = None, reftype: str = "class") -> list[nodes.Node]:
    """A cross-reference to a Python object, checked like any ``:py:class:`` role (nitpicky).

    :param target: the object's full dotted name.
    :param title: the text shown; default the last part of ``target``.
    :param reftype: the role, e.g. ``class``, ``func``, ``mod``.
    """
    from sphinx import addnodes

    shown = title or target.rsplit(".", 1)[-1]
    ref = addnodes.pending_xref(
        "", refdomain="py", reftype=reftype, reftarget=target, refexplicit=True, refwarn=True
    )
    ref += nodes.literal(shown, shown, classes=["xref", "py", f"py-{reftype}"])
    return [ref]
