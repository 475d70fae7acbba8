"""Receipts: read once, paged, delayed, failing and missing shares against the ground truth."""

from __future__ import annotations

import time

from tests.sandbox.conftest import CATCH_ALL, raw_call, serial, wait_for
from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_REPORT
from yxt_provider.sandbox import SandboxServer
from yxt_provider.sandbox.outcomes import planned_result


def _drain(client: YxtClient) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    while page := client.fetch_receipts():
        out.extend((r.serial_number, r.user_number, r.result) for r in page)
    return out


def _numbers(count: int, start: int = 0) -> list[str]:
    return [f"138{start + i:08d}" for i in range(count)]


def test_each_receipt_is_handed_out_once(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_client.send(_numbers(3), "hi", CATCH_ALL, serial(1))
    first = raw_call(yxt_sandbox.base_url, PATH_REPORT)
    assert first["code"] == 0
    assert first["data"] == [{"serialNumber": serial(1), "userNumber": n, "result": 0} for n in _numbers(3)]
    again = raw_call(yxt_sandbox.base_url, PATH_REPORT)
    assert (again["code"], again["data"]) == (38, None)


def test_report_pages(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(report_page_size=4)
    yxt_client.send(_numbers(10), "hi", CATCH_ALL, serial(1))
    sizes = []
    while page := yxt_client.fetch_receipts():
        sizes.append(len(page))
    assert sizes == [4, 4, 2]
    assert yxt_sandbox.counters()["receipts"] == {"pending": 0, "ready": 0, "handed_out": 10, "never": 0}


def test_receipts_wait_for_the_delay(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(receipt_delay=0.3)
    sent_at = time.monotonic()
    yxt_client.send(_numbers(2), "hi", CATCH_ALL, serial(1))
    assert yxt_client.fetch_receipts() == []
    assert yxt_sandbox.counters()["receipts"]["pending"] == 2
    receipts = wait_for(yxt_client.fetch_receipts, timeout=5)
    assert time.monotonic() - sent_at >= 0.3
    assert len(receipts) == 2


def test_shares_follow_the_truth(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(receipt_fail_share=0.2, receipt_missing_share=0.1, fail_result=7, seed=42)
    for batch in range(3):
        yxt_client.send(_numbers(1000, batch * 1000), "hi", CATCH_ALL, serial(batch))
    truth = {(t.serial_number, t.user_number): t.result for t in yxt_sandbox.truth()}
    assert len(truth) == 3000
    got = _drain(yxt_client)
    assert len(got) == len(set(got))
    assert {(s, n): r for s, n, r in got} == {k: r for k, r in truth.items() if r is not None}
    results = list(truth.values())
    # 3000 draws: the shares land within a few points of what was asked.
    assert 0.17 < results.count(7) / 3000 < 0.23
    assert 0.07 < results.count(None) / 3000 < 0.13
    assert set(results) == {0, 7, None}
    assert yxt_sandbox.counters()["receipts"]["never"] == results.count(None)
    # The truth is computable from outside: it is a pure function of (seed, serial, number).
    sample = next(iter(truth))
    assert truth[sample] == planned_result(42, *sample, fail_share=0.2, missing_share=0.1, fail_result=7)


def test_outcomes_are_reproducible_across_resets(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    def run() -> list:
        yxt_sandbox.reset()
        yxt_sandbox.configure(receipt_fail_share=0.5, seed=7)
        yxt_client.send(_numbers(50), "hi", CATCH_ALL, serial(1))
        return [t.result for t in yxt_sandbox.truth()]

    first = run()
    assert first == run()
    assert 0 < first.count(2) < 50


def test_100k_receipts_drain_fast(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    for batch in range(100):
        yxt_client.send(_numbers(1000, batch * 1000), "hi", CATCH_ALL, serial(batch))
    started = time.perf_counter()
    got = _drain(yxt_client)
    rate = len(got) / (time.perf_counter() - started)
    assert len(got) == 100_000
    assert len({(s, n) for s, n, _ in got}) == 100_000
    assert rate > 20_000, f"{rate:.0f} receipts/s"
