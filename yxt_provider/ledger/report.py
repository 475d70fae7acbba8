"""Delivery reports: counts for XCom and task logs, and the per-recipient CSV export.

The report itself never contains a phone number, so it can be logged and pushed to XCom.
The CSV export does contain them, in full: it is the user's own data file, written where
the user asks, and its rows are never logged.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import sqlalchemy as sa

from yxt_provider.ledger import schema, views

if TYPE_CHECKING:
    from yxt_provider.ledger.store import Ledger

__all__ = [
    "CSV_COLUMNS",
    "RESULT_MEANINGS",
    "DeliveryReport",
    "describe_result",
    "export_campaign_csv",
    "pending_timeout_of",
    "result_meanings",
]

# Receipt result codes other than 0 are specific to the gateway and the mobile operator and
# are not documented by the YXT interface, so only "delivered" has a known meaning.
RESULT_MEANINGS: dict[int, str] = {0: "delivered"}

CSV_COLUMNS = ("phone", "serial_number", "batch_index", "status", "result_code", "sent_at", "receipt_at")
_CSV_FETCH_ROWS = 5_000


def describe_result(code: int, meanings: Mapping[int, str] | None = None) -> str:
    """A short human description of a receipt result code, e.g. ``failed (code 2: 空号)``.

    :param code: the receipt's ``result`` (-1 stands for a failed message without a code).
    :param meanings: what the account's gateway or carrier says its failure codes mean; the
        YXT interface documents only 0 (delivered).
    """
    if code in RESULT_MEANINGS:
        return RESULT_MEANINGS[code]
    if code < 0:
        return "failed (no code)"
    meaning = (meanings or {}).get(code)
    return f"failed (code {code}: {meaning})" if meaning else f"failed (code {code})"


def pending_timeout_of(value: float | timedelta | None) -> timedelta | None:
    """A report's ``pending_timeout`` as DAG authors give it: seconds, a timedelta, or ``None``."""
    return value if value is None or isinstance(value, timedelta) else timedelta(seconds=value)


def result_meanings(values: Mapping[Any, Any] | None) -> dict[int, str]:
    """Normalise a ``{code: meaning}`` mapping from a DAG (keys may be strings, as in JSON).

    :raises ValueError: when a key is not an integer code.
    """
    normalised: dict[int, str] = {}
    for code, meaning in (values or {}).items():
        try:
            normalised[int(code)] = str(meaning)
        except (TypeError, ValueError):
            raise ValueError(
                f"result_meanings keys must be receipt result codes (integers), got {code!r}"
            ) from None
    return normalised


@dataclass(frozen=True)
class DeliveryReport:
    """Where every message of a campaign stands.

    ``sent`` counts the messages the gateway accepted, whatever happened next:
    ``sent == delivered + failed + pending`` and ``total == sent + not_sent``.

    :param campaign_id: the campaign.
    :param total: messages planned.
    :param sent: messages accepted by the gateway.
    :param delivered: messages with a receipt saying delivered.
    :param failed: messages with a receipt saying failed.
    :param failed_by_code: failed messages per receipt result code.
    :param pending: accepted messages still without a receipt.
    :param pending_past_timeout: of those, sent longer ago than ``pending_timeout``.
    :param not_sent: messages still planned (their batch was not accepted yet).
    :param pending_timeout: the timeout ``pending_past_timeout`` was counted with, if any.
    """

    campaign_id: str
    total: int
    sent: int
    delivered: int
    failed: int
    failed_by_code: dict[int, int] = field(default_factory=dict)
    pending: int = 0
    pending_past_timeout: int = 0
    not_sent: int = 0
    pending_timeout: timedelta | None = None

    @property
    def delivered_share(self) -> float:
        """Delivered messages as a share of the sent ones (0.0 when nothing was sent)."""
        return self.delivered / self.sent if self.sent else 0.0

    @property
    def complete(self) -> bool:
        """True when every message was sent and has a receipt."""
        return self.not_sent == 0 and self.pending == 0

    def to_dict(self, meanings: Mapping[int, str] | None = None) -> dict[str, Any]:
        """A small JSON-able dict for XCom (code keys become strings, as JSON requires).

        :param meanings: failure-code meanings; those of codes present are included.
        """
        known = {
            str(code): (meanings or {})[code] for code in self.failed_by_code if code in (meanings or {})
        }
        return {
            "campaign_id": self.campaign_id,
            "total": self.total,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_code": {str(code): n for code, n in self.failed_by_code.items()},
            "failed_code_meanings": known,
            "pending": self.pending,
            "pending_past_timeout": self.pending_past_timeout,
            "not_sent": self.not_sent,
            "pending_timeout_seconds": (
                None if self.pending_timeout is None else self.pending_timeout.total_seconds()
            ),
            "delivered_share": round(self.delivered_share, 6),
        }

    def as_table(self, meanings: Mapping[int, str] | None = None) -> str:
        """A plain-text table for task logs.

        :param meanings: failure-code meanings to print beside the codes.
        """

        def pct(n: int, of: int) -> str:
            return f"{100.0 * n / of:6.2f}%" if of else "      -"

        lines: list[tuple[str, int, str]] = [
            ("messages planned", self.total, ""),
            ("  sent (accepted by gateway)", self.sent, pct(self.sent, self.total)),
            ("    delivered", self.delivered, pct(self.delivered, self.sent)),
            ("    failed", self.failed, pct(self.failed, self.sent)),
        ]
        lines += [
            (f"      {describe_result(code, meanings)}", n, pct(n, self.sent))
            for code, n in self.failed_by_code.items()
        ]
        lines.append(("    pending (no receipt yet)", self.pending, pct(self.pending, self.sent)))
        if self.pending_timeout is not None:
            lines.append((f"      of which sent > {self.pending_timeout} ago", self.pending_past_timeout, ""))
        lines.append(("  not sent", self.not_sent, pct(self.not_sent, self.total)))
        width = max(len(label) for label, _, _ in lines)
        body = [f"{label:<{width}}  {n:>10,d}  {share}".rstrip() for label, n, share in lines]
        header = f"Delivery report for campaign {self.campaign_id}"
        rule = "-" * max(len(header), len(body[0]))
        return "\n".join([header, rule, *body])


def export_campaign_csv(
    ledger: Ledger, campaign_id: str, path_or_file: str | os.PathLike[str] | TextIO
) -> int:
    """Write one CSV row per recipient of the campaign, streaming from the database.

    Columns: :data:`CSV_COLUMNS`; timestamps in ISO 8601 UTC; rows ordered by batch and
    planned position. Memory stays bounded whatever the campaign size.

    :param ledger: the ledger.
    :param campaign_id: the campaign.
    :param path_or_file: a path (created or overwritten, UTF-8) or an open text file.
    :returns: the number of recipient rows written.
    """
    m = schema.messages.c
    query = (
        sa.select(
            m.phone, m.serial_number, m.batch_index, views.message_status, m.result_code,
            views.message_sent_at, m.receipt_at,
        )
        .select_from(views.messages_with_batches)
        .where(m.campaign_id == campaign_id)
        .order_by(m.batch_index, m.position)
    )  # fmt: skip
    written = 0
    with _open_text(path_or_file) as out, ledger.engine.connect() as conn:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        # stream_results: a server-side cursor on PostgreSQL, so a million rows are never all in memory.
        result = conn.execution_options(stream_results=True, yield_per=_CSV_FETCH_ROWS).execute(query)
        for partition in result.partitions():
            writer.writerows(
                (phone, serial, batch, status, "" if code is None else code, _iso(sent), _iso(receipt))
                for phone, serial, batch, status, code, sent, receipt in partition
            )
            written += len(partition)
    return written


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


@contextmanager
def _open_text(path_or_file: str | os.PathLike[str] | TextIO) -> Iterator[TextIO]:
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        if isinstance(path_or_file, io.TextIOBase) or hasattr(path_or_file, "write"):
            yield path_or_file
        else:  # pragma: no cover - guarded by the type hint
            raise TypeError("path_or_file must be a path or a text file")
