"""The responder over a real SQLite ledger, Airflow's side played by a fake HitlApi (the e2e test has the real one)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.client.models import Reply
from yxt_provider.ledger import Ledger
from yxt_provider.ledger.approval_store import ApprovalRequest, Question, ask, get_question, outcomes
from yxt_provider.replies.approvals import next_code
from yxt_provider.replies.responder import SMS_ANSWER_PARAM, HitlRefused, HitlStatus, respond

APPROVER, OTHER_APPROVER, STRANGER = "13800000001", "13800000002", "13900000009"


@dataclass
class FakeAirflow:
    """HITL requests by question key: waiting until answered (by us, or "in the UI")."""

    answered: dict[str, tuple[list[str], dict[str, Any], str]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    params: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    answer_calls: int = 0

    def status(self, question: Question) -> HitlStatus:
        key = question.question_key
        if key in self.gone:
            return HitlStatus(waiting=False)
        by = self.answered.get(key)
        return HitlStatus(
            waiting=by is None,
            params=self.params.get(key, {}),
            answered_by_us=by is not None and by[2] == "sms",
            chosen=None if by is None else tuple(by[0]),
        )

    def answer(self, question: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
        self.answer_calls += 1
        if question.question_key in self.answered:
            return False
        self.answered[question.question_key] = (list(options), dict(params_input), "sms")
        return True

    def answer_in_ui(self, question: Question, options: list[str]) -> None:
        self.answered[question.question_key] = (options, {}, "ui")


def _ask(
    ledger: Ledger, ti: str, options: Collection[str] = ("Approve", "Reject"), *approvers: str
) -> Question:
    request = ApprovalRequest(
        ti_id=ti, dag_id="d", run_id="r", task_id=ti, map_index=-1, try_number=1, options=tuple(options),
        multiple=False, approvers=approvers or (APPROVER,),
    )  # fmt: skip
    return ask(ledger.engine, request, next_code)


def _replies(ledger: Ledger, *items: tuple[str, str], at: datetime | None = None) -> None:
    when = at or datetime.now(timezone.utc)
    ledger.store_replies(
        [Reply("1069000012345", text, when, number) for number, text in items], opt_out_keywords=None
    )


def _respond(ledger: Ledger, airflow: FakeAirflow, acks: list[tuple[str, str, str]] | None = None) -> Any:
    with ledger.take_replies("yxt_sms_approvals") as batch:
        counts = respond(batch, airflow)
    if acks is not None:
        acks.extend(counts.acknowledgements)
    return counts


@pytest.fixture
def ledger(tmp_path: Any) -> Ledger:
    return Ledger.from_url(f"sqlite:///{tmp_path}/ledger.db")


def test_the_approvers_answer_answers_the_request(ledger: Ledger) -> None:
    question = _ask(ledger, "ti-1")
    airflow = FakeAirflow()
    _replies(ledger, (APPROVER, "同意"))
    counts = _respond(ledger, airflow)
    assert counts.answered == 1
    options, params_input, _ = airflow.answered[question.question_key]
    assert options == ["Approve"]
    assert params_input[SMS_ANSWER_PARAM].startswith("138****0001 · A · ")
    assert not FULL_MOBILE.search(params_input[SMS_ANSWER_PARAM])
    assert get_question(ledger.engine, question.question_key).state == "answered"  # type: ignore[union-attr]


def test_only_approvers_and_matching_answers_change_anything(ledger: Ledger) -> None:
    first = _ask(ledger, "ti-1")
    second = _ask(ledger, "ti-2", ("发布", "回滚"))
    airflow = FakeAirflow()
    _replies(
        ledger,
        (STRANGER, f"{first.code}1"),
        (APPROVER, "好的"),
        (APPROVER, "1"),
        (APPROVER, "Z1"),
        (STRANGER, "几点开门"),
    )
    acks: list[tuple[str, str, str]] = []
    counts = _respond(ledger, airflow, acks)
    assert counts.answered == 0 and airflow.answered == {}
    assert counts.outcomes == {"not_an_approver": 1, "no_match": 1, "ambiguous": 1, "unknown_code": 1}
    assert counts.unrelated == 1  # the stranger's question is another consumer's business
    # Hints go to the approver only, never to the stranger, and hold no number.
    assert {number for number, _, _ in acks} == {APPROVER}
    assert all(not FULL_MOBILE.search(hint) for _, hint, _ in acks)
    assert any(
        first.code in hint and second.code in hint for _, hint, _ in acks
    )  # the ambiguous one lists codes


def test_an_answer_in_the_ui_first_stands(ledger: Ledger) -> None:
    question = _ask(ledger, "ti-1")
    airflow = FakeAirflow()
    airflow.answer_in_ui(question, ["Reject"])
    _replies(ledger, (APPROVER, "1"))
    counts = _respond(ledger, airflow)
    assert counts.outcomes == {"closed": 1} and airflow.answer_calls == 0
    assert airflow.answered[question.question_key][0] == ["Reject"]
    assert get_question(ledger.engine, question.question_key).state == "closed"  # type: ignore[union-attr]


def test_a_race_lost_to_the_ui_closes_the_question_unanswered(ledger: Ledger) -> None:
    question = _ask(ledger, "ti-1")

    class LosesTheRace(FakeAirflow):
        def answer(self, q: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
            self.answer_in_ui(q, ["Reject"])  # the UI got there between our check and our answer
            return super().answer(q, options, params_input)

    airflow = LosesTheRace()
    _replies(ledger, (APPROVER, "1"))
    assert _respond(ledger, airflow).outcomes == {"closed": 1}
    closed = get_question(ledger.engine, question.question_key)
    assert closed is not None and (closed.state, closed.answer) == ("closed", None)


def test_an_answer_repeated_after_a_lost_commit_counts_once(ledger: Ledger) -> None:
    question = _ask(ledger, "ti-1")
    airflow = FakeAirflow()
    _replies(ledger, (APPROVER, "1"))
    with pytest.raises(RuntimeError), ledger.take_replies("yxt_sms_approvals") as batch:
        respond(batch, airflow)
        raise RuntimeError("the worker died before the commit")
    # Airflow has our answer, the ledger does not: handled again, recognised as ours.
    counts = _respond(ledger, airflow)
    assert counts.answered == 1 and airflow.answer_calls == 1
    _replies(ledger, (APPROVER, "2"))  # a change of mind after the answer went out
    assert _respond(ledger, airflow).outcomes == {"closed": 1}
    assert sorted(o for _, _, o in outcomes(ledger.engine)) == ["answered", "closed"]
    assert airflow.answered[question.question_key][0] == ["Approve"]
    assert get_question(ledger.engine, question.question_key).state == "answered"  # type: ignore[union-attr]


def test_a_request_that_is_gone_closes_and_a_form_gets_its_defaults(ledger: Ledger) -> None:
    gone = _ask(ledger, "ti-1")
    form = _ask(ledger, "ti-2", ("Approve", "Reject"), OTHER_APPROVER)
    airflow = FakeAirflow(
        gone={gone.question_key}, params={form.question_key: {"reason": {"value": "sms", "schema": {}}}}
    )
    _replies(ledger, (APPROVER, "1"), (OTHER_APPROVER, "拒绝"))
    counts = _respond(ledger, airflow)
    assert counts.answered == 1 and counts.outcomes == {"closed": 1}
    assert airflow.answered[form.question_key][:2] == (["Reject"], {"reason": "sms"})


def test_each_reply_is_handled_once(ledger: Ledger) -> None:
    _ask(ledger, "ti-1")
    airflow = FakeAirflow()
    _replies(ledger, (APPROVER, "好的"))
    assert _respond(ledger, airflow).outcomes == {"no_match": 1}
    assert _respond(ledger, airflow).outcomes == {}


def test_the_code_of_a_question_closed_meanwhile_is_too_late_not_unknown(ledger: Ledger) -> None:
    closed = _ask(ledger, "ti-1")
    still_open = _ask(ledger, "ti-2")
    airflow = FakeAirflow()
    airflow.answer_in_ui(closed, ["Approve"])
    _replies(ledger, (APPROVER, f"{closed.code}2"))
    acks: list[tuple[str, str, str]] = []
    assert _respond(ledger, airflow, acks).outcomes == {"closed": 1}
    assert still_open.question_key not in airflow.answered
    assert [hint for _, hint, _ in acks] == ["该审批已结束，您的回复未被采用。"]


def test_a_refused_answer_is_recorded_and_the_batch_goes_on(ledger: Ledger) -> None:
    refused = _ask(ledger, "ti-1")
    fine = _ask(ledger, "ti-2", ("Approve", "Reject"), OTHER_APPROVER)

    class Refuses(FakeAirflow):
        def answer(self, q: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
            if q.question_key == refused.question_key:
                raise HitlRefused("HTTP 403: the user may not answer; 13800000001 echoed")
            return super().answer(q, options, params_input)

    airflow = Refuses()
    _replies(ledger, (APPROVER, "1"), (OTHER_APPROVER, "1"))
    counts = _respond(ledger, airflow)
    assert (counts.answered, counts.outcomes) == (1, {"refused": 1})
    assert fine.question_key in airflow.answered
    assert get_question(ledger.engine, refused.question_key).state == "closed"  # type: ignore[union-attr]


def test_airflow_unreachable_rolls_the_batch_back_and_loses_nothing(ledger: Ledger) -> None:
    question = _ask(ledger, "ti-1")

    class Down(FakeAirflow):
        def status(self, q: Question) -> HitlStatus:
            raise ConnectionError("connection refused")

    _replies(ledger, (APPROVER, "1"))
    with pytest.raises(ConnectionError):
        _respond(ledger, Down())
    assert outcomes(ledger.engine) == []
    airflow = FakeAirflow()
    assert _respond(ledger, airflow).answered == 1  # handed out again once Airflow is back
    assert airflow.answered[question.question_key][0] == ["Approve"]


def test_a_reply_older_than_the_question_does_not_answer_it(ledger: Ledger) -> None:
    first = _ask(ledger, "ti-1")
    airflow = FakeAirflow()
    airflow.answer_in_ui(first, ["Approve"])
    assert _respond(ledger, airflow).outcomes == {}  # nothing to handle yet; first closes on the next reply
    with ledger.engine.begin() as conn:
        from yxt_provider.ledger.approval_store import close

        close(conn, first.question_key)
    second = _ask(ledger, "ti-2")  # the code A is free again
    assert second.code == first.code
    # "A1", received (by the gateway) before the second question was asked: meant for the first.
    _replies(ledger, (APPROVER, f"{first.code}1"), at=second.asked_at - timedelta(minutes=10))
    assert _respond(ledger, airflow).outcomes == {"closed": 1}
    assert second.question_key not in airflow.answered
