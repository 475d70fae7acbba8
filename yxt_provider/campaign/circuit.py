"""One judgement of "the gateway is unreachable" per campaign, instead of one retry budget per batch.

Each request has its own retries with back-off, which is right for a blip. When the
gateway is down, though, every batch would spend that whole budget in turn: minutes per
hundred batches, and a log line per attempt. The circuit counts transport failures
(no HTTP answer) across all of a campaign's threads; after a few in a row with no answer
in between it *opens*: no batch starts, batches waiting on a retry give up theirs at once,
and a single request — the one whose failure opened it — goes on with its own retries as
the probe. If the probe gets an answer the circuit closes and sending goes on; if it gives
up, the campaign ends the try with one error naming the cause. Either way the time spent
is one request's retry budget, whatever the number of batches.
"""

from __future__ import annotations

import threading

from yxt_provider.client.errors import YxtTransportError

__all__ = ["GatewayCircuit"]


class GatewayCircuit:
    """Consecutive transport failures of one campaign, shared by its sending threads.

    :param threshold: failures in a row, with no answer in between, that open the circuit.
    """

    def __init__(self, threshold: int = 3) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self._lock = threading.Lock()
        self._failures = 0
        self._probe: int | None = None
        self.last_error: YxtTransportError | None = None
        self.opened = 0

    @property
    def is_open(self) -> bool:
        """True while the gateway is judged unreachable (only the probe may make requests)."""
        return self._probe is not None

    def is_probe(self, batch_index: int) -> bool:
        """True when ``batch_index`` is the request probing the gateway."""
        return self._probe == batch_index

    def answered(self) -> None:
        """The gateway answered (any result code): it is reachable; the circuit closes."""
        with self._lock:
            self._failures = 0
            self._probe = None

    def failed(self, batch_index: int, error: YxtTransportError) -> None:
        """A request of ``batch_index`` got no answer; the failure that reaches the threshold opens the circuit.

        :param batch_index: the batch whose attempt failed; it becomes the probe when this opens it.
        :param error: the failure.
        """
        with self._lock:
            self._failures += 1
            self.last_error = error
            if self._probe is None and self._failures >= self.threshold:
                self._probe = batch_index
                self.opened += 1
