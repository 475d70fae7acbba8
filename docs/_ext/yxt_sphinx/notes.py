"""The notes a page writes inside a generated-table directive, keyed by what they annotate.

A generated table takes what the code knows (names, codes, labels) from the code; what only a
person can explain is written in the page, inside the directive::

    11 campaign: The campaign slows down ...
        a continuation line, indented.

Each note names a row key and a column. A note for a key or column the table does not have
is an error, so a note cannot outlive the code it explains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NOTE = re.compile(r"^(?P<key>\S+)\s+(?P<column>[\w-]+):\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Note:
    """One note: ``key column: text``.

    :param key: the row it belongs to (a result code, a class name, a field name).
    :param column: the column it fills.
    :param text: the note, in the page's markup.
    :param line: its line within the directive's content (0-based), for error messages.
    """

    key: str
    column: str
    text: str
    line: int


class NoteError(ValueError):
    """A note the table cannot place: malformed, unknown key or column, or given twice."""


def parse_notes(lines: Iterable[str]) -> list[Note]:
    """Read ``key column: text`` notes; indented lines continue the note above.

    :param lines: the directive's content.
    :raises NoteError: on a line that is neither a note nor a continuation.
    """
    notes: list[Note] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        if line[:1].isspace():
            if not notes:
                raise NoteError(f"line {number + 1}: a continuation line with no note above it")
            last = notes[-1]
            notes[-1] = Note(last.key, last.column, f"{last.text} {line.strip()}", last.line)
            continue
        match = _NOTE.match(line)
        if match is None:
            raise NoteError(f"line {number + 1}: expected 'KEY COLUMN: text', got {line!r}")
        notes.append(Note(match["key"], match["column"], match["text"].strip(), number))
    return notes


def index_notes(
    notes: Sequence[Note], keys: Iterable[str], columns: Iterable[str]
) -> dict[tuple[str, str], Note]:
    """The notes by ``(key, column)``, after checking each names a row and a column that exist.

    :param notes: the parsed notes.
    :param keys: the table's row keys.
    :param columns: the columns notes may fill.
    :raises NoteError: naming the first note that fits nowhere, or a key and column given twice.
    """
    known_keys, known_columns = set(keys), set(columns)
    found: dict[tuple[str, str], Note] = {}
    for note in notes:
        if note.key not in known_keys:
            raise NoteError(
                f"line {note.line + 1}: {note.key!r} is not a row of this table (rows: {', '.join(sorted(known_keys))})"
            )
        if note.column not in known_columns:
            raise NoteError(
                f"line {note.line + 1}: {note.column!r} is not a column notes may fill "
                f"(columns: {', '.join(sorted(known_columns))})"
            )
        if (note.key, note.column) in found:
            raise NoteError(f"line {note.line + 1}: a second note for {note.key} {note.column}")
        found[note.key, note.column] = note
    return found
