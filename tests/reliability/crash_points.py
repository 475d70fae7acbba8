"""The named instants at which the crash loops SIGKILL a task, and how each is reached.

A point is reached in one of three ways:

- ``task``: inside the task's process, a wrapper around a ledger or client method (installed
  only in the forked child, see :mod:`tests.reliability.crash_hooks`) kills the process
  before or after the call, or in the middle of its transaction (``inside``: at a SQL
  statement after the first, or at the commit);
- ``gateway``: the sandbox, having processed the call (a send accepted, a receipt page handed
  out, replies confirmed), kills the task before the answer is written, so the effect exists
  and the task never learns of it (:mod:`tests.reliability.crash_gateway`);
- ``clock``: the loop kills the task at a seeded random moment, wherever it is.

``hit`` (drawn per run from ``1..max_hit``) says at which call the point fires: the third
batch, the fifth receipt page.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JOBS", "POINTS", "CrashPoint", "points_of"]


@dataclass(frozen=True)
class CrashPoint:
    """One instant at which a task is killed.

    :param name: ``<job>.<instant>``, as summaries and failure messages name it.
    :param job: ``send``, ``receipts`` or ``replies``.
    :param side: ``task``, ``gateway`` or ``clock`` (see the module docstring).
    :param target: for ``task``: ``Class.method`` wrapped in the child; for ``gateway``: the endpoint.
    :param when: for ``task``: ``before``, ``after`` or ``inside`` the call.
    :param max_hit: the call at which it fires is drawn from ``1..max_hit``.
    :param only_arg: for ``task``: fire only on calls whose first positional argument after
        the campaign id (or the first, when there is none) equals this.
    :param loses_page: the receipt page in hand is lost by the protocol (read once, no
        acknowledgement): the check allows exactly that page to be missing.
    :param describes: what the instant is, in words.
    """

    name: str
    job: str
    side: str
    describes: str
    target: str = ""
    when: str = ""
    max_hit: int = 1
    only_arg: str | None = None
    loses_page: bool = False


#: The jobs a crash loop runs.
JOBS = ("send", "receipts", "replies")

# The workloads (tests/reliability/test_crash_safety.py) size these: five batches of a
# campaign, about nine receipt pages, about eight reply pages.
POINTS: tuple[CrashPoint, ...] = (
    CrashPoint("send.before_plan", "send", "task", "audience read, plan not written", "Ledger.create_plan", "before"),
    CrashPoint("send.mid_plan", "send", "task", "plan transaction open, not committed", "Ledger.create_plan", "inside"),
    CrashPoint("send.attempted_not_requested", "send", "task", "batch marked attempted, request not sent", "Ledger.mark_attempted", "after", 5),
    CrashPoint("send.mid_request", "send", "gateway", "gateway accepted the batch, answer not delivered", "send", max_hit=5),
    CrashPoint("send.answered_not_recorded", "send", "task", "answer received, batch not marked sent", "Ledger.mark_sent", "before", 5),
    CrashPoint("send.between_batches", "send", "task", "batch marked sent, next batch not started", "Ledger.mark_sent", "after", 4),
    CrashPoint("send.before_final_status", "send", "task", "every batch sent, campaign status not written", "Ledger.set_campaign_status", "before", only_arg="sent"),
    CrashPoint("send.random_moment", "send", "clock", "a seeded random moment of the task's life"),
    CrashPoint("receipts.fetched_not_stored", "receipts", "task", "page read from the gateway, not stored", "Ledger.store_receipts", "before", 9, loses_page=True),
    CrashPoint("receipts.mid_store", "receipts", "task", "page's store transaction open, not committed", "Ledger.store_receipts", "inside", 9, loses_page=True),
    CrashPoint("receipts.stored_before_next_fetch", "receipts", "task", "page committed, next page not asked for", "Ledger.store_receipts", "after", 9),
    CrashPoint("receipts.answer_lost", "receipts", "gateway", "gateway handed the page out, answer not delivered", "report", max_hit=9, loses_page=True),
    CrashPoint("receipts.random_moment", "receipts", "clock", "a seeded random moment of the drain", loses_page=True),
    CrashPoint("replies.fetched_not_stored", "replies", "task", "page read, not stored", "Ledger.store_replies", "before", 8),
    CrashPoint("replies.mid_store", "replies", "task", "page's store transaction open, not committed", "Ledger.store_replies", "inside", 8),
    CrashPoint("replies.stored_not_confirmed", "replies", "task", "page stored, not confirmed", "Ledger.store_replies", "after", 8),
    CrashPoint("replies.confirmed_answer_lost", "replies", "gateway", "gateway confirmed the page, answer not delivered", "confirm", max_hit=8),
    CrashPoint("replies.confirmed_before_next_query", "replies", "task", "page confirmed, next page not asked for", "YxtClient.confirm_replies", "after", 8),
    CrashPoint("replies.random_moment", "replies", "clock", "a seeded random moment of the drain"),
)  # fmt: skip


def points_of(job: str) -> tuple[CrashPoint, ...]:
    """The crash points of one job, in declaration order."""
    return tuple(point for point in POINTS if point.job == job)
