"""What a caller should know when a call's answer was lost or spoiled, said per call.

A lost answer means something different for each call: a send may have been accepted, a
receipt page may be gone for good, a reply page stays on the gateway, a confirm is safe to
repeat. Transport and protocol errors end with this advice, so the person reading the error
knows whether anything may have happened and what the next try does about it.
"""

from __future__ import annotations

__all__ = ["after_lost_answer", "call_kind"]

_ADVICE = {
    "send": ("The send may have been accepted: a retry reuses the serial, so code 15 makes a repeat a no-op"),
    "report": (
        "Receipts in a lost answer may be gone (the gateway hands each out once); "
        "their messages stay pending in the ledger, and the next drain reads the rest"
    ),
    "reply/query": (
        "Nothing was confirmed, so the replies stay on the gateway and the next drain reads them again"
    ),
    "reply/confirm": (
        "The confirm may not have taken effect: the next drain reads the page again, "
        "stores nothing twice and confirms it"
    ),
}
_GENERIC = "The call may have taken effect; retrying it is safe"


def call_kind(what: str) -> str:
    """The call a ``what`` label names (``send serial 2026…`` → ``send``)."""
    for kind in _ADVICE:
        if what == kind or what.startswith(f"{kind} "):
            return kind
    return what


def after_lost_answer(what: str) -> str:
    """The advice for a call whose answer was lost or unreadable.

    :param what: the call's label as the client names it (``send serial …``, ``report``,
        ``reply/query``, ``reply/confirm``).
    """
    return _ADVICE.get(call_kind(what), _GENERIC)
