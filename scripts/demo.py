"""The README's main job: a batch notification against the sandbox gateway, end to end.

Starts the sandbox in this process, points a throw-away Airflow home (``.demo/``) at it,
sends one signed message through ``YxtClient`` and reads its delivery receipt.
"""

from __future__ import annotations

import time

from yxt_provider.client import YxtClient, mask_number
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE, run_sandbox


def main() -> None:
    with run_sandbox() as sandbox:
        print(f"sandbox gateway on {sandbox.base_url}")
        client = YxtClient(sandbox.base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
        serial = f"{int(time.time() * 1000):020d}"
        result = client.send(["19900000001"], "您的验证码为 4578，有效期为30分钟。(测试)", "2031012220113", serial)
        print(f"accepted: task {result.task_id}, serial {result.serial_number}")
        receipts = client.fetch_receipts()
        for receipt in receipts:
            status = "delivered" if receipt.delivered else f"failed (result {receipt.result})"
            print(f"receipt: {mask_number(receipt.user_number)} {status}")
        client.close()


if __name__ == "__main__":
    main()
