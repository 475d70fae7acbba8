"""Airflow on the CeleryExecutor, on loopback: the test environment of a scaled-out deployment.

:func:`celery_airflow` starts, in a fresh ``AIRFLOW_HOME`` under a temporary folder:

- Airflow's metadata database: a fresh database on the machine's PostgreSQL;
- the delivery ledger: another fresh database on the same server (connection ``yxt_ledger``);
- the Celery broker on the machine's Redis, in a database number of its own (flushed before
  and after), Celery's results in the metadata database;
- the API server, scheduler, DAG processor, triggerer and N Celery workers.

Each component runs in a session of its own (``setsid``); leaving the ``with`` block stops all of
them (SIGTERM, then SIGKILL to every process of each session, task processes included) and drops
both databases, whatever happened. Workers tell themselves apart in the task instances'
``hostname`` (``worker-1``, ``worker-2``, …): on one machine they would otherwise all report the
same host.

Used by ``tests/e2e/test_celery_scale_out.py``, ``benchmarks/celery_scale_out.py`` and, for a
person who wants to look around, ``scripts/celery-env.sh`` (docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.real_airflow import Deadline, RealAirflow

__all__ = ["CeleryAirflow", "ServiceUnavailable", "StackServices", "celery_airflow", "worker_hostname"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The variable that names a worker; :func:`worker_hostname` reads it in the worker's task processes.
WORKER_NAME_VARIABLE = "YXT_E2E_WORKER_NAME"


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis, which the Celery stack needs, did not answer."""


def worker_hostname() -> str:
    """The ``[core] hostname_callable`` of the stack's workers: the worker's name, not the machine's."""
    return os.environ.get(WORKER_NAME_VARIABLE) or "unnamed-worker"


@dataclass(frozen=True)
class StackServices:
    """Where the stack's PostgreSQL and Redis are.

    :param postgres: a PostgreSQL server URL with a user that may create databases (SQLAlchemy form,
        any database; the stack creates its own beside it).
    :param redis: the Redis server, ``redis://host:port``.
    :param redis_db: the Redis database number the broker uses (flushed before and after; refused
        when it holds keys that are not Celery's).
    """

    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis: str = "redis://127.0.0.1:6379"
    redis_db: int = 11

    @classmethod
    def from_env(cls) -> StackServices:
        """From ``YXT_CELERY_POSTGRES_URL``, ``YXT_CELERY_REDIS_URL``, ``YXT_CELERY_REDIS_DB`` or the defaults."""
        default = cls()
        return cls(
            postgres=os.environ.get("YXT_CELERY_POSTGRES_URL", default.postgres),
            redis=os.environ.get("YXT_CELERY_REDIS_URL", default.redis),
            redis_db=int(os.environ.get("YXT_CELERY_REDIS_DB", default.redis_db)),
        )

    def database_url(self, name: str, driver: str = "psycopg2") -> str:
        """The URL of the database ``name`` on the same server (``driver``: ``psycopg2`` or ``psycopg``)."""
        import sqlalchemy as sa

        base = sa.make_url(self.postgres).set(drivername=f"postgresql+{driver}", database=name)
        return base.render_as_string(hide_password=False)

    @property
    def broker_url(self) -> str:
        return f"{self.redis.rstrip('/')}/{self.redis_db}"

    def check(self) -> None:
        """Raise :class:`ServiceUnavailable` naming the service that does not answer."""
        import redis
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(self.database_url("postgres"), poolclass=sa.pool.NullPool)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable(f"PostgreSQL at {self.postgres} unreachable: {exc}") from exc
        try:
            redis.Redis.from_url(self.broker_url, socket_connect_timeout=3).ping()
        except Exception as exc:
            raise ServiceUnavailable(f"Redis at {self.broker_url} unreachable: {exc}") from exc


class CeleryAirflow(RealAirflow):
    """:class:`RealAirflow` on the CeleryExecutor, with its workers and the ledger's database.

    :param workers: names of the Celery workers (components ``worker-1``, …).
    :param ledger_url: the ledger's database (SQLAlchemy URL, psycopg driver).
    """

    def __init__(
        self, *args: Any, workers: list[str], ledger_url: str, broker_url: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.workers = workers
        self.ledger_url = ledger_url
        self.broker_url = broker_url

    def healthy(self) -> bool:
        """Airflow's components are healthy and every Celery worker answers a ping over the broker."""
        return super().healthy() and set(self.workers) <= self.celery_workers_answering()

    def celery_workers_answering(self) -> set[str]:
        """The names of the workers that answer a Celery control ping within a second."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            answers = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        return {name.split("@", 1)[0] for answer in answers for name in answer}

    def create_pool(self, name: str, slots: int) -> None:
        """Create (or resize) an Airflow pool through the REST API."""
        body = {"name": name, "slots": slots, "description": "bounds concurrent YXT gateway calls"}
        response = self.api("POST", "/pools", json=body)
        if response.status_code == 409:
            response = self.api("PATCH", f"/pools/{name}", json=body)
        response.raise_for_status()


def _on_server(services: StackServices, statement: str) -> None:
    """Run ``statement`` outside a transaction (CREATE/DROP DATABASE refuse one) on the server."""
    import sqlalchemy as sa

    engine = sa.create_engine(services.database_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


# Keys Celery and kombu leave in a Redis database: a stack's own leftovers, safe to flush.
_CELERY_KEYS = re.compile(rb"^(_kombu\.|unacked|celery|default)")


def _flush_broker(services: StackServices) -> None:
    """Empty the broker's database, refusing when it holds anything but Celery's keys."""
    import redis

    client = redis.Redis.from_url(services.broker_url, socket_connect_timeout=3)
    try:
        foreign = [key for key in client.scan_iter(count=1000) if not _CELERY_KEYS.match(key)]
        if foreign:
            raise ServiceUnavailable(
                f"Redis database {services.redis_db} holds {len(foreign)} keys that are not Celery's "
                f"(e.g. {foreign[0]!r}); the stack empties its database, so choose a free one with "
                "YXT_CELERY_REDIS_DB"
            )
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def celery_airflow(
    root: Path,
    dags: Mapping[str, str],
    connection: str,
    timeout: float,
    *,
    workers: int = 2,
    worker_concurrency: int = 4,
    services: StackServices | None = None,
    extra_env: Mapping[str, str] | None = None,
    keep_databases: bool = False,
) -> Iterator[CeleryAirflow]:
    """Airflow on Celery with ``dags`` (file name → source) in a fresh ``AIRFLOW_HOME`` under ``root``.

    Yields once every component is healthy and every worker answers over the broker.

    :param root: a temporary folder (home, logs).
    :param dags: the DAG files.
    :param connection: the ``yxt_default`` connection, as JSON.
    :param timeout: seconds every wait of the caller may take in all, start-up included.
    :param workers: how many Celery workers.
    :param worker_concurrency: task slots per worker.
    :param services: where PostgreSQL and Redis are (default :meth:`StackServices.from_env`).
    :param extra_env: more environment for every component.
    :param keep_databases: leave the two databases behind (to look at them afterwards).
    :raises ServiceUnavailable: when PostgreSQL or Redis does not answer (nothing was started).
    """
    services = services or StackServices.from_env()
    services.check()
    name = f"yxt_celery_{secrets.token_hex(4)}"
    metadata_db, ledger_db = f"{name}_airflow", f"{name}_ledger"
    ledger_url = services.database_url(ledger_db, driver="psycopg")
    worker_names = [f"worker-{n}" for n in range(1, workers + 1)]
    home = root / "airflow_home"
    (home / "dags").mkdir(parents=True)
    for file_name, source in dags.items():
        (home / "dags" / file_name).write_text(source)
    env = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": services.database_url(metadata_db),
        "AIRFLOW__CELERY__BROKER_URL": services.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + services.database_url(metadata_db),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
        # Queued + running task slots over all workers; the LocalExecutor default of the
        # other e2e tests (4) would bound the workers instead of the pool.
        "AIRFLOW__CORE__PARALLELISM": str(max(16, workers * worker_concurrency)),
        # A killed worker's tasks are failed (and retried) once their heartbeat is this old:
        # 300 s by default. Short here, so the chaos test does not wait five minutes.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        # Tasks that set no retry_delay of their own wait this long before a retry (300 s default).
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
        # A task a killed worker had taken from the broker but not started stays "queued": its
        # message is unacknowledged until Redis's visibility timeout (6 h). The scheduler sends
        # it again after this long (600 s by default).
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
        "AIRFLOW_CONN_YXT_LEDGER": services.database_url(ledger_db, driver="psycopg2").replace(
            "postgresql+psycopg2://", "postgresql://", 1
        ),
        # The worker's task processes import worker_hostname from this repository.
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
        **(extra_env or {}),
    }
    components = dict(RealAirflow.COMPONENTS)
    component_env: dict[str, dict[str, str]] = {}
    for worker in worker_names:
        components[worker] = [
            "celery", "worker", "--celery-hostname", f"{worker}@%h", "--concurrency", str(worker_concurrency),
            "--skip-serve-logs", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        component_env[worker] = {
            WORKER_NAME_VARIABLE: worker,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        }
    stack = CeleryAirflow(
        home, root, connection, Deadline(timeout), env,
        components=components, component_env=component_env,
        workers=worker_names, ledger_url=ledger_url, broker_url=services.broker_url,
    )  # fmt: skip
    created: list[str] = []
    try:
        _flush_broker(services)
        for database in (metadata_db, ledger_db):
            _on_server(services, f'CREATE DATABASE "{database}"')
            created.append(database)
        stack.migrate()
        stack.start()
        stack.wait_for(
            "Airflow's components and every Celery worker to be healthy", stack.healthy, interval=0.5
        )
        yield stack
    finally:
        stack.stop()
        with contextlib.suppress(Exception):
            _flush_broker(services)
        if not keep_databases:
            for database in created:
                _on_server(services, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
