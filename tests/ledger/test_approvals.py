"""Approval questions in the ledger: codes, approvers, claims, outcomes, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Collection

import pytest

from tests.ledger.conftest import phone
from yxt_provider.ledger import Ledger
from yxt_provider.ledger.approval_store import (
    ApprovalRequest,
    ask,
    claim,
    close,
    get_question,
    is_approver,
    open_questions,
    outcomes,
    record_outcome,
    unclaim,
)
from yxt_provider.ledger.engine import write_transaction


def letters(in_use: Collection[str]) -> str:
    return next(code for code in "ABCDEFGH" if code not in in_use)


def request(ti: str, *approvers: str, try_number: int = 1, task: str | None = None) -> ApprovalRequest:
    return ApprovalRequest(
        ti_id=ti, dag_id="d", run_id="r", task_id=task or f"t-{ti}", map_index=-1, try_number=try_number,
        options=("Approve", "Reject"), multiple=False, approvers=approvers,
    )  # fmt: skip


def test_codes_differ_among_an_approvers_open_questions(ledger: Ledger) -> None:
    a = ask(ledger.engine, request("ti-1", phone(1), phone(2)), letters)
    b = ask(ledger.engine, request("ti-2", phone(2)), letters)
    c = ask(ledger.engine, request("ti-3", phone(3)), letters)
    assert (a.code, b.code, c.code) == ("A", "B", "A")  # phone(3) shares no question with the others
    assert ask(ledger.engine, request("ti-1", phone(1), phone(2)), letters) == a  # asked again: the same
    with ledger.engine.connect() as conn:
        assert [q.code for q in open_questions(conn, phone(2))] == ["A", "B"]
        assert [q.code for q in open_questions(conn, phone(1))] == ["A"]
        assert len(open_questions(conn)) == 3
        assert is_approver(conn, phone(3)) and not is_approver(conn, phone(9))


def test_a_closed_question_frees_its_code_and_a_new_try_replaces_the_old(ledger: Ledger) -> None:
    first = ask(ledger.engine, request("ti-1", phone(1), task="approve"), letters)
    # Airflow 3 gives the next try of the same task instance a new id.
    retry = ask(ledger.engine, request("ti-1b", phone(1), try_number=2, task="approve"), letters)
    assert get_question(ledger.engine, first.question_key).state == "closed"  # type: ignore[union-attr]
    assert retry.code == "A" and retry.state == "open"
    with write_transaction(ledger.engine) as conn:
        close(conn, retry.question_key)
    assert ask(ledger.engine, request("ti-2", phone(1)), letters).code == "A"


def test_one_claim_wins_and_an_unclaimed_question_stays_closed(ledger: Ledger) -> None:
    question = ask(ledger.engine, request("ti-1", phone(1)), letters)
    with write_transaction(ledger.engine) as conn:
        assert claim(conn, question.question_key, ["Approve"], "reply-1")
        assert not claim(conn, question.question_key, ["Reject"], "reply-2")
    answered = get_question(ledger.engine, question.question_key)
    assert answered is not None and (answered.state, answered.answer) == ("answered", ("Approve",))
    with write_transaction(ledger.engine) as conn:
        unclaim(conn, question.question_key)
    undone = get_question(ledger.engine, question.question_key)
    assert undone is not None and (undone.state, undone.answer) == ("closed", None)


def test_claims_race_across_connections(ledger: Ledger) -> None:
    question = ask(ledger.engine, request("ti-1", phone(1)), letters)
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def try_claim(i: int) -> None:
        barrier.wait()
        with write_transaction(ledger.engine) as conn:
            wins.append(claim(conn, question.question_key, ["Approve"], f"reply-{i}"))

    threads = [threading.Thread(target=try_claim, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]


def test_outcomes_are_recorded_once_and_checked(ledger: Ledger) -> None:
    question = ask(ledger.engine, request("ti-1", phone(1)), letters)
    with write_transaction(ledger.engine) as conn:
        record_outcome(conn, "reply-1", "no_match", None, "unknown_answer")
        record_outcome(conn, "reply-2", "answered", question.question_key, "chose Approve")
        record_outcome(conn, "reply-2", "closed", question.question_key)  # kept as first recorded
        with pytest.raises(ValueError, match="unknown approval outcome 'maybe'"):
            record_outcome(conn, "reply-3", "maybe")
    assert outcomes(ledger.engine) == [
        ("reply-1", None, "no_match"), ("reply-2", question.question_key, "answered"),
    ]  # fmt: skip
    assert outcomes(ledger.engine, question.question_key) == [("reply-2", question.question_key, "answered")]


def test_a_question_needs_approvers_and_options(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="at least one approver"):
        ask(ledger.engine, request("ti-1"), letters)
