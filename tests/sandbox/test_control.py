"""The /_sandbox/ control plane, the config model and the in-process runner."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.sandbox.conftest import CATCH_ALL, serial
from yxt_provider.client import YxtClient
from yxt_provider.sandbox import DEFAULT_APP_SECRET, Fault, SandboxConfig, SandboxServer, run_sandbox

CONTROL_GETS = ["accepted", "truth", "counters", "config"]


def test_accepted_truth_counters_over_http(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(receipt_missing_share=1.0)
    result = yxt_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    base = yxt_sandbox.base_url + "/_sandbox/"
    assert requests.get(base + "accepted", timeout=5).json() == [
        {
            "serialNumber": serial(1),
            "numbers": ["13800138000"],
            "content": "hi",
            "templateId": CATCH_ALL,
            "taskId": result.task_id,
            "acceptedAt": yxt_sandbox.accepted()[0].accepted_at,
            "refused": [],
        }
    ]
    assert requests.get(base + "truth", timeout=5).json() == [
        {"serialNumber": serial(1), "userNumber": "13800138000", "result": None}
    ]
    counters = requests.get(base + "counters", timeout=5).json()
    assert counters["requests"]["send"] == {"0": 1}
    assert counters["accepted_numbers"] == 1
    assert counters["receipts"]["never"] == 1


def test_inject_replies_over_http(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    url = yxt_sandbox.base_url + "/_sandbox/replies"
    one = requests.post(
        url, json={"callMdn": "106900", "content": "是", "userNumber": "13800138000"}, timeout=5
    )
    assert one.status_code == 200
    many = requests.post(
        url, json=[{"callMdn": "106900", "content": "a"}, {"callMdn": "1", "content": "b"}], timeout=5
    )
    assert len(many.json()["ids"]) == 2
    assert requests.post(url, json={"content": "no callMdn"}, timeout=5).status_code == 400
    assert [r.content for r in yxt_client.query_replies().replies] == ["是", "a", "b"]


def test_config_and_reset_over_http(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    base = yxt_sandbox.base_url + "/_sandbox/"
    changed = requests.post(
        base + "config", json={"balance": 5, "faults": [{"endpoint": "send", "kind": "http_500"}]}, timeout=5
    )
    assert changed.status_code == 200
    assert changed.json()["app_secret"] == "***"
    assert DEFAULT_APP_SECRET not in changed.text
    assert yxt_sandbox.config.faults == (Fault("send", "http_500"),)
    assert yxt_sandbox.counters()["balance_left"] == 5
    assert requests.post(base + "config", json={"nope": 1}, timeout=5).status_code == 400
    assert requests.post(base + "config", json={"receipt_fail_share": 3}, timeout=5).status_code == 400
    yxt_sandbox.configure(faults=[])
    yxt_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert requests.post(base + "reset", timeout=5).json() == {"reset": True}
    assert yxt_sandbox.accepted() == []
    assert yxt_sandbox.config.balance is None


@pytest.mark.parametrize("name", CONTROL_GETS)
def test_control_plane_disabled_is_404(yxt_sandbox: SandboxServer, name: str) -> None:
    yxt_sandbox.configure(control=False)
    base = yxt_sandbox.base_url + "/_sandbox/"
    assert requests.get(base + name, timeout=5).status_code == 404
    for post in ("reset", "config", "replies"):
        assert requests.post(base + post, json={}, timeout=5).status_code == 404


def test_reset_restores_starting_config(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(balance=1, rate_limit=5.0)
    yxt_sandbox.reset()
    assert yxt_sandbox.config == SandboxConfig()


def test_run_sandbox_with_own_config_and_shutdown() -> None:
    config = SandboxConfig(app_key="other", app_secret="another-secret", control=False)
    with run_sandbox(config) as sandbox:
        with sandbox.client() as client:
            assert client.fetch_receipts() == []
        assert requests.get(sandbox.base_url + "/_sandbox/counters", timeout=5).status_code == 404
        url = sandbox.base_url
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "/info/sms/report", timeout=2)


@pytest.mark.parametrize(
    "values",
    [
        {"receipt_fail_share": 0.7, "receipt_missing_share": 0.5},
        {"fail_result": 0},
        {"rate_limit": 0},
        {"report_page_size": 0},
        {"rate_limit_endpoints": ["nope"]},
        {"app_secret": ""},
        {"unknown_field": 1},
    ],
)
def test_invalid_config_is_refused(values: dict) -> None:
    with pytest.raises(ValueError):
        SandboxConfig.from_mapping(values)


def test_config_repr_hides_the_secret() -> None:
    assert DEFAULT_APP_SECRET not in repr(SandboxConfig())


def test_peak_in_flight_counts_the_most_calls_answered_at_once(
    yxt_sandbox: SandboxServer, yxt_client: YxtClient
) -> None:
    # Each send is held for 0.4 s, so three started together overlap whatever the scheduling.
    yxt_sandbox.configure(faults=[Fault("send", "latency", seconds=0.4)])
    start = threading.Barrier(3)

    def send(i: int) -> None:
        start.wait()
        yxt_client.send([f"1380013800{i}"], "hi", CATCH_ALL, serial(10 + i))

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(send, range(3)))
    counters = yxt_sandbox.counters()
    assert counters["peak_in_flight"]["send"] == 3
    assert counters["peak_in_flight"]["report"] == 0
    assert counters["in_flight"] == 0
    yxt_sandbox.reset()
    assert yxt_sandbox.counters()["peak_in_flight"]["send"] == 0
