"""Arming a ``task`` crash point inside the forked task process: a wrapper that SIGKILLs it.

Only ever called in the disposable child process a crash loop forks (never in the test
process), so the wrappers replace the methods for that process's whole, short life and
nothing needs restoring. The product code carries no hook: what is wrapped is its public
ledger and client API, and SQLAlchemy's own connection events for the middle of a
transaction.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tests.reliability.crash_points import CrashPoint

__all__ = ["ArmedCrash", "arm", "die"]

_CLASSES = {
    "Ledger": ("yxt_provider.ledger.store", "Ledger"),
    "YxtClient": ("yxt_provider.client.client", "YxtClient"),
}


@dataclass(frozen=True)
class ArmedCrash:
    """A task crash point with the draws of one run.

    :param point: where.
    :param hit: the call of ``point.target`` at which it fires (1 = the first).
    :param statement: for ``inside``: the SQL statement of that call's transaction before
        which it fires (at the commit when the transaction has fewer).
    """

    point: CrashPoint
    hit: int
    statement: int = 2


def die() -> None:
    """SIGKILL this process: no ``finally``, no ``atexit``, no flush; what a lost worker looks like."""
    os.kill(os.getpid(), signal.SIGKILL)


def arm(crash: ArmedCrash) -> None:
    """Install the wrapper that kills this process when ``crash`` is reached."""
    point = crash.point
    owner_name, method_name = point.target.split(".")
    module_name, class_name = _CLASSES[owner_name]
    owner = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    original = getattr(owner, method_name)
    lock = threading.Lock()
    calls = 0
    inside = threading.local()

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if point.only_arg is not None and point.only_arg not in args:
            return original(*args, **kwargs)
        with lock:
            calls += 1
            this_call = calls
        fires = this_call == crash.hit
        if fires and point.when == "before":
            die()
        inside.armed = fires and point.when == "inside"
        inside.statements = 0
        try:
            result = original(*args, **kwargs)
        finally:
            inside.armed = False
        if fires and point.when == "after":
            die()
        return result

    if point.when == "inside":

        def before_statement(*_: Any) -> None:
            if getattr(inside, "armed", False):
                inside.statements += 1
                if inside.statements >= crash.statement:
                    die()

        def before_commit(*_: Any) -> None:
            if getattr(inside, "armed", False):
                die()

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", before_statement)
        sa.event.listen(sa.engine.Engine, "commit", before_commit)
    setattr(owner, method_name, wrapper)
