"""Answer human-in-the-loop requests from SMS replies: the first matching answer from an approver wins.

For each reply the responder has not handled yet (``Ledger.take_replies``), in the order the
ledger stored them:

1. the replying number's open questions are checked against Airflow first: one answered in
   the UI meanwhile, timed out (Airflow applied its default), or gone (the task was cleared,
   failed, or retried under a new id) closes, so a later SMS can no longer change it; and a
   question asked after the reply was received cannot be what the reply answers;
2. the text is read against what is left (:func:`~yxt_provider.replies.approvals.read_answer`:
   codes, several questions per number, full-width digits, 同意/拒绝);
3. a match claims its question in the ledger (``open`` → ``answered``, compare-and-set) and
   answers it through Airflow's REST API, exactly as the UI would; the task resumes.

Everything else changes nothing: a reply from a number that is no approver, an answer that
matches no option, a reply to a closed question, an answer Airflow refuses. Each such reply
that concerned an approval is recorded with its outcome and, when the caller sends them,
answered with a short text saying why (``ResponderCounts.acknowledgements``, sent after
the batch commits; off by default: replies cost money). A stranger is never answered.

The outcome, the question's state and the reply's "handled" mark commit in the batch's one
transaction. If Airflow cannot be reached, the error rolls the batch back and the replies
are handed out again: answering again finds the request already answered *by this
responder* with the same options, which counts as answered once. An answer Airflow refuses
(HTTP 400, 403) is recorded as ``refused`` and the batch goes on, so one bad request never
blocks the replies behind it. Keep batches small: on SQLite the transaction holds the
database's write lock while Airflow is asked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from yxt_provider.client.numbers import mask_number, mask_numbers_in_text
from yxt_provider.ledger import approval_store
from yxt_provider.ledger.approval_store import Question
from yxt_provider.replies import approvals
from yxt_provider.replies.approvals import Answer, NoMatch, OpenQuestion, read_answer

__all__ = [
    "CLOCK_SLACK",
    "SMS_ANSWER_PARAM",
    "HitlApi",
    "HitlRefused",
    "HitlStatus",
    "ResponderCounts",
    "respond",
]

log = logging.getLogger(__name__)

#: The HITL form value that shows, in Airflow's UI, which number answered by SMS and when.
SMS_ANSWER_PARAM = "sms_answer"
#: How far the gateway's clock may be behind the ledger's: a reply received more than this
#: before a question was asked cannot answer it (a late "A1" for a closed question A is not
#: an answer to the next question that got the code A).
CLOCK_SLACK = timedelta(minutes=2)

_CLOSED_HINT = "该审批已结束，您的回复未被采用。"
_NO_MATCH_OUTCOMES = {
    approvals.NO_OPEN_QUESTION: "closed",
    approvals.AMBIGUOUS: "ambiguous",
    approvals.UNKNOWN_CODE: "unknown_code",
    approvals.UNKNOWN_ANSWER: "no_match",
    approvals.TOO_MANY: "too_many",
}


@dataclass(frozen=True)
class HitlStatus:
    """A HITL request as Airflow has it.

    :param waiting: it can still be answered (no response yet, the task not finished, the same try).
    :param params: the request's form fields (``{name: {"value": ...}}``); empty for most approvals.
    :param answered_by_us: already answered through this responder's Airflow user.
    :param chosen: the options chosen, once answered.
    """

    waiting: bool
    params: Mapping[str, Any] = field(default_factory=dict)
    answered_by_us: bool = False
    chosen: tuple[str, ...] | None = None


class HitlRefused(Exception):
    """Airflow refused this answer for good (HTTP 400, 403): asking again would be refused again."""


class HitlApi(Protocol):
    """Airflow's side of a question, as the responder needs it (the REST API; a fake in tests)."""

    def status(self, question: Question) -> HitlStatus:
        """Where the question's HITL request stands."""
        ...

    def answer(self, question: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
        """Answer the request; ``False`` when it was answered already (HTTP 409).

        :raises HitlRefused: when Airflow refuses the answer itself.
        """
        ...


@dataclass
class ResponderCounts:
    """What one batch of the responder did.

    :param answered: requests answered by SMS.
    :param outcomes: every other recorded outcome, counted.
    :param unrelated: replies that concerned no approval (left to other consumers).
    :param acknowledgements: ``(number, text, reply_key)`` to send once the batch has committed.
    """

    answered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    unrelated: int = 0
    acknowledgements: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        """Count one outcome."""
        if outcome == "answered":
            self.answered += 1
        else:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def add(self, other: ResponderCounts) -> None:
        """Add another batch's counts (its acknowledgements are the caller's, already sent)."""
        self.answered += other.answered
        self.unrelated += other.unrelated
        for outcome, n in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n


@dataclass(frozen=True)
class _Outcome:
    outcome: str | None  # None: the reply concerned no approval
    question_key: str | None = None
    detail: str | None = None
    hint: str | None = None


_UNRELATED = _Outcome(None)


def respond(batch: Any, airflow: HitlApi) -> ResponderCounts:
    """Handle a batch of replies (a :class:`~yxt_provider.ledger.reply_store.ReplyBatch`).

    :param batch: the replies and the transaction to record in.
    :param airflow: Airflow's side.
    :returns: the counts, with the acknowledgements to send after the batch commits.
    """
    counts = ResponderCounts()
    conn: Connection = batch.connection
    for reply in batch.replies:
        result = _handle(conn, reply, airflow)
        if result.outcome is None:
            counts.unrelated += 1
            continue
        approval_store.record_outcome(
            conn, reply.reply_key, result.outcome, result.question_key, result.detail
        )
        counts.count(result.outcome)
        log.info(
            "SMS reply from %s: %s%s", mask_number(reply.user_number), result.outcome,
            f" ({result.detail})" if result.detail else "",
        )  # fmt: skip
        if result.hint:
            counts.acknowledgements.append((reply.user_number, result.hint, reply.reply_key))
    return counts


def _handle(conn: Connection, reply: Any, airflow: HitlApi) -> _Outcome:
    """What one reply comes to."""
    phone = reply.user_number
    live: dict[str, tuple[Question, HitlStatus]] = {}
    for question in approval_store.open_questions(conn, phone):
        if question.asked_at > reply.reply_time + CLOCK_SLACK:
            continue  # asked after this reply: whatever it answers, not this
        status = airflow.status(question)
        if status.waiting or status.answered_by_us:
            # Answered by us but open in the ledger: a batch that answered was rolled back.
            live[question.question_key] = (question, status)
        else:  # answered in the UI, timed out, cleared, retried: no SMS may change it now
            approval_store.close(conn, question.question_key)
    if not live:
        return _too_late(conn, reply) or _stranger(conn, reply)
    result = read_answer(reply.content, [_open(q) for q, _ in live.values()])
    if isinstance(result, NoMatch):
        if result.reason == approvals.UNKNOWN_CODE and (late := _too_late(conn, reply)):
            return late
        return _Outcome(_NO_MATCH_OUTCOMES.get(result.reason, "no_match"), None, result.reason, result.hint)
    question, status = live[result.question_key]
    chose = f"chose {mask_numbers_in_text(', '.join(result.options))}"
    if not approval_store.claim(conn, question.question_key, result.options, reply.reply_key):
        return _Outcome("closed", question.question_key, "answered meanwhile", _CLOSED_HINT)
    if status.answered_by_us:
        return _ours_already(conn, question, status, result, chose)
    if missing := [name for name, spec in status.params.items() if _value(spec) is None]:
        approval_store.unclaim(conn, question.question_key)
        return _Outcome(
            "refused", question.question_key, f"form fields without a default: {', '.join(missing)}"
        )
    try:
        accepted = airflow.answer(
            question, result.options, _params_input(status.params, phone, question, reply)
        )
    except HitlRefused as exc:
        approval_store.unclaim(conn, question.question_key)
        return _Outcome("refused", question.question_key, mask_numbers_in_text(str(exc))[:500])
    if accepted:
        return _Outcome("answered", question.question_key, chose)
    # Airflow had an answer already (HTTP 409): ours from a rolled-back batch, or the UI's.
    return _ours_already(conn, question, airflow.status(question), result, chose)


def _ours_already(
    conn: Connection, question: Question, status: HitlStatus, result: Answer, chose: str
) -> _Outcome:
    """A request Airflow already has an answer for: this reply's (counted once), or another's (it stands)."""
    if status.answered_by_us and tuple(status.chosen or ()) == tuple(result.options):
        return _Outcome("answered", question.question_key, f"{chose} (already in Airflow)")
    approval_store.unclaim(conn, question.question_key)
    return _Outcome("closed", question.question_key, "answered first elsewhere", _CLOSED_HINT)


def _too_late(conn: Connection, reply: Any) -> _Outcome | None:
    """An answer to a question of this number that has closed: recorded as too late; else ``None``."""
    for question in approval_store.closed_questions(conn, reply.user_number):
        if isinstance(read_answer(reply.content, [_open(question)]), Answer):
            return _Outcome("closed", question.question_key, "the question has closed", _CLOSED_HINT)
    return None


def _stranger(conn: Connection, reply: Any) -> _Outcome:
    """A stranger naming an open question by its code: recorded, never answered. A bare "1" is left alone."""
    for question in approval_store.open_questions(conn):
        if _names(reply.content, question):
            return _Outcome(
                "not_an_approver", question.question_key, "the number is no approver of this question"
            )
    return _UNRELATED


def _names(text: str, question: Question) -> bool:
    """Whether ``text`` answers ``question`` by its code (a bare answer does not name it)."""
    result = read_answer(text, [_open(question)])
    return isinstance(result, Answer) and result.by_code


def _open(question: Question) -> OpenQuestion:
    return OpenQuestion(
        key=question.question_key, code=question.code, options=question.options, multiple=question.multiple
    )


def _value(spec: Any) -> Any:
    return spec.get("value") if isinstance(spec, Mapping) else spec


def _params_input(params: Mapping[str, Any], phone: str, question: Question, reply: Any) -> dict[str, Any]:
    """The form values to send: the fields' defaults; for a request without fields, who answered and when.

    Airflow's UI shows a response's form values, so the masked number appears beside the
    answer there. A request with form fields gets only its own fields (the operator refuses
    others) with their defaults: an SMS cannot fill a form.
    """
    if params:
        return {name: _value(spec) for name, spec in params.items()}
    when = reply.reply_time.strftime("%Y-%m-%d %H:%M:%S UTC")
    return {SMS_ANSWER_PARAM: f"{mask_number(phone)} · {question.code} · {when}"}
