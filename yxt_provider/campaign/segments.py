"""Billable segment estimate for Chinese SMS.

Rule applied: carriers count UTF-16 code units (an emoji counts 2). A text of at most 70
units is one message; a longer one is split into parts of 67 units each (3 units go to the
concatenation header), so ``ceil(units / 67)`` parts, each billed as one message.
"""

from __future__ import annotations

import math

__all__ = ["MULTIPART_UNITS", "SINGLE_MESSAGE_UNITS", "segments_for", "utf16_units"]

#: UTF-16 units that fit in one message.
SINGLE_MESSAGE_UNITS = 70
#: UTF-16 units per part of a longer message (3 of 70 go to the concatenation header).
MULTIPART_UNITS = 67


def utf16_units(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what carriers count)."""
    return len(text.encode("utf-16-le")) // 2


def segments_for(text: str) -> int:
    """Billable messages one recipient of ``text`` costs."""
    units = utf16_units(text)
    if units <= SINGLE_MESSAGE_UNITS:
        return 1
    return math.ceil(units / MULTIPART_UNITS)
