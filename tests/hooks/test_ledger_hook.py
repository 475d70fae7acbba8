"""YxtLedgerHook: the embedded SQLite default, a warning off a local executor, SQL connections."""

from __future__ import annotations

import logging
import os

import pytest

from tests.fixtures.airflow import ledger_connection
from yxt_provider.hooks.ledger import YxtLedgerHook, default_ledger_url


def test_default_is_sqlite_under_airflow_home() -> None:
    assert default_ledger_url() == f"sqlite:///{os.environ['AIRFLOW_HOME']}/yxt_ledger.db"
    assert YxtLedgerHook().url == default_ledger_url()


def test_embedded_ledger_warns_when_executor_is_not_local(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with caplog.at_level(logging.WARNING):
        YxtLedgerHook().url  # noqa: B018 - the property is what warns
    assert "tasks on other workers will not see it" in caplog.text


def test_embedded_ledger_is_quiet_on_a_local_executor(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    with caplog.at_level(logging.WARNING):
        YxtLedgerHook().url  # noqa: B018
    assert "other workers" not in caplog.text


def test_ledger_from_an_airflow_sql_connection(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MY_LEDGER", ledger_connection(ledger_url))
    ledger = YxtLedgerHook("my_ledger").ledger
    assert ledger.get_campaign("none") is None  # the schema exists and answers
    assert ledger.engine.dialect.name == ("sqlite" if ledger_url.startswith("sqlite") else "postgresql")
