"""What happens to each accepted message: the magic number ranges and the seeded shares.

Magic numbers (11-digit mobiles whose first 7 digits pick a fixed outcome, whatever the
configured shares):

============  ==========================================================================
prefix        outcome
============  ==========================================================================
``1990000``   always delivered: receipt ``result`` 0 (after ``receipt_delay``)
``1990001``   always fails: receipt ``result`` = ``fail_result`` (default 2)
``1990002``   never gets a receipt
``1990003``   delivered, then the recipient replies ``TD`` (opt-out)
``1990004``   delivered, then the recipient replies ``1``
``1990005``   refused at send: the request is accepted, but the number is listed in the
              answer's ``data.failList``; no message, no receipt
``1990009``   a send request containing one is rejected with code 13 (balance
              exhausted) and nothing of it is accepted
============  ==========================================================================

Every other number draws its outcome from a hash of ``(seed, serial, number)``, so the
same request under the same seed always has the same outcome and tests can compute the
ground truth (:func:`planned_result`).
"""

from __future__ import annotations

import hashlib

__all__ = [
    "MAGIC_DELIVERED",
    "MAGIC_FAILED",
    "MAGIC_NO_RECEIPT",
    "MAGIC_REFUSED_AT_SEND",
    "MAGIC_REJECT_BALANCE",
    "MAGIC_REPLIES",
    "MAGIC_REPLY_ONE",
    "MAGIC_REPLY_TD",
    "planned_result",
    "share_draw",
]

#: Numbers starting with this are always delivered.
MAGIC_DELIVERED = "1990000"
#: Numbers starting with this always fail (receipt result ``fail_result``).
MAGIC_FAILED = "1990001"
#: Numbers starting with this never get a receipt.
MAGIC_NO_RECEIPT = "1990002"
#: Numbers starting with this are delivered, then reply ``TD``.
MAGIC_REPLY_TD = "1990003"
#: Numbers starting with this are delivered, then reply ``1``.
MAGIC_REPLY_ONE = "1990004"
#: Numbers starting with this are refused inside an accepted send (listed in ``data.failList``).
MAGIC_REFUSED_AT_SEND = "1990005"
#: A send holding a number starting with this is rejected whole with code 13.
MAGIC_REJECT_BALANCE = "1990009"

#: The text a magic number replies with once its receipt is out.
MAGIC_REPLIES: dict[str, str] = {MAGIC_REPLY_TD: "TD", MAGIC_REPLY_ONE: "1"}
_ALWAYS_DELIVERED = frozenset({MAGIC_DELIVERED, MAGIC_REPLY_TD, MAGIC_REPLY_ONE})

_TWO_64 = float(2**64)


def share_draw(seed: int, serial_number: str, number: str) -> float:
    """A reproducible number in ``[0, 1)`` for one message."""
    digest = hashlib.blake2b(f"{seed}:{serial_number}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _TWO_64


def planned_result(
    seed: int,
    serial_number: str,
    number: str,
    *,
    fail_share: float,
    missing_share: float,
    fail_result: int = 2,
) -> int | None:
    """The receipt ``result`` a message will get, or ``None`` when it never gets one.

    Magic numbers first; otherwise a draw below ``missing_share`` means no receipt, below
    ``missing_share + fail_share`` a failure with ``fail_result``, else delivered (0).
    """
    prefix = number[:7]
    if prefix in _ALWAYS_DELIVERED:
        return 0
    if prefix == MAGIC_FAILED:
        return fail_result
    if prefix == MAGIC_NO_RECEIPT:
        return None
    if not fail_share and not missing_share:
        return 0
    draw = share_draw(seed, serial_number, number)
    if draw < missing_share:
        return None
    if draw < missing_share + fail_share:
        return fail_result
    return 0
