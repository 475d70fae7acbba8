"""``YxtLedgerHook``: finds the delivery ledger from an Airflow connection (or the embedded SQLite file)."""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.campaign.errors import CampaignIdError
from yxt_provider.campaign.identity import campaign_id_of

if TYPE_CHECKING:
    from yxt_provider.ledger.store import Ledger

__all__ = ["DEFAULT_LEDGER_FILENAME", "LedgerUserMixin", "YxtLedgerHook", "default_ledger_url", "open_ledger"]

log = logging.getLogger(__name__)

#: The embedded SQLite ledger's file name under ``$AIRFLOW_HOME``, used when no ``ledger_conn_id`` is
#: given.
DEFAULT_LEDGER_FILENAME = "yxt_ledger.db"
# Executors whose tasks all run on this machine, so a SQLite file is shared by all of them.
_LOCAL_EXECUTORS = ("LocalExecutor", "SequentialExecutor", "DebugExecutor")

# Engines hold pools; one Ledger per database URL per process, shared by tasks and threads.
_LEDGERS: dict[str, Ledger] = {}
_LEDGERS_LOCK = threading.Lock()


def default_ledger_url() -> str:
    """The embedded SQLite ledger: ``$AIRFLOW_HOME/yxt_ledger.db``."""
    home = os.environ.get("AIRFLOW_HOME") or conf.get("core", "airflow_home", fallback=None) or "~/airflow"
    path = Path(home).expanduser() / DEFAULT_LEDGER_FILENAME
    return f"sqlite:///{path}"


def _ledger_for(url: str) -> Ledger:
    # Imported here: SQLAlchemy's engine and the ledger load when a task runs, not at parse time.
    from yxt_provider.ledger.store import Ledger

    with _LEDGERS_LOCK:
        ledger = _LEDGERS.get(url)
        if ledger is None:
            ledger = _LEDGERS[url] = Ledger.from_url(url)
        return ledger


class YxtLedgerHook(BaseHook):
    """Opens the YXT delivery ledger.

    With ``ledger_conn_id`` it uses that Airflow SQL connection: PostgreSQL, MariaDB/MySQL or
    SQLite (the ledger is tested on SQLite, PostgreSQL and MariaDB 10.11; through an Airflow
    connection on SQLite and PostgreSQL); without one, an embedded SQLite file under
    ``AIRFLOW_HOME``, which only works when every task runs on this machine.

    :param ledger_conn_id: an Airflow SQL connection id, or ``None`` for the embedded ledger.
    """

    conn_name_attr = "ledger_conn_id"
    hook_name = "YXT delivery ledger"

    def __init__(self, ledger_conn_id: str | None = None) -> None:
        super().__init__()
        self.ledger_conn_id = ledger_conn_id

    @cached_property
    def url(self) -> str:
        """The SQLAlchemy URL of the ledger database."""
        if not self.ledger_conn_id:
            executor = conf.get("core", "executor", fallback="LocalExecutor")
            if not any(name in executor for name in _LOCAL_EXECUTORS):
                log.warning(
                    "The YXT ledger is the embedded SQLite file under AIRFLOW_HOME, but the executor is %s: "
                    "tasks on other workers will not see it. Set ledger_conn_id to a shared database "
                    "(PostgreSQL or MariaDB/MySQL).",
                    executor,
                )
            return default_ledger_url()
        sql_hook = self.get_connection(self.ledger_conn_id).get_hook()
        try:
            # Providers that build their SQLAlchemy URL themselves (Postgres: extras such as
            # sqlalchemy_query) know their database better than a generic URI does.
            url = sql_hook.sqlalchemy_url
        except (AttributeError, NotImplementedError):
            url = sql_hook.get_uri()
        return url.render_as_string(hide_password=False) if hasattr(url, "render_as_string") else str(url)

    @cached_property
    def ledger(self) -> Ledger:
        """The ledger, its schema created or upgraded on first use in this process."""
        return _ledger_for(self.url)

    def get_conn(self) -> Ledger:
        """Return :attr:`ledger`."""
        return self.ledger

    @staticmethod
    def campaign_id_in(value: Any) -> str:
        """The campaign id in ``value`` (an id, or the send task's summary); the task fails when there is none.

        :param value: a campaign id, or ``send.output``.
        :raises ~airflow.sdk.exceptions.AirflowFailException: when ``value`` holds no campaign id.
        """
        try:
            return campaign_id_of(value)
        except CampaignIdError as exc:
            raise AirflowFailException(str(exc)) from None

    def require_campaign(self, value: Any) -> str:
        """The campaign id in ``value``, checked to be in this ledger; the task fails otherwise.

        :param value: a campaign id, or the send task's summary (``send.output``).
        :returns: the campaign id.
        :raises ~airflow.sdk.exceptions.AirflowFailException: when ``value`` holds no campaign id, or the ledger has no
            such campaign (the message says where it looked).
        """
        campaign_id = self.campaign_id_in(value)
        if self.ledger.get_campaign(campaign_id) is None:
            raise AirflowFailException(
                f"campaign {campaign_id!r} is not in the ledger; check campaign_id and that ledger_conn_id "
                f"({self.ledger_conn_id or 'embedded SQLite'}) is the ledger the send task used"
            )
        return campaign_id


def open_ledger(ledger_conn_id: str | None) -> Ledger:
    """The ledger named by ``ledger_conn_id`` (``None``: the embedded SQLite file), schema current.

    For code without an operator to hang :class:`LedgerUserMixin` on: triggers (call it in a
    thread: it may create tables) and task functions.

    :param ledger_conn_id: an Airflow SQL connection id, or ``None``.
    """
    return YxtLedgerHook(ledger_conn_id).ledger


class LedgerUserMixin:
    """For operators and sensors that use the ledger named by their ``ledger_conn_id``.

    Both properties are built on first use, on the worker, never when the DAG is parsed.
    """

    ledger_conn_id: str | None

    @cached_property
    def ledger_hook(self) -> YxtLedgerHook:
        """The ledger's hook."""
        return YxtLedgerHook(self.ledger_conn_id)

    @cached_property
    def ledger(self) -> Ledger:
        """The ledger (its schema created or upgraded on first use in this process)."""
        return self.ledger_hook.ledger
