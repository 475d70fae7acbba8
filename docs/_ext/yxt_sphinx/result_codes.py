"""The troubleshooting tables, generated from the error classes themselves.

``yxt-result-codes`` has one row per entry of
:data:`yxt_provider.client.errors.ERRORS_BY_CODE`; ``yxt-other-errors`` one per failure without
a listed result code (no HTTP answer, not the protocol, an unlisted code, a serial collision).
Code, class, meaning, summary, hint, whether the client retries and whether a campaign stops
all come from the classes (``meaning``, ``summary``, ``hint``, ``retryable``) and from
:data:`yxt_provider.campaign.sender.FATAL_ERRORS`. The page adds notes only where the code's
behaviour needs words (see :mod:`yxt_sphinx.notes`), e.g.::

    ```{yxt-result-codes}
    11 campaign: The campaign slows down ...
    ```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from yxt_sphinx.notes import Note, NoteError, index_notes, parse_notes
from yxt_sphinx.tables import Cell, build_table, literal, py_ref

#: The columns a page's note may fill: what the client does, what a campaign does, and what to
#: do where the class has no ``hint`` of its own (a hint in the code is never overridden).
NOTE_COLUMNS = ("retries", "campaign", "todo")

STOPS_CAMPAIGN = (
    "Stops the campaign at once; the task fails without spending its retries. "
    "Fix the cause, then clear the task: it resumes where it stopped."
)
LEFT_FOR_RETRY = (
    "The batch is left unsent; the try fails, and Airflow's retry sends the batch under the same serial."
)


@dataclass(frozen=True)
class ErrorRow:
    """What the code says about one failure.

    :param key: the row's key for notes: the result code, or the class name.
    :param code: the result code, if the failure has one of its own.
    :param cls: the exception class raised.
    :param meaning: what the code means (``meaning``), or the class's first docstring line.
    :param summary: the plain-words sentence (``summary``), possibly empty.
    :param hint: what to do (``hint``), possibly empty.
    :param retries: whether the client retries it, in words.
    :param campaign: what a campaign does when a batch meets it, in words.
    """

    key: str
    code: int | None
    cls: type[BaseException]
    meaning: str
    summary: str
    hint: str
    retries: str
    campaign: str


def _first_line(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def _retries(cls: type) -> str:
    """``retryable`` in words; a property says per instance, so its docstring is the rule."""
    for klass in cls.__mro__:
        declared = vars(klass).get("retryable")
        if isinstance(declared, property):
            return (declared.__doc__ or "depends on the failure").strip()
        if declared is not None:
            return "yes, with back-off (the connection's retry_* extras)" if declared else "no"
    return "no"


def _row(
    key: str, code: int | None, cls: type[BaseException], fatal: tuple[type[BaseException], ...]
) -> ErrorRow:
    meaning = getattr(cls, "meaning", "") if code is not None else _first_line(cls)
    return ErrorRow(
        key=key,
        code=code,
        cls=cls,
        meaning=meaning,
        summary=getattr(cls, "summary", "") or "",
        hint=getattr(cls, "hint", "") or "",
        retries=_retries(cls),
        campaign=STOPS_CAMPAIGN if issubclass(cls, fatal) else LEFT_FOR_RETRY,
    )


def result_code_rows() -> list[ErrorRow]:
    """One row per listed result code, in code order."""
    from yxt_provider.campaign.sender import FATAL_ERRORS
    from yxt_provider.client.errors import ERRORS_BY_CODE

    return [_row(str(code), code, cls, FATAL_ERRORS) for code, cls in sorted(ERRORS_BY_CODE.items())]


def other_error_rows() -> list[ErrorRow]:
    """One row per failure without a listed code of its own."""
    from yxt_provider.campaign.sender import FATAL_ERRORS, SerialCollisionError
    from yxt_provider.client.errors import YxtGatewayError, YxtProtocolError, YxtTransportError

    classes: Sequence[type[BaseException]] = (
        YxtTransportError,
        YxtProtocolError,
        YxtGatewayError,
        SerialCollisionError,
    )
    return [_row(cls.__name__, None, cls, FATAL_ERRORS) for cls in classes]


def _class_ref(cls: type) -> list[nodes.Node]:
    return py_ref(f"{cls.__module__}.{cls.__qualname__}")


class _ErrorTable(SphinxDirective):
    """A table of failures with the page's notes merged in."""

    has_content = True
    headers: Sequence[str] = ()

    def rows(self) -> list[ErrorRow]:
        raise NotImplementedError

    def cells(self, row: ErrorRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        rows = self.rows()
        try:
            notes = index_notes(parse_notes(self.content), (row.key for row in rows), NOTE_COLUMNS)
        except NoteError as exc:
            raise self.error(f"{self.name}: {exc}") from None
        for row in rows:
            if row.hint and (row.key, "todo") in notes:
                raise self.error(
                    f"{self.name}: {row.key} has a hint in the code ({row.cls.__name__}.hint); change it there"
                )
        body = []
        for row in rows:
            noted = {
                column: self._inline(notes[row.key, column])
                for column in NOTE_COLUMNS
                if (row.key, column) in notes
            }
            body.append(self.cells(row, noted))
        table = build_table(self.headers, body, classes=["yxt-errors"])
        self.set_source_info(table)
        return [table]

    def _inline(self, note: Note) -> list[nodes.Node]:
        parsed, messages = self.parse_inline(note.text, lineno=self.content_offset + note.line + 1)
        return [*parsed, *messages]

    @staticmethod
    def _meaning(row: ErrorRow) -> list[nodes.Node]:
        text = row.meaning if not row.summary else f"{row.meaning.rstrip('.')}. {row.summary}"
        return [nodes.Text(text)]


class ResultCodesDirective(_ErrorTable):
    """``yxt-result-codes``: every result code of ``ERRORS_BY_CODE``."""

    headers = ("Code", "Error class", "Meaning", "Retried by the client", "In a campaign", "What to do")

    def rows(self) -> list[ErrorRow]:
        return result_code_rows()

    def cells(self, row: ErrorRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        return [
            literal(str(row.code)),
            _class_ref(row.cls),
            self._meaning(row),
            noted.get("retries") or row.retries,
            noted.get("campaign") or row.campaign,
            noted.get("todo") or row.hint or "—",
        ]


class OtherErrorsDirective(_ErrorTable):
    """``yxt-other-errors``: failures without a listed code (transport, protocol, unlisted code, collision)."""

    headers = ("Error class", "When", "Retried by the client", "In a campaign", "What to do")

    def rows(self) -> list[ErrorRow]:
        return other_error_rows()

    def cells(self, row: ErrorRow, noted: Mapping[str, list[nodes.Node]]) -> list[Cell]:
        return [
            _class_ref(row.cls),
            self._meaning(row),
            noted.get("retries") or row.retries,
            noted.get("campaign") or row.campaign,
            noted.get("todo") or row.hint or "—",
        ]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the two table directives."""
    app.add_directive("yxt-result-codes", ResultCodesDirective)
    app.add_directive("yxt-other-errors", OtherErrorsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
