"""The numbers a notifier texts: cleaned, the invalid ones logged (masked) and skipped, none at all refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class _Log(Protocol):
    """A notifier's logger (Airflow's task SDK logger or the standard library's)."""

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def numbers_to_text(recipients: Sequence[str] | str, log: _Log, what: str, none_left: str) -> list[str]:
    """The valid, normalised numbers of ``recipients``.

    :param recipients: a list or a comma-separated string, as the notifier was given it (rendered).
    :param log: the notifier's logger, for the invalid ones (masked samples).
    :param what: what the text is, for that warning (``Alert SMS``).
    :param none_left: the error's message when no number is valid.
    :raises ValueError: when no number is valid.
    """
    from yxt_provider.campaign.recipients import clean_recipients, iter_recipients

    clean = clean_recipients(iter_recipients(recipients))
    if clean.invalid:
        log.warning("%s: %d invalid numbers skipped, e.g. %s", what, clean.invalid, clean.invalid_samples)
    numbers = list(clean.valid)
    if not numbers:
        raise ValueError(none_left)
    return numbers
