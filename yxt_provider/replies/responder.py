"""Answer human-in-the-loop requests from SMS replies: the first matching answer from an approver wins.

For each reply the responder has not handled yet (``Ledger.take_replies``), in the order the
ledger stored them:

1. the replying number's open questions are checked against Airflow first: one answered in
   the UI meanwhile, timed out (Airflow applied its default), or gone (the task was cleared,
   failed) closes, so a later SMS can no longer change it;
2. the text is read against what is left (:func:`~yxt_provider.replies.approvals.read_answer`:
   codes, several questions per number, full-width digits, 同意/拒绝);
3. a match claims its question in the ledger (``open`` → ``answered``, compare-and-set) and
   answers it through Airflow's REST API, exactly as the UI would; the task resumes.

Everything else changes nothing: a reply from a number that is no approver, an answer that
matches no option, a reply to a closed question. Each such reply that concerned an approval
is recorded with its outcome and, when ``acknowledge`` is given, answered with a short text
saying why (off by default: replies cost money). A stranger is never answered.

The outcome, the question's state and the reply's "handled" mark commit in the batch's one
transaction: a crash before the commit hands the reply out again, and answering it again
finds the request already answered *by this responder*, which counts as answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from yxt_provider.client.numbers import mask_number
from yxt_provider.ledger import approval_store
from yxt_provider.ledger.approval_store import Question
from yxt_provider.replies.approvals import UNKNOWN_CODE, Answer, NoMatch, OpenQuestion, next_code, read_answer

__all__ = [
    "DEFAULT_CONSUMER",
    "HitlApi",
    "HitlStatus",
    "ResponderCounts",
    "respond",
]

log = logging.getLogger(__name__)

#: The reply consumer name the responder takes replies as (``yxt_reply_handled.consumer``).
DEFAULT_CONSUMER = "yxt_sms_approvals"
#: The HITL parameter that shows, in Airflow's UI, which number answered by SMS and when.
SMS_ANSWER_PARAM = "sms_answer"

_CLOSED_HINT = "该审批已结束，您的回复未被采用。"


@dataclass(frozen=True)
class HitlStatus:
    """A HITL request as Airflow has it.

    :param waiting: the task still waits for an answer (no response, task awaiting input or deferred).
    :param params: the request's form fields (``{name: {"value": ...}}``); empty for most approvals.
    :param answered_by_us: already answered through this responder's Airflow user.
    :param chosen: the options chosen, once answered.
    """

    waiting: bool
    params: Mapping[str, Any] = field(default_factory=dict)
    answered_by_us: bool = False
    chosen: tuple[str, ...] | None = None


class HitlApi(Protocol):
    """Airflow's side of a question, as the responder needs it (the REST API; a fake in tests)."""

    def status(self, question: Question) -> HitlStatus:
        """Where the question's HITL request stands."""
        ...

    def answer(self, question: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
        """Answer the request; ``False`` when it was answered already (Airflow answers 409)."""
        ...


Acknowledge = Callable[[str, str, str], None]
"""``(number, text, reply_key)``: send a short text back to an approver (exactly once per reply)."""


@dataclass
class ResponderCounts:
    """What one run of the responder did.

    :param answered: requests answered by SMS.
    :param outcomes: every other recorded outcome, counted.
    :param unrelated: replies that concerned no approval (left to other consumers).
    """

    answered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    unrelated: int = 0

    def count(self, outcome: str) -> None:
        """Count one outcome."""
        if outcome == "answered":
            self.answered += 1
        else:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def respond(batch: Any, airflow: HitlApi, acknowledge: Acknowledge | None = None) -> ResponderCounts:
    """Handle a batch of replies (a :class:`~yxt_provider.ledger.reply_store.ReplyBatch`).

    :param batch: the replies and the transaction to record in.
    :param airflow: Airflow's side.
    :param acknowledge: send a text to an approver whose reply changed nothing (``None``: never).
    """
    counts = ResponderCounts()
    conn = batch.connection
    for reply in batch.replies:
        outcome, question_key, detail, hint = _handle(conn, reply, airflow)
        if outcome is None:
            counts.unrelated += 1
            continue
        approval_store.record_outcome(conn, reply.reply_key, outcome, question_key, detail)
        counts.count(outcome)
        log.info(
            "SMS reply from %s: %s%s", mask_number(reply.user_number), outcome,
            f" ({detail})" if detail else "",
        )  # fmt: skip
        if hint and acknowledge is not None:
            acknowledge(reply.user_number, hint, reply.reply_key)
    return counts


def _handle(conn: Any, reply: Any, airflow: HitlApi) -> tuple[str | None, str | None, str | None, str | None]:
    """``(outcome, question_key, detail, hint)`` of one reply; outcome ``None``: not about approvals."""
    phone = reply.user_number
    live: dict[str, tuple[Question, HitlStatus]] = {}
    for question in approval_store.open_questions(conn, phone):
        status = airflow.status(question)
        if status.waiting or status.answered_by_us:
            # Answered by us but open in the ledger: a run that answered died before its commit.
            live[question.question_key] = (question, status)
        else:  # answered in the UI, timed out, cleared: no SMS may change it now
            approval_store.close(conn, question.question_key)
    if not live:
        if approval_store.is_approver(conn, phone):
            return "closed", None, "no open question for this number", _CLOSED_HINT
        # A stranger naming an open question by its code: recorded, never answered, changes
        # nothing. A bare "1" from a stranger is left alone: it may answer something else.
        named = next((q for q in approval_store.open_questions(conn) if _names(reply.content, q)), None)
        if named is not None:
            return "not_an_approver", named.question_key, "the number is no approver of this question", None
        return None, None, None, None
    result = read_answer(reply.content, [_open(q) for q, _ in live.values()])
    if isinstance(result, NoMatch):
        if result.reason == UNKNOWN_CODE:
            # The code of a question that has closed (answered in the UI, timed out): too late.
            late = next(
                (q for q in approval_store.closed_questions(conn, phone) if _names(reply.content, q)), None
            )
            if late is not None:
                return "closed", late.question_key, "the question has closed", _CLOSED_HINT
        return _NO_MATCH_OUTCOMES.get(result.reason, "no_match"), None, result.reason, result.hint
    question, status = live[result.question_key]
    if not approval_store.claim(conn, question.question_key, result.options, reply.reply_key):
        return "closed", question.question_key, "answered meanwhile", _CLOSED_HINT
    if status.answered_by_us:
        if tuple(status.chosen or ()) == tuple(result.options):
            # This reply's answer reached Airflow before a lost commit: the ledger says so now too.
            return (
                "answered",
                question.question_key,
                f"chose {', '.join(result.options)} (recorded again)",
                None,
            )
        approval_store.unclaim(conn, question.question_key)
        return "closed", question.question_key, "answered by an earlier reply", _CLOSED_HINT
    params_input = _params_input(status.params, phone, question, reply)
    if airflow.answer(question, result.options, params_input) or airflow.status(question).answered_by_us:
        return "answered", question.question_key, f"chose {', '.join(result.options)}", None
    # Answered in the UI between our check and our answer: the UI's answer stands.
    approval_store.unclaim(conn, question.question_key)
    return "closed", question.question_key, "answered in Airflow first", _CLOSED_HINT


_NO_MATCH_OUTCOMES = {
    "no_open_question": "closed",
    "ambiguous": "ambiguous",
    "unknown_code": "unknown_code",
    "unknown_answer": "no_match",
    "too_many": "too_many",
}


def _names(text: str, question: Question) -> bool:
    """Whether ``text`` answers ``question`` by its code (a bare answer does not name it)."""
    # Beside a second open question a bare answer is ambiguous, so only a coded one reads.
    other = OpenQuestion(key="\x00other", code=next_code([question.code]), options=question.options)
    return isinstance(read_answer(text, [_open(question), other]), Answer)


def _open(question: Question) -> OpenQuestion:
    return OpenQuestion(
        key=question.question_key, code=question.code, options=question.options, multiple=question.multiple
    )


def _params_input(params: Mapping[str, Any], phone: str, question: Question, reply: Any) -> dict[str, Any]:
    """The form values to send: the fields' defaults; for a request without fields, who answered and when.

    Airflow's UI shows a response's form values, so the masked number appears beside the
    answer there. A request with form fields gets only its own fields (the operator refuses
    others) with their defaults: an SMS cannot fill a form.
    """
    if params:
        return {
            name: (spec.get("value") if isinstance(spec, Mapping) else spec) for name, spec in params.items()
        }
    when = reply.reply_time.strftime("%Y-%m-%d %H:%M:%S UTC")
    return {SMS_ANSWER_PARAM: f"{mask_number(phone)} · {question.code} · {when}"}
