"""YxtClient send throughput against the sandbox vs a bare keep-alive ``requests`` loop.

Both send batches of 1000 numbers from one thread to a sandbox in another process. The bare
loop posts bodies signed before the clock starts, so the ratio shows what the client's
validation, signing and envelope parsing cost per request.

    .venv/bin/python benchmarks/client_throughput.py [--batches 200]
"""

from __future__ import annotations

import argparse
import json
import time

import requests

from benchmarks.sandbox_process import numbers, sandbox_process
from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_SEND, build_send_body
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

TEMPLATE = "1000000000001"
CONTENT = "【测试】您的账单已出，请及时查看。"


def serial(run: int, index: int) -> str:
    return f"{run:02d}{index:018d}"


def bench_client(base_url: str, batches: int) -> float:
    client = YxtClient(base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    plan = [numbers(1000, start=i * 1000) for i in range(batches)]
    started = time.perf_counter()
    for index, batch in enumerate(plan):
        client.send(batch, CONTENT, TEMPLATE, serial(1, index))
    elapsed = time.perf_counter() - started
    client.close()
    return batches / elapsed


def bench_bare(base_url: str, batches: int, run: int = 2) -> float:
    signer = YxtClient(base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    prepared = []
    for index in range(batches):
        body = build_send_body(
            numbers(1000, start=(run * batches + index) * 1000), CONTENT, TEMPLATE, serial(run, index)
        )
        prepared.append((json.dumps(body, ensure_ascii=False).encode(), signer.signed_headers(body)))
    session = requests.Session()
    url = base_url + PATH_SEND
    started = time.perf_counter()
    for payload, headers in prepared:
        reply = session.post(url, data=payload, headers=headers, timeout=30)
        assert reply.json()["code"] == 0, reply.text[:200]
    elapsed = time.perf_counter() - started
    session.close()
    return batches / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    with sandbox_process() as base_url:
        bench_bare(base_url, 10, run=9)  # warm up the server
        bare = bench_bare(base_url, args.batches)
        client = bench_client(base_url, args.batches)
    print(f"bare requests.Session.post (pre-signed): {bare:8.1f} requests/s = {bare * 1000:10.0f} numbers/s")
    print(
        f"YxtClient.send                         : {client:8.1f} requests/s = {client * 1000:10.0f} numbers/s"
    )
    print(f"ratio YxtClient / bare                 : {client / bare:8.2f}")


if __name__ == "__main__":
    main()
