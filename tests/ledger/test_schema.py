"""Schema creation, versioning and concurrent ensure_schema."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from yxt_provider.ledger import (
    LATEST_VERSION,
    Ledger,
    LedgerSchemaError,
    create_ledger_engine,
    ensure_schema,
    migrations,
    schema,
)


def test_import_does_not_import_airflow() -> None:
    code = (
        "import sys, yxt_provider.ledger\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ensure_schema_creates_tables_and_records_version(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    try:
        assert ensure_schema(engine) == LATEST_VERSION
        names = set(sa.inspect(engine).get_table_names())
        assert {"yxt_schema_version", "yxt_campaigns", "yxt_batches", "yxt_messages", "yxt_receipts"} <= names
        assert {"yxt_excluded_recipients", "yxt_ledger_identity", "yxt_replies", "yxt_reply_handled"} <= names
        with engine.connect() as conn:
            rows = conn.execute(sa.select(schema.schema_version)).all()
        assert len(rows) == 1
        assert rows[0].id == 1 and rows[0].version == LATEST_VERSION
        assert rows[0].updated_at.tzinfo is not None
    finally:
        engine.dispose()


def test_ensure_schema_is_idempotent(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    try:
        for _ in range(3):
            assert ensure_schema(engine) == LATEST_VERSION
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.schema_version)).scalar() == 1
    finally:
        engine.dispose()


def test_concurrent_ensure_schema(ledger_url: str) -> None:
    """Two "processes" (own engines, own threads) create the schema at the same moment."""
    engines = [create_ledger_engine(ledger_url) for _ in range(2)]
    barrier = threading.Barrier(len(engines))
    results: list[int] = []
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        try:
            barrier.wait()
            results.append(ensure_schema(engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors
        assert results == [LATEST_VERSION, LATEST_VERSION]
        with engines[0].connect() as conn:
            assert migrations.current_version(conn) == LATEST_VERSION
    finally:
        for engine in engines:
            engine.dispose()


def test_newer_schema_is_refused(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(schema.schema_version).values(version=LATEST_VERSION + 1))
    with pytest.raises(LedgerSchemaError, match="upgrade yxt-provider"):
        ledger.ensure_schema()


def test_older_schema_is_upgraded_by_later_steps(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new step appended to STEPS runs exactly once on an existing database."""
    applied: list[int] = []
    extra = migrations.MigrationStep(LATEST_VERSION + 1, "test step", lambda conn: applied.append(1))
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, extra])
    monkeypatch.setattr(migrations, "LATEST_VERSION", extra.version)
    assert ensure_schema(ledger.engine) == extra.version
    assert ensure_schema(ledger.engine) == extra.version
    assert applied == [1]


def test_sqlite_engine_settings(tmp_path: object) -> None:
    engine = create_ledger_engine(f"sqlite:///{tmp_path}/settings.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_postgres_messages_table_leaves_half_of_each_page_free(postgres_schema_url: str) -> None:
    """fillfactor 50 (room for HOT updates by receipts), set the same way on SQLAlchemy 2.0 and 2.1."""
    engine = create_ledger_engine(postgres_schema_url)
    try:
        ensure_schema(engine)
        with engine.connect() as conn:
            options = conn.execute(
                sa.text(
                    "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relname = 'yxt_messages' AND n.nspname = current_schema()"
                )
            ).scalar_one()
        assert options == ["fillfactor=50"]
    finally:
        engine.dispose()


def test_version_1_alone_creates_only_its_tables(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "STEPS", migrations.STEPS[:1])
    monkeypatch.setattr(migrations, "LATEST_VERSION", 1)
    monkeypatch.setattr(migrations, "replace_views", lambda conn: None)  # the views need every table
    engine = create_ledger_engine(ledger_url)
    try:
        assert ensure_schema(engine) == 1
        names = set(sa.inspect(engine).get_table_names())
        # Later versions add these; version 1 must not create them.
        assert not {"yxt_replies", "yxt_opt_outs", "yxt_ledger_identity"} & names
    finally:
        engine.dispose()
