"""Which send rate means what: the connection's is the account's (shared), the operator's the task's own."""

from __future__ import annotations

import pytest

from tests.fixtures.airflow import sandbox_connection
from yxt_provider.operators.sms import SendSmsOperator


def _operator(**kwargs: object) -> SendSmsOperator:
    return SendSmsOperator(task_id="send", content="hi", template_id="1000000000001", recipients=[], **kwargs)


def test_connection_rate_is_the_accounts_and_operator_rate_a_task_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection("http://127.0.0.1:9", max_requests_per_second=30)
    )
    settings = _operator(max_requests_per_second=10)._send_settings()
    assert settings.account_max_requests_per_second == 30.0
    assert settings.max_requests_per_second == 10.0
    alone = _operator()._send_settings()
    assert alone.account_max_requests_per_second == 30.0 and alone.max_requests_per_second is None


def test_without_a_connection_rate_the_operator_rate_stays_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection("http://127.0.0.1:9"))
    settings = _operator(max_requests_per_second=10)._send_settings()
    assert settings.account_max_requests_per_second is None and settings.max_requests_per_second == 10.0


@pytest.mark.parametrize("bad", [0, -3, float("nan"), "fast"])
def test_a_malformed_operator_rate_fails_when_the_dag_is_parsed(bad: object) -> None:
    with pytest.raises(ValueError, match=r"max_requests_per_second must be a .*got"):
        _operator(max_requests_per_second=bad)
