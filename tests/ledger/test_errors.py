"""Database errors: phone numbers stay out of error text; deadlocks are retried on any driver."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from yxt_provider.ledger import Ledger, create_ledger_engine, engine

PHONE = "13912345678"


def test_error_text_hides_bound_phone_numbers(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text("SELECT * FROM yxt_no_such_table WHERE phone = :phone"), {"phone": PHONE})
    text = str(info.value)
    assert "yxt_no_such_table" in text  # the SQL is still there
    assert PHONE not in text


def test_callers_can_still_show_parameters(ledger_url: str) -> None:
    ledger = Ledger(create_ledger_engine(ledger_url, hide_parameters=False))
    try:
        with ledger.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
            conn.execute(sa.text("SELECT * FROM yxt_no_such_table WHERE phone = :phone"), {"phone": PHONE})
        assert PHONE in str(info.value)
    finally:
        ledger.dispose()


class _DriverError(Exception):
    def __init__(self, attribute: str, code: str) -> None:
        super().__init__(code)
        setattr(self, attribute, code)


@pytest.mark.parametrize("attribute", ["sqlstate", "pgcode"])  # psycopg 3, psycopg2
def test_deadlocks_are_retried(attribute: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.time, "sleep", lambda _seconds: None)
    calls = []

    def transaction() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("UPDATE ...", {}, _DriverError(attribute, "40P01"))
        return "done"

    assert engine.retry_transient(transaction) == "done"
    assert len(calls) == 2


def test_other_operational_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.time, "sleep", lambda _seconds: None)
    calls = []

    def transaction() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("UPDATE ...", {}, _DriverError("sqlstate", "57014"))

    with pytest.raises(sa.exc.OperationalError):
        engine.retry_transient(transaction)
    assert len(calls) == 1


def test_numbers_the_database_quotes_in_its_own_text_are_masked(ledger: Ledger) -> None:
    import traceback

    with ledger.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE yxt_test_phones (phone VARCHAR(11) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO yxt_test_phones VALUES (:p)"), {"p": PHONE})
    with pytest.raises(sa.exc.IntegrityError) as info, ledger.engine.begin() as conn:
        # PostgreSQL answers "DETAIL: Key (phone)=(13912345678) already exists."
        conn.execute(sa.text("INSERT INTO yxt_test_phones VALUES (:p)"), {"p": PHONE})
    printed = "".join(traceback.format_exception(info.value))
    assert PHONE not in printed
    assert "yxt_test_phones" in printed
    if ledger.engine.dialect.name == "postgresql":
        assert "139****5678" in printed and info.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
