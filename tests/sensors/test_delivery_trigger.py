"""SmsDeliveryTrigger on its own: serialisation, and run() driven directly in an event loop."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest

from tests.receipts.conftest import send_campaign
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer
from yxt_provider.triggers.delivery import SmsDeliveryTrigger


def make_trigger(**overrides: Any) -> SmsDeliveryTrigger:
    kwargs: dict[str, Any] = {
        "campaign_id": "c-trigger",
        "yxt_conn_id": "yxt_default",
        "ledger_conn_id": "yxt_ledger",
        "condition": "all_final",
        "min_delivered_share": None,
        "deadline": time.time() + 20,
        "poke_interval": 0.1,
        "max_pages_per_poke": 5,
    }
    kwargs.update(overrides)
    return SmsDeliveryTrigger(**kwargs)


def first_event(trigger: SmsDeliveryTrigger) -> dict[str, Any]:
    async def run() -> Any:
        return await anext(trigger.run())

    event = asyncio.run(asyncio.wait_for(run(), timeout=30))
    return dict(event.payload)


def test_serialize_round_trips_with_json_kwargs_only() -> None:
    trigger = make_trigger(condition="delivered_share", min_delivered_share=0.9)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is SmsDeliveryTrigger
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert SmsDeliveryTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert not any("secret" in str(value) for value in kwargs.values())


def test_run_ingests_and_fires_met(sandbox: SandboxServer, sqlite_ledger: str) -> None:
    sandbox.configure(receipt_delay=0.3, receipt_fail_share=0.2, report_page_size=10, seed=8)
    ledger = Ledger.from_url(sqlite_ledger)
    send_campaign(
        ledger, sandbox.client(), "c-trigger", [f"138{i:08d}" for i in range(60)], batch_size=60, tag=9
    )

    payload = first_event(make_trigger())

    assert payload["status"] == "met" and payload["campaign_id"] == "c-trigger"
    assert payload["polls"] >= 2  # the first poll found nothing ready yet
    assert payload["ingested"]["read"] == payload["ingested"]["matched"] == 60
    assert payload["delivered"] + payload["failed"] == 60 and payload["pending"] == 0
    assert ledger.delivery_report("c-trigger").pending == 0
    json.dumps(payload)  # the event must be JSON-able
    ledger.dispose()


def test_run_fires_timeout_at_the_deadline(sandbox: SandboxServer, sqlite_ledger: str) -> None:
    sandbox.configure(receipt_missing_share=1.0)
    ledger = Ledger.from_url(sqlite_ledger)
    send_campaign(ledger, sandbox.client(), "c-trigger", ["13800000001"], batch_size=1, tag=10)
    started = time.monotonic()

    payload = first_event(make_trigger(deadline=time.time() + 0.5))

    assert payload["status"] == "timeout" and payload["pending"] == 1
    assert 0.4 < time.monotonic() - started < 10
    ledger.dispose()


def test_run_reports_a_configuration_error_instead_of_waiting(
    sandbox: SandboxServer, sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger.from_url(sqlite_ledger)
    send_campaign(ledger, sandbox.client(), "c-trigger", ["13800000001"], batch_size=1, tag=11)
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_DEFAULT",
        json.dumps(
            {"conn_type": "yxt", "host": sandbox.base_url, "login": "demo_app", "password": "wrong",
             "extra": {"sp_code": "100001", "retry_max_attempts": 1}}
        ),
    )  # fmt: skip

    payload = first_event(make_trigger())

    assert payload["status"] == "error" and "reading receipts failed" in payload["message"]
    assert "wrong" not in payload["message"]
    ledger.dispose()
