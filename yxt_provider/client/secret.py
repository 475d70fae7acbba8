"""A holder that keeps the app secret out of reprs, ``vars()`` dumps and tracebacks with locals."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """Wraps a secret string; only :meth:`reveal` gives it back.

    :param value: the secret.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret, for the one place that needs it (signing)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        # Pickling would write the secret into whatever stores the pickle (XCom, caches).
        raise TypeError("a Secret cannot be pickled")
