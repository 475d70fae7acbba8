"""Approvals by SMS: the questions asked, who may answer them, and what each reply came to.

A question is one try of a human-in-the-loop task that approvers may answer by text
message. Asking gives it a short code (``A``, ``B``, …) that no other open question of any
of its approvers has, so an answer that names a code can only mean one question. Answering
is a compare-and-set on the question's state (``open`` → ``answered``): two replies racing
for one question, in one responder or two, answer it once.

Every function but :func:`ask` works on the connection of the caller's transaction — the
responder's :meth:`~yxt_provider.ledger.Ledger.take_replies` batch — so a reply's outcome,
the question's new state and the reply's "handled" mark commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import dialects, schema
from yxt_provider.ledger.engine import reading, write_transaction

__all__ = [
    "ApprovalRequest",
    "Question",
    "ask",
    "claim",
    "close",
    "closed_questions",
    "get_question",
    "is_approver",
    "open_questions",
    "outcomes",
    "record_outcome",
    "unclaim",
]

_q = schema.approval_questions.c
_a = schema.approval_approvers.c
_o = schema.approval_outcomes.c
# Codes are chosen under one lock: two tasks asking at once must not both take "A" for a shared approver.
_CODE_LOCK = "yxt_approval_codes"


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """A human-in-the-loop request to put to approvers by SMS.

    :param ti_id: the task instance's id (Airflow's HITL detail is keyed by it).
    :param dag_id: the task instance's DAG.
    :param run_id: its run.
    :param task_id: its task.
    :param map_index: its map index (-1 when not mapped).
    :param try_number: its try (a cleared task asks again).
    :param options: the request's options, in order.
    :param multiple: whether several options may be chosen.
    :param approvers: the normalised numbers that may answer.
    """

    ti_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    options: tuple[str, ...]
    multiple: bool
    approvers: tuple[str, ...]

    @property
    def question_key(self) -> str:
        """The question's key: the task instance's id and try."""
        return f"{self.ti_id}/{self.try_number}"


@dataclass(frozen=True, kw_only=True)
class Question:
    """A question as the ledger has it.

    :param question_key: its key (task instance id / try).
    :param ti_id: the task instance's id.
    :param dag_id: the DAG.
    :param run_id: the run.
    :param task_id: the task.
    :param map_index: the map index.
    :param code: its short code.
    :param options: its options, in order.
    :param multiple: whether several options may be chosen.
    :param state: ``open``, ``answered`` (by SMS) or ``closed``.
    :param asked_at: when it was asked (UTC): a reply received before cannot answer it.
    :param answer: the options an SMS chose, when answered by SMS.
    """

    question_key: str
    ti_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    code: str
    options: tuple[str, ...]
    multiple: bool
    state: str
    asked_at: datetime
    answer: tuple[str, ...] | None = None


def _question(row: sa.Row[tuple[object, ...]]) -> Question:
    m = row._mapping
    return Question(
        question_key=m["question_key"], ti_id=m["ti_id"], dag_id=m["dag_id"], run_id=m["run_id"],
        task_id=m["task_id"], map_index=int(m["map_index"]), code=m["code"],
        options=tuple(json.loads(m["options"])), multiple=bool(m["multiple"]), state=m["state"],
        asked_at=m["asked_at"], answer=None if m["answer"] is None else tuple(json.loads(m["answer"])),
    )  # fmt: skip


def ask(engine: Engine, request: ApprovalRequest, next_code: Callable[[Collection[str]], str]) -> Question:
    """Record the question (once: asking again returns the first one) and give it its code.

    The task instance's earlier tries' questions close: only the current try can be answered.
    (Airflow 3 gives every try of a task instance a new id, so they are found by dag, run,
    task and map index.)

    :param engine: the ledger's engine.
    :param request: what to ask whom.
    :param next_code: the first code not in a collection of codes in use.
    :raises ValueError: for a request without approvers or options.
    """
    if not request.approvers:
        raise ValueError("an approval question needs at least one approver's number")
    if not request.options:
        raise ValueError("an approval question needs options")
    now = datetime.now(timezone.utc)
    with write_transaction(engine) as conn, dialects.named_lock(conn, _CODE_LOCK):
        existing = conn.execute(
            sa.select(schema.approval_questions).where(_q.question_key == request.question_key)
        ).first()
        if existing is not None:
            return _question(existing)
        conn.execute(
            sa.update(schema.approval_questions)
            .where(
                _q.dag_id == request.dag_id, _q.run_id == request.run_id, _q.task_id == request.task_id,
                _q.map_index == request.map_index, _q.state == "open",
            )
            .values(state="closed", closed_at=now)
        )  # fmt: skip
        in_use = set(
            conn.execute(
                sa.select(_q.code)
                .join(schema.approval_approvers, _a.question_key == _q.question_key)
                .where(_q.state == "open", _a.phone.in_(request.approvers))
                .distinct()
            ).scalars()
        )
        code = next_code(in_use)
        conn.execute(
            sa.insert(schema.approval_questions),
            {
                "question_key": request.question_key, "ti_id": request.ti_id, "dag_id": request.dag_id,
                "run_id": request.run_id, "task_id": request.task_id, "map_index": request.map_index,
                "try_number": request.try_number, "code": code, "options": json.dumps(list(request.options)),
                "multiple": request.multiple, "state": "open", "asked_at": now,
            },
        )  # fmt: skip
        conn.execute(
            sa.insert(schema.approval_approvers),
            [
                {"question_key": request.question_key, "phone": phone}
                for phone in dict.fromkeys(request.approvers)
            ],
        )
        row = conn.execute(
            sa.select(schema.approval_questions).where(_q.question_key == request.question_key)
        ).one()
    return _question(row)


def open_questions(conn: Connection, phone: str | None = None) -> list[Question]:
    """The open questions, oldest first: those ``phone`` may answer, or every one.

    :param conn: the caller's connection.
    :param phone: a normalised number; ``None``: every open question.
    """
    query = sa.select(schema.approval_questions).where(_q.state == "open")
    if phone is not None:
        query = query.join(schema.approval_approvers, _a.question_key == _q.question_key).where(
            _a.phone == phone
        )
    return [_question(row) for row in conn.execute(query.order_by(_q.asked_at, _q.question_key))]


def closed_questions(conn: Connection, phone: str, limit: int = 20) -> list[Question]:
    """The latest questions ``phone`` could answer that are no longer open, newest first."""
    query = (
        sa.select(schema.approval_questions)
        .join(schema.approval_approvers, _a.question_key == _q.question_key)
        .where(_a.phone == phone, _q.state != "open")
        .order_by(_q.asked_at.desc(), _q.question_key)
        .limit(limit)
    )
    return [_question(row) for row in conn.execute(query)]


def is_approver(conn: Connection, phone: str) -> bool:
    """Whether ``phone`` is an approver of any question, open or not (its replies concern approvals)."""
    return conn.execute(sa.select(_a.phone).where(_a.phone == phone).limit(1)).first() is not None


def get_question(bind: Engine | Connection, question_key: str) -> Question | None:
    """One question by its key, or ``None``."""
    with reading(bind) as conn:
        row = conn.execute(
            sa.select(schema.approval_questions).where(_q.question_key == question_key)
        ).first()
    return None if row is None else _question(row)


def claim(conn: Connection, question_key: str, options: Sequence[str], reply_key: str) -> bool:
    """Mark the question answered by this reply, if it is still open; ``False`` when it was not.

    :param conn: the caller's connection (its transaction).
    :param question_key: the question.
    :param options: the options the reply chose.
    :param reply_key: the reply.
    """
    result = conn.execute(
        sa.update(schema.approval_questions)
        .where(_q.question_key == question_key, _q.state == "open")
        .values(
            state="answered",
            closed_at=datetime.now(timezone.utc),
            answer=json.dumps(list(options)),
            reply_key=reply_key,
        )
    )
    return result.rowcount == 1


def unclaim(conn: Connection, question_key: str) -> None:
    """Undo a claim whose answer Airflow refused (the UI answered first): the question is closed, unanswered."""
    conn.execute(
        sa.update(schema.approval_questions)
        .where(_q.question_key == question_key, _q.state == "answered")
        .values(state="closed", answer=None, reply_key=None)
    )


def close(conn: Connection, question_key: str) -> None:
    """Close an open question: it was answered in Airflow's UI, timed out, or its task moved on."""
    conn.execute(
        sa.update(schema.approval_questions)
        .where(_q.question_key == question_key, _q.state == "open")
        .values(state="closed", closed_at=datetime.now(timezone.utc))
    )


def record_outcome(
    conn: Connection, reply_key: str, outcome: str, question_key: str | None = None, detail: str | None = None
) -> None:
    """Record what a reply came to (kept if recorded before: a reply has one outcome).

    :param conn: the caller's connection (its transaction).
    :param reply_key: the reply.
    :param outcome: one of :data:`~yxt_provider.ledger.schema.APPROVAL_OUTCOMES`.
    :param question_key: the question it concerned, if one.
    :param detail: why, in words (never a phone number).
    :raises ValueError: for an unknown outcome.
    """
    if outcome not in schema.APPROVAL_OUTCOMES:
        raise ValueError(f"unknown approval outcome {outcome!r}; one of {schema.APPROVAL_OUTCOMES}")
    conn.execute(
        dialects.insert_ignore(schema.approval_outcomes, conn.dialect),
        {"reply_key": reply_key, "question_key": question_key, "outcome": outcome, "detail": detail,
         "recorded_at": datetime.now(timezone.utc)},
    )  # fmt: skip


def outcomes(bind: Engine | Connection, question_key: str | None = None) -> list[tuple[str, str | None, str]]:
    """``(reply_key, question_key, outcome)`` of every recorded reply (of one question), oldest first."""
    query = sa.select(_o.reply_key, _o.question_key, _o.outcome).order_by(_o.recorded_at, _o.reply_key)
    if question_key is not None:
        query = query.where(_o.question_key == question_key)
    with reading(bind) as conn:
        return [(r.reply_key, r.question_key, r.outcome) for r in conn.execute(query)]
