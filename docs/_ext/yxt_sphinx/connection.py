"""The connection page's tables, generated from what Airflow's connection form is built from.

``yxt-connection-fields`` lists Airflow's standard connection fields with the label the YXT
form gives each (``YXT_UI_FIELD_BEHAVIOUR``); ``yxt-connection-extras`` lists every entry of
``YXT_CONN_FIELDS``, in form order, with its form label. The page writes what each field
means as notes (see :mod:`yxt_sphinx.notes`)::

    ```{yxt-connection-extras}
    sp_code type: string
    sp_code default: — (**required**)
    sp_code meaning: The enterprise number ...
    ```

Every row needs every note, so a new extra cannot reach the form undocumented; a note for
an extra that no longer exists fails the build; a default written in the page must be the
form schema's default where the schema has one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from yxt_sphinx.notes import Note, NoteError, index_notes, parse_notes
from yxt_sphinx.tables import Cell, build_table, literal

#: Airflow's own connection fields, in the order its form shows them, with its own labels.
STANDARD_FIELDS: Mapping[str, str] = {
    "host": "Host",
    "port": "Port",
    "login": "Login",
    "password": "Password",
    "schema": "Schema",
    "extra": "Extra",
}


@dataclass(frozen=True)
class FieldRow:
    """One field of the connection form.

    :param name: the connection field or extra.
    :param label: what the YXT form shows (``(hidden)`` for a hidden field).
    :param schema_default: the form schema's default, when it declares one.
    :param has_default: whether the form schema declares a default (``None`` can be one).
    """

    name: str
    label: str
    schema_default: Any = None
    has_default: bool = False


def standard_field_rows() -> list[FieldRow]:
    """Airflow's connection fields as the YXT form shows them."""
    from yxt_provider.get_provider_info import YXT_UI_FIELD_BEHAVIOUR

    hidden = set(YXT_UI_FIELD_BEHAVIOUR.get("hidden-fields", ()))
    relabeled = YXT_UI_FIELD_BEHAVIOUR.get("relabeling", {})
    return [
        FieldRow(name, "(hidden)" if name in hidden else relabeled.get(name, label))
        for name, label in STANDARD_FIELDS.items()
    ]


def extra_rows() -> list[FieldRow]:
    """Every extra of the connection form, in form order."""
    from yxt_provider.get_provider_info import YXT_CONN_FIELDS

    rows = []
    for name, spec in YXT_CONN_FIELDS.items():
        schema = spec.get("schema", {})
        rows.append(FieldRow(name, spec["label"], schema.get("default"), "default" in schema))
    return rows


def default_mismatch(row: FieldRow, written: str) -> str | None:
    """Why the default written in the page disagrees with the form schema's, or ``None``.

    :param row: the extra, with the schema's default.
    :param written: the page's default, in its markup (``\\`false\\```).
    """
    if not row.has_default:
        return None
    expected = json.dumps(row.schema_default)
    shown = written.strip().strip("`").strip()
    return None if shown == expected else f"the page says {written!r}, the form schema {expected}"


class _FieldTable(SphinxDirective):
    """A table of connection fields with the page's notes, every one required."""

    has_content = True
    headers: Sequence[str] = ()
    columns: Sequence[str] = ()

    def rows(self) -> list[FieldRow]:
        raise NotImplementedError

    def cells(self, row: FieldRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        rows = self.rows()
        try:
            notes = index_notes(parse_notes(self.content), (row.name for row in rows), self.columns)
        except NoteError as exc:
            raise self.error(f"{self.name}: {exc}") from None
        missing = [
            f"{row.name} {column}"
            for row in rows
            for column in self.columns
            if (row.name, column) not in notes
        ]
        if missing:
            raise self.error(f"{self.name}: no note for {', '.join(missing)}; document every field")
        body = []
        for row in rows:
            if "default" in self.columns:
                problem = default_mismatch(row, notes[row.name, "default"].text)
                if problem:
                    raise self.error(f"{self.name}: default of {row.name}: {problem}")
            noted = {column: self._inline(notes[row.name, column]) for column in self.columns}
            body.append(self.cells(row, noted))
        table = build_table(self.headers, body, classes=["yxt-connection"])
        self.set_source_info(table)
        return [table]

    def _inline(self, note: Note) -> list[nodes.Node]:
        parsed, messages = self.parse_inline(note.text, lineno=self.content_offset + note.line + 1)
        return [*parsed, *messages]


class ConnectionFieldsDirective(_FieldTable):
    """``yxt-connection-fields``: Airflow's connection fields, with the YXT form's labels."""

    headers = ("Connection field", "Shown in the UI as", "Required", "Meaning")
    columns = ("required", "meaning")

    def rows(self) -> list[FieldRow]:
        return standard_field_rows()

    def cells(self, row: FieldRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        return [literal(row.name), row.label, noted["required"], noted["meaning"]]


class ConnectionExtrasDirective(_FieldTable):
    """``yxt-connection-extras``: every extra of ``YXT_CONN_FIELDS``, in form order."""

    headers = ("Extra", "Form label", "Type", "Default", "Meaning")
    columns = ("type", "default", "meaning")

    def rows(self) -> list[FieldRow]:
        return extra_rows()

    def cells(self, row: FieldRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        return [literal(row.name), row.label, noted["type"], noted["default"], noted["meaning"]]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the two connection table directives."""
    app.add_directive("yxt-connection-fields", ConnectionFieldsDirective)
    app.add_directive("yxt-connection-extras", ConnectionExtrasDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
