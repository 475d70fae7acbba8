"""An alert's event, read from Airflow's callback context, whatever shape that context has.

Airflow hands callbacks different contexts: a task's (``ti``, ``dag_run``, ``exception``),
a DAG's (``dag_run``, ``reason``), a deadline's from the triggerer (``dag_run`` as a plain
dict, ``deadline``), a human-in-the-loop task's. Fields can be missing or ``None``
(``duration``, ``end_date``, ``exception``); reading them here never raises, so a missing
field can never make an alert fail.

The event's identity (dag, run, task, map index, try, kind) seeds the SMS serial: a callback
that fires twice for the same event — in one process or two — derives the same serial, and
the gateway sends the second one to nobody (code 15).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yxt_provider.campaign.serials import serial_for_batch

__all__ = ["AlertEvent"]

# What happened, from the task instance's state when the callback runs (or the context's shape).
_KIND_OF_STATE = {
    "failed": "failure",
    "up_for_retry": "retry",
    "success": "success",
    "skipped": "skipped",
    "running": "running",
    "deferred": "running",
    "awaiting_input": "running",
}
_ISO_IN_RUN_ID = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})")


def _field(source: Any, name: str) -> Any:
    """``source[name]`` or ``source.name``; ``None`` when neither is there (or reading it fails)."""
    if source is None:
        return None
    try:
        if isinstance(source, Mapping):
            return source.get(name)
        return getattr(source, name, None)
    except Exception:  # a lazy context value that cannot be produced here must not fail the alert
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


@dataclass(frozen=True)
class AlertEvent:
    """What an alert is about.

    :param kind: ``failure``, ``retry``, ``success``, ``skipped``, ``running`` (a task that
        waits, e.g. for a human), ``deadline`` (a missed deadline) or ``dag_failure`` /
        ``dag_success`` (DAG callbacks); ``event`` when none of these can be told.
    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task (``None`` for DAG and deadline events).
    :param map_index: the mapped task's index (-1 when not mapped).
    :param try_number: the try that ended (``None`` when not a task event).
    :param max_tries: the task's retries plus one try, when known.
    :param error: the exception's text (type and message), or the DAG callback's reason.
    :param deadline_id: the missed deadline's id (deadline events).
    :param log_url: the task's log URL, when the context has one.
    """

    kind: str
    dag_id: str
    run_id: str
    task_id: str | None = None
    map_index: int = -1
    try_number: int | None = None
    max_tries: int | None = None
    error: str | None = None
    deadline_id: str | None = None
    log_url: str | None = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any], kind: str | None = None) -> AlertEvent:
        """Read the event off a callback context; missing fields become ``None``, never an error.

        :param context: what Airflow passed to the callback or notifier.
        :param kind: the event's kind when the caller knows it better than the context says.
        """
        ti = _field(context, "ti") or _field(context, "task_instance")
        dag_run = _field(context, "dag_run")
        deadline = _field(context, "deadline")
        dag_id = _text(
            _field(ti, "dag_id") or _field(dag_run, "dag_id") or _field(_field(context, "dag"), "dag_id")
        )
        run_id = _text(_field(ti, "run_id") or _field(dag_run, "run_id") or _field(dag_run, "dag_run_id"))
        if deadline is not None:
            found_kind = "deadline"
        elif ti is not None:
            found_kind = _KIND_OF_STATE.get(_text(_field(ti, "state")) or "", "event")
        else:
            found_kind = {"failed": "dag_failure", "success": "dag_success"}.get(
                _text(_field(dag_run, "state")) or "", "event"
            )
        exception = _field(context, "exception")
        error = (
            f"{type(exception).__name__}: {exception}"
            if isinstance(exception, BaseException)
            else _text(exception) or _text(_field(context, "reason"))
        )
        map_index = _field(ti, "map_index")
        try_number = _field(ti, "try_number")
        max_tries = _field(ti, "max_tries")
        return cls(
            kind=kind or found_kind,
            dag_id=dag_id or "unknown-dag",
            run_id=run_id or "unknown-run",
            task_id=_text(_field(ti, "task_id")),
            map_index=-1 if map_index is None else int(map_index),
            try_number=None if try_number is None else int(try_number),
            max_tries=None if max_tries is None else int(max_tries),
            error=error,
            deadline_id=_text(_field(deadline, "id")),
            log_url=_text(_field(ti, "log_url")),
        )

    @property
    def retries_left(self) -> bool:
        """True when a retry will follow: the try is not the last one the task has."""
        if self.kind == "retry":
            return True
        return (
            self.try_number is not None and self.max_tries is not None and self.try_number <= self.max_tries
        )

    @property
    def identity(self) -> str:
        """A text naming this event and no other (the seed of its serial)."""
        parts = [self.kind, self.dag_id, self.run_id, self.task_id or "", str(self.map_index)]
        parts += [str(self.try_number or ""), self.deadline_id or ""]
        return "\x1f".join(parts)

    def serial(self, audience: str, batch_index: int = 0, deployment_key: str = "") -> str:
        """The 20-digit serial of the alert's ``batch_index``-th request (1000 recipients each).

        :param audience: what the sending notifier sends to whom (its recipients, template and
            text): two notifiers on one event are two SMS, one notifier firing twice is one.
        :param batch_index: which request of the alert.
        :param deployment_key: what tells this Airflow deployment from another on the same
            gateway account (the ledger's identity), so staging's alert does not silence
            production's for the same run id.
        """
        return serial_for_batch(f"{self.identity}\x1f{audience}", batch_index, deployment_key)

    @property
    def when(self) -> str:
        """The run, shortly: its date and time (``12-01 09:00``) when the run id holds one."""
        match = _ISO_IN_RUN_ID.search(self.run_id)
        if match is None:
            return self.run_id[:16]
        _, month, day, hour, minute = match.groups()
        return f"{month}-{day} {hour}:{minute}"

    @staticmethod
    def deadline_time(context: Mapping[str, Any]) -> datetime | None:
        """The missed deadline's time, when the context says it.

        :param context: a deadline callback's context.
        """
        value = _field(_field(context, "deadline"), "deadline_time")
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value)) if value else None
        except ValueError:
            return None
