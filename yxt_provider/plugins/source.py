"""Which ledger the view reads, and what its receipt codes mean: from Airflow's configuration.

``[yxt] ledger_conn_id`` (``AIRFLOW__YXT__LEDGER_CONN_ID``) names the ledger's SQL connection,
the same ``ledger_conn_id`` the DAGs give their SMS tasks; unset, the embedded SQLite file
under ``AIRFLOW_HOME``. ``[yxt] result_meanings`` (JSON, ``{"7": "空号"}``) says what the
account's receipt failure codes mean, as the report operators' ``result_meanings`` does.

Resolving the connection is a metadata-database query or a secrets-backend call, so its URL
is kept for a minute (a rotated password is picked up then; the old engine is closed), and
:func:`view_ledger` blocks: the app calls it off the event loop.

The view never creates or upgrades the ledger's tables: a ledger without them, or on another
schema version than this provider's, is reported as such, and so is a setting it cannot use.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from airflow.configuration import conf
from sqlalchemy.engine import Engine

from yxt_provider.hooks.ledger import YxtLedgerHook
from yxt_provider.ledger.engine import create_ledger_engine
from yxt_provider.ledger.migrations import LATEST_VERSION, current_version
from yxt_provider.ledger.report import result_meanings

__all__ = ["CONFIG_SECTION", "URL_TTL_SECONDS", "LedgerSource", "forget_connections", "view_ledger"]

#: The configuration section of the provider's settings.
CONFIG_SECTION = "yxt"
#: How long a resolved connection URL is used before the connection is read again.
URL_TTL_SECONDS = 60.0

_LOCK = threading.Lock()
# conn id ("" for the embedded file) → (URL, engine, when to read the connection again)
_RESOLVED: dict[str, tuple[str, Engine, float]] = {}


@dataclass(frozen=True)
class LedgerSource:
    """The ledger the view reads.

    :param engine: its engine (shared by every request of the process).
    :param conn_id: the connection it came from, ``None`` for the embedded SQLite file.
    :param meanings: receipt failure code → meaning.
    :param config_problem: why a setting cannot be used, if one cannot.
    """

    engine: Engine
    conn_id: str | None
    meanings: dict[int, str] = field(default_factory=dict)
    config_problem: str | None = None

    @property
    def described(self) -> str:
        """Where the ledger is, in words (never with a password)."""
        return (
            f"connection {self.conn_id!r}" if self.conn_id else "the embedded SQLite file under AIRFLOW_HOME"
        )

    def problem(self) -> str | None:
        """Why the view cannot read this ledger (a bad setting, no tables yet, another version), or ``None``.

        Blocking (it asks the database): call it off the event loop.
        """
        if self.config_problem:
            return self.config_problem
        with self.engine.connect() as conn:
            version = current_version(conn)
        if version == LATEST_VERSION:
            return None
        if version == 0:
            return f"The ledger ({self.described}) has no tables yet: no SMS task has used it."
        if version > LATEST_VERSION:
            return (
                f"The ledger ({self.described}) is at schema version {version}, newer than this provider "
                f"reads ({LATEST_VERSION}): upgrade yxt-provider on the API server to the version your "
                "workers run."
            )
        return (
            f"The ledger ({self.described}) is at schema version {version}; this provider reads version "
            f"{LATEST_VERSION}. The next SMS task that uses it upgrades it; or set [yxt] ledger_conn_id to "
            "the ledger your DAGs use."
        )


def view_ledger() -> LedgerSource:
    """The ledger named by ``[yxt] ledger_conn_id``, with ``[yxt] result_meanings`` (blocking)."""
    conn_id = conf.get(CONFIG_SECTION, "ledger_conn_id", fallback=None) or None
    meanings, problem = _meanings(conf.get(CONFIG_SECTION, "result_meanings", fallback="") or "")
    return LedgerSource(
        engine=_engine_for(conn_id), conn_id=conn_id, meanings=meanings, config_problem=problem
    )


def forget_connections() -> None:
    """Close every engine and read the connections again at the next request (tests; a changed setting)."""
    with _LOCK:
        for _url, engine, _until in _RESOLVED.values():
            engine.dispose()
        _RESOLVED.clear()


def _engine_for(conn_id: str | None) -> Engine:
    key = conn_id or ""
    now = time.monotonic()
    with _LOCK:
        known = _RESOLVED.get(key)
        if known is not None and known[2] > now:
            return known[1]
    url = YxtLedgerHook(conn_id).url  # outside the lock: it may wait for a secrets backend
    with _LOCK:
        known = _RESOLVED.get(key)
        if known is not None and known[0] == url:
            engine = known[1]
        else:
            engine = create_ledger_engine(url)
            if known is not None:
                known[1].dispose()  # the connection changed (a rotated password): close the old pool
        _RESOLVED[key] = (url, engine, now + URL_TTL_SECONDS)
        return engine


def _meanings(text: str) -> tuple[dict[int, str], str | None]:
    """The meanings, or none and why ``[yxt] result_meanings`` cannot be used."""
    if not text.strip():
        return {}, None
    example = 'such as {"7": "空号"}'
    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not a JSON object")
        return result_meanings(values), None
    except ValueError as exc:
        return (
            {},
            f"[yxt] result_meanings must be a JSON object of receipt codes, {example}: {exc}. Fix it in airflow.cfg or AIRFLOW__YXT__RESULT_MEANINGS.",
        )
