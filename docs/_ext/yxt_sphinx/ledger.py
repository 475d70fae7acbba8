"""The ledger page's tables, generated from the schema and the views themselves.

``.. yxt-ledger-columns:: NAME`` lists the columns of a view of
:data:`yxt_provider.ledger.views.VIEWS` or a table of :mod:`yxt_provider.ledger.schema`, in
their order, with their kind of value; the page writes each column's meaning as a note
(see :mod:`yxt_sphinx.notes`), every column needs one, and a note for a column that does not
exist fails the build. So the documented contract and the SQL cannot drift::

    ```{yxt-ledger-columns} yxt_message_status
    campaign_id meaning: the campaign ...
    ```

``yxt-ledger-tables`` lists every table, with the doc comment (``#:``) its definition has;
``yxt-ledger-migrations`` every schema version, from
:data:`yxt_provider.ledger.migrations.STEPS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

from yxt_sphinx.notes import NoteError, index_notes, parse_notes
from yxt_sphinx.tables import Cell, build_table, literal, py_ref

SCHEMA_MODULE = "yxt_provider.ledger.schema"


def kind_of(column: Any) -> str:
    """A column's kind of value, the same on every backend: text, integer, boolean, timestamp.

    :param column: a table column or a selected expression.
    """
    sql_type = column.type
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer):
        return "integer"
    if isinstance(sql_type, sa.TypeDecorator):
        sql_type = sql_type.impl  # UTCDateTime stores a DateTime
    if isinstance(sql_type, sa.DateTime):
        return "timestamp (UTC)"
    if isinstance(sql_type, (sa.String, sa.Text)):
        return "text"
    return str(sql_type).lower()


def columns_of(name: str) -> list[tuple[str, str]]:
    """``(column, kind)`` of the view or table ``name``, in order.

    :param name: e.g. ``yxt_message_status`` or ``yxt_replies``.
    :raises KeyError: when there is no such view or table.
    """
    from yxt_provider.ledger import schema, views

    if name in views.VIEWS:
        return [(column.name, kind_of(column)) for column in views.VIEWS[name].selected_columns]
    table = schema.metadata.tables[name]
    return [(column.name, kind_of(column)) for column in table.columns]


def table_docs() -> list[tuple[str, str, str]]:
    """``(table name, Python name in the schema module, its doc comment)`` for every table."""
    import importlib

    schema = importlib.import_module(SCHEMA_MODULE)
    attr_docs = ModuleAnalyzer.for_module(SCHEMA_MODULE).find_attr_docs()
    python_names = {id(value): name for name, value in vars(schema).items() if isinstance(value, sa.Table)}
    rows = []
    for table in sorted(schema.metadata.tables.values(), key=lambda t: t.name):
        python_name = python_names.get(id(table), "")
        doc = " ".join(attr_docs.get(("", python_name), [])).strip()
        # The comment starts with the table's own name, which the table shows already.
        prefix = f"``{table.name}``:"
        rows.append((table.name, python_name, doc.removeprefix(prefix).strip()))
    return rows


class LedgerColumnsDirective(SphinxDirective):
    """``yxt-ledger-columns NAME``: a view's or table's columns, each with the page's meaning."""

    required_arguments = 1
    has_content = True
    headers: Sequence[str] = ("Column", "Kind", "Meaning")

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        try:
            columns = columns_of(name)
        except KeyError:
            raise self.error(f"yxt-ledger-columns: no view or table named {name!r}") from None
        try:
            notes = index_notes(parse_notes(self.content), (column for column, _ in columns), ("meaning",))
        except NoteError as exc:
            raise self.error(f"yxt-ledger-columns {name}: {exc}") from None
        missing = [column for column, _ in columns if (column, "meaning") not in notes]
        if missing:
            raise self.error(f"yxt-ledger-columns {name}: no meaning for {', '.join(missing)}")
        rows: list[list[Cell]] = []
        for column, kind in columns:
            note = notes[column, "meaning"]
            parsed, messages = self.parse_inline(note.text, lineno=self.content_offset + note.line + 1)
            rows.append([literal(column), kind, [*parsed, *messages]])
        table = build_table(self.headers, rows, classes=["yxt-ledger"])
        self.set_source_info(table)
        return [table]


class LedgerTablesDirective(SphinxDirective):
    """``yxt-ledger-tables``: every table of the schema, with what its definition says it holds."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        rows: list[list[Cell]] = []
        for table, python_name, doc in table_docs():
            if not doc:
                raise self.error(f"yxt-ledger-tables: {table} has no '#:' comment in {SCHEMA_MODULE}")
            # The comment is reST (``name``), read the same way by a Markdown page.
            parsed, messages = self.parse_inline(doc, lineno=self.lineno)
            reference = py_ref(f"{SCHEMA_MODULE}.{python_name}", title=python_name, reftype="data")
            rows.append([literal(table), reference, [*parsed, *messages]])
        table_node = build_table(("Table", "Defined as", "Holds"), rows, classes=["yxt-ledger"])
        self.set_source_info(table_node)
        return [table_node]


class LedgerMigrationsDirective(SphinxDirective):
    """``yxt-ledger-migrations``: every schema version and what its step does."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from yxt_provider.ledger.migrations import STEPS

        rows: list[list[Cell]] = [[literal(str(step.version)), step.description] for step in STEPS]
        table = build_table(("Version", "What the step adds"), rows, classes=["yxt-ledger"])
        self.set_source_info(table)
        return [table]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ledger table directives."""
    app.add_directive("yxt-ledger-columns", LedgerColumnsDirective)
    app.add_directive("yxt-ledger-tables", LedgerTablesDirective)
    app.add_directive("yxt-ledger-migrations", LedgerMigrationsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
