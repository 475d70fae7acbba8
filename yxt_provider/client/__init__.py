"""The YXT gateway protocol: signing, request ids, errors, typed results and ``YxtClient``.

Nothing here imports Airflow; the client works in any Python program.

The names below load on first use (PEP 562): importing a light submodule such as
:mod:`yxt_provider.client.protocol` or :mod:`yxt_provider.client.numbers` then costs no
``requests`` import, which keeps DAG files that import an operator fast to parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yxt_provider._lazy import lazy_exports

if TYPE_CHECKING:
    from yxt_provider.client.client import YxtClient
    from yxt_provider.client.errors import YxtError, error_for_code
    from yxt_provider.client.models import Receipt, Reply, ReplyPage, SendResult
    from yxt_provider.client.numbers import InvalidNumberError, mask_number, normalize_number
    from yxt_provider.client.protocol import MAX_NUMBERS_PER_REQUEST, build_send_body
    from yxt_provider.client.retry import RetrySettings
    from yxt_provider.client.signing import sign

__all__ = [
    "MAX_NUMBERS_PER_REQUEST",
    "InvalidNumberError",
    "Receipt",
    "Reply",
    "ReplyPage",
    "RetrySettings",
    "SendResult",
    "YxtClient",
    "YxtError",
    "build_send_body",
    "error_for_code",
    "mask_number",
    "normalize_number",
    "sign",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "YxtClient": "client",
        "YxtError": "errors",
        "error_for_code": "errors",
        "Receipt": "models",
        "Reply": "models",
        "ReplyPage": "models",
        "SendResult": "models",
        "InvalidNumberError": "numbers",
        "mask_number": "numbers",
        "normalize_number": "numbers",
        "MAX_NUMBERS_PER_REQUEST": "protocol",
        "build_send_body": "protocol",
        "RetrySettings": "retry",
        "sign": "signing",
    },
    globals(),
)
