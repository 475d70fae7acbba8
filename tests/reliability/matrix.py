"""The fault matrix as data: every gateway fault the sandbox injects, crossed with every call.

Rows are faults, columns are the provider's calls, and each cell names the outcome it must
have. :func:`render_markdown` writes the observed outcomes as the documentation's table, so
that page shows what the last run saw, not what this file hopes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CALLS",
    "CALL_TITLES",
    "ENDPOINT_OF_CALL",
    "FAULTS",
    "LOST_ANSWER_ADVICE",
    "NOT_APPLICABLE",
    "RECEIPTS_LOST",
    "RECORDED_REFUSED",
    "RETRIED",
    "UNAFFECTED",
    "Cell",
    "FaultRow",
    "cells",
    "failed",
    "render_markdown",
]

#: The calls under test, in column order.
CALLS: tuple[str, ...] = ("send", "report", "reply_query", "reply_confirm", "notifier")
#: Column headings.
CALL_TITLES: Mapping[str, str] = {
    "send": "send (campaign)",
    "report": "report (receipt ingest)",
    "reply_query": "reply query (reply ingest)",
    "reply_confirm": "reply confirm (reply ingest)",
    "notifier": "notifier (`YxtSmsNotifier`)",
}
#: The sandbox endpoint a call's fault is injected on.
ENDPOINT_OF_CALL: Mapping[str, str] = {
    "send": "send",
    "report": "report",
    "reply_query": "query",
    "reply_confirm": "confirm",
    "notifier": "send",
}

#: The call hit a fault, retried, and ended as if nothing had happened.
RETRIED = "retried, succeeded"
#: The fault spoiled an answer the call does not need.
UNAFFECTED = "succeeded, answer not needed"
#: Numbers refused inside an accepted send are recorded refused, the rest sent once.
RECORDED_REFUSED = "recorded refused"
#: The fault does not concern this call.
NOT_APPLICABLE = "n/a"
#: Appended when the fault made the gateway hand out receipts that never arrived.
RECEIPTS_LOST = "receipts lost at the gateway"


def failed(error: str, cause: str | None = None) -> str:
    """The outcome of a call that failed with ``error`` (caused by ``cause``, for campaign errors)."""
    return f"failed: {error}" + (f" ({cause})" if cause else "")


@dataclass(frozen=True)
class FaultRow:
    """One fault and what each call must do about it.

    :param name: the row's id (in test ids: ``send-http_500``).
    :param title: the fault in a few words, for the table.
    :param kind: the sandbox fault kind; ``None`` for the failList row, which is no fault rule.
    :param times: calls hit (``None``: every call, a fault that lasts).
    :param seconds: the delay of timed faults, beyond the cells' read timeout.
    :param expected: call → outcome; a call not named is not applicable.
    :param advice: phrases (regular expressions) a failure's message must contain: what to do.
    :param answer_unknown: the client cannot tell whether the call took effect, so a failure
        must also say what that means for the call (:data:`LOST_ANSWER_ADVICE`).
    """

    name: str
    title: str
    kind: str | None
    times: int | None
    expected: Mapping[str, str]
    seconds: float = 0.0
    advice: tuple[str, ...] = field(default=())
    answer_unknown: bool = False

    def fault(self, call: str) -> dict[str, Any] | None:
        """The sandbox fault rule of this row for ``call`` (as the control plane takes it)."""
        if self.kind is None:
            return None
        rule: dict[str, Any] = {"endpoint": ENDPOINT_OF_CALL[call], "kind": self.kind, "times": self.times}
        if self.seconds:
            rule["seconds"] = self.seconds
        return rule


#: A fault that goes on answering after the client's retries: the call has to fail.
LASTING = None
_ALL_RETRIED = dict.fromkeys(CALLS, RETRIED)
_PROTOCOL = "YxtProtocolError"
_INCOMPLETE = "CampaignIncompleteError"

FAULTS: tuple[FaultRow, ...] = (
    FaultRow(
        "latency",
        "latency beyond the read timeout (before handling)",
        "latency",
        1,
        _ALL_RETRIED,
        # Well past the retry: the late handling must meet a call already answered.
        seconds=1.0,
    ),
    FaultRow("http_500", "HTTP 500", "http_500", 1, _ALL_RETRIED),
    FaultRow("drop", "connection reset before answering", "drop", 1, _ALL_RETRIED),
    FaultRow(
        "accept_then_drop",
        "handled, then connection reset",
        "accept_then_drop",
        1,
        {**_ALL_RETRIED, "report": f"{RETRIED}; {RECEIPTS_LOST}"},
    ),
    FaultRow(
        "accept_then_stall",
        "handled, then answer held beyond the read timeout",
        "accept_then_stall",
        1,
        {**_ALL_RETRIED, "report": f"{RETRIED}; {RECEIPTS_LOST}"},
        seconds=0.6,
    ),
    FaultRow("code_11", "code-11 storm (3 in a row)", "code_11", 3, _ALL_RETRIED),
    FaultRow(
        "code_20",
        "code 20, lasting",
        "code_20",
        LASTING,
        {
            "send": failed(_INCOMPLETE, "YxtSendFailedError"),
            "report": failed("YxtSendFailedError"),
            "reply_query": failed("YxtSendFailedError"),
            "reply_confirm": failed("YxtSendFailedError"),
            "notifier": failed("YxtSendFailedError"),
        },
        advice=(r"code 20", r"retried a bounded number of times", r"gateway operator"),
    ),
    FaultRow(
        "clock_skew",
        "code 507 (skewed clock), lasting",
        "clock_skew",
        LASTING,
        {
            "send": failed("CampaignStoppedError", "YxtClockSkewError"),
            "report": failed("YxtClockSkewError"),
            "reply_query": failed("YxtClockSkewError"),
            "reply_confirm": failed("YxtClockSkewError"),
            "notifier": failed("YxtClockSkewError"),
        },
        advice=(r"code 507", r"clock is skewed", r"NTP"),
    ),
    FaultRow(
        "malformed_json",
        "HTTP 200, JSON cut off",
        "malformed_json",
        1,
        {
            "send": failed(_INCOMPLETE, _PROTOCOL),
            "report": failed(_PROTOCOL),
            "reply_query": failed(_PROTOCOL),
            "reply_confirm": failed(_PROTOCOL),
            "notifier": failed(_PROTOCOL),
        },
        advice=(r"not JSON", r"broke the protocol"),
        answer_unknown=True,
    ),
    FaultRow("html_error", "HTTP 502 HTML page (proxy)", "html_error", 1, _ALL_RETRIED),
    FaultRow(
        "wrong_type_code",
        'wrong type: `"code": "0"`',
        "wrong_type_code",
        1,
        {
            "send": failed(_INCOMPLETE, _PROTOCOL),
            "report": failed(_PROTOCOL),
            "reply_query": failed(_PROTOCOL),
            "reply_confirm": failed(_PROTOCOL),
            "notifier": failed(_PROTOCOL),
        },
        advice=(r"'code' is str", r"expected an integer", r"broke the protocol"),
        answer_unknown=True,
    ),
    FaultRow(
        "wrong_type_data",
        "wrong type: code 0, `data` a string",
        "wrong_type_data",
        1,
        {
            "send": failed(_INCOMPLETE, _PROTOCOL),
            "report": failed(_PROTOCOL),
            "reply_query": failed(_PROTOCOL),
            "reply_confirm": UNAFFECTED,
            "notifier": failed(_PROTOCOL),
        },
        advice=(r"code 0 but", r"data", r"broke the protocol"),
        answer_unknown=True,
    ),
    FaultRow(
        "fail_list",
        "`failList` (numbers refused inside an accepted send)",
        None,
        None,
        {"send": RECORDED_REFUSED, "notifier": RECORDED_REFUSED},
    ),
)

#: What each call's advice must add when its answer may have been lost (per call: PROTOCOL.md).
LOST_ANSWER_ADVICE: Mapping[str, str] = {
    "send": r"a retry reuses the serial",
    "report": r"hands each out once",
    "reply_query": r"replies stay on the gateway",
    "reply_confirm": r"confirms it",
    "notifier": r"may have been sent",
}


@dataclass(frozen=True)
class Cell:
    """One cell: a fault against a call, and the outcome it must have."""

    fault: FaultRow
    call: str

    @property
    def id(self) -> str:
        """The test id, e.g. ``send-http_500``."""
        return f"{self.call}-{self.fault.name}"

    @property
    def expected(self) -> str:
        """The outcome the cell must have."""
        return self.fault.expected[self.call]


def cells() -> list[Cell]:
    """Every applicable cell, row by row."""
    return [Cell(row, call) for row in FAULTS for call in CALLS if call in row.expected]


_LEGEND = f"""\
Legend:

- **{RETRIED}**: the call met the fault, retried (a send under the same serial) and ended
  as if nothing had happened; every recipient was accepted exactly once.
- **{RETRIED}; {RECEIPTS_LOST}**: as above, but the gateway handed out a receipt page whose
  answer never arrived; receipts are read once, so those messages stay *pending* in the
  ledger (nothing is stored twice, no message is lost from the ledger).
- **{UNAFFECTED}**: the fault spoiled an answer the call does not read.
- **{RECORDED_REFUSED}**: the numbers the gateway refused (`data.failList`) are recorded as
  *refused* (final, never re-sent), the others accepted once.
- **failed: *Error* (*cause*)**: the call raised *Error* (a campaign names its cause) with a
  message that says what to do; nothing was accepted twice, and a retry (of the task, or the
  next drain) completes the work: a campaign resumes and sends only what is missing.
  The notifier never raises: it logs the error instead.
- **{NOT_APPLICABLE}**: `failList` is part of send answers only; receipts and replies of the
  refused numbers never exist, so the other calls behave as usual.
"""


def render_markdown(observed: Mapping[str, str]) -> str:
    """The matrix as a Markdown page, with the observed outcome of every cell.

    :param observed: cell id → outcome seen in this run; a cell missing from it is shown as
        "not run". Deterministic: the same outcomes give the same bytes.
    """
    lines = [
        "# Fault matrix",
        "",
        "<!-- Generated by tests/reliability/test_fault_matrix.py; do not edit by hand. -->",
        "",
        "Every fault the sandbox gateway injects, against every call of the provider, with the",
        "outcome observed when the matrix last ran (see {doc}`reliability`).",
        "",
        "| fault | " + " | ".join(CALL_TITLES[call] for call in CALLS) + " |",
        "|---" * (len(CALLS) + 1) + "|",
    ]
    for row in FAULTS:
        outcomes = [
            observed.get(f"{call}-{row.name}", "not run") if call in row.expected else NOT_APPLICABLE
            for call in CALLS
        ]
        lines.append(f"| {row.title} | " + " | ".join(outcomes) + " |")
    counts: dict[str, int] = {}
    for cell in cells():
        outcome = observed.get(cell.id, "not run")
        key = "failed" if outcome.startswith("failed") else outcome
        counts[key] = counts.get(key, 0) + 1
    lines += ["", f"{len(cells())} cells:", ""]
    lines += [f"- {key}: {count}" for key, count in sorted(counts.items())]
    lines += ["", _LEGEND]
    return "\n".join(lines)
