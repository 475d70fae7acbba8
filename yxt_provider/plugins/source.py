"""Which ledger the view reads, and what its receipt codes mean: from Airflow's configuration.

``[yxt] ledger_conn_id`` (``AIRFLOW__YXT__LEDGER_CONN_ID``) names the ledger's SQL connection,
the same ``ledger_conn_id`` the DAGs give their SMS tasks; unset, the embedded SQLite file
under ``AIRFLOW_HOME``. ``[yxt] result_meanings`` (JSON, ``{"7": "空号"}``) says what the
account's receipt failure codes mean, as the report operators' ``result_meanings`` does.

The view never creates or upgrades the ledger's tables: a ledger without them, or on another
schema version than this provider's, is reported as such (the next SMS task upgrades it).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache

from airflow.configuration import conf
from sqlalchemy.engine import Engine

from yxt_provider.hooks.ledger import YxtLedgerHook
from yxt_provider.ledger.engine import create_ledger_engine
from yxt_provider.ledger.migrations import LATEST_VERSION, current_version
from yxt_provider.ledger.report import result_meanings

__all__ = ["CONFIG_SECTION", "LedgerSource", "view_ledger"]

#: The configuration section of the provider's settings.
CONFIG_SECTION = "yxt"

_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


@dataclass(frozen=True)
class LedgerSource:
    """The ledger the view reads.

    :param engine: its engine (shared by every request of the process).
    :param conn_id: the connection it came from, ``None`` for the embedded SQLite file.
    :param meanings: receipt failure code → meaning.
    """

    engine: Engine
    conn_id: str | None
    meanings: dict[int, str]

    @property
    def described(self) -> str:
        """Where the ledger is, in words (never with a password)."""
        return (
            f"connection {self.conn_id!r}" if self.conn_id else "the embedded SQLite file under AIRFLOW_HOME"
        )

    def schema_problem(self) -> str | None:
        """Why the view cannot read this ledger (no tables yet, another schema version), or ``None``."""
        with self.engine.connect() as conn:
            version = current_version(conn)
        if version == LATEST_VERSION:
            return None
        if version == 0:
            return f"The ledger ({self.described}) has no tables yet: no SMS task has used it."
        return (
            f"The ledger ({self.described}) is at schema version {version}; this provider reads version "
            f"{LATEST_VERSION}. The next SMS task that uses it upgrades it; or set [yxt] ledger_conn_id to "
            "the ledger your DAGs use."
        )


def view_ledger() -> LedgerSource:
    """The ledger named by ``[yxt] ledger_conn_id``, with ``[yxt] result_meanings``.

    :raises ValueError: when ``[yxt] result_meanings`` is not a JSON object of codes.
    """
    conn_id = conf.get(CONFIG_SECTION, "ledger_conn_id", fallback=None) or None
    url = YxtLedgerHook(conn_id).url
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = create_ledger_engine(url)
    return LedgerSource(
        engine=engine,
        conn_id=conn_id,
        meanings=_meanings(conf.get(CONFIG_SECTION, "result_meanings", fallback="") or ""),
    )


@cache
def _meanings(text: str) -> dict[int, str]:
    if not text.strip():
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f'[yxt] result_meanings must be JSON such as {{"7": "空号"}}: {exc}') from None
    if not isinstance(values, dict):
        raise ValueError('[yxt] result_meanings must be a JSON object such as {"7": "空号"}')
    return result_meanings(values)
