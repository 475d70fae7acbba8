"""The YXT gateway protocol: signing, request ids, errors, typed results and ``YxtClient``.

Nothing here imports Airflow; the client works in any Python program.
"""

from yxt_provider.client.client import MAX_NUMBERS_PER_REQUEST, YxtClient, build_send_body
from yxt_provider.client.errors import YxtError, error_for_code
from yxt_provider.client.models import Receipt, Reply, ReplyPage, SendResult
from yxt_provider.client.numbers import InvalidNumberError, mask_number, normalize_number
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
