"""The gateway side of a crash loop: the sandbox kills the task between doing a call and answering it.

:class:`GatewayTap` wraps the in-process sandbox's :meth:`SandboxState.handle` (the one
place where a call takes effect and its answer is made). When armed, it SIGKILLs the task's
process right after the call took effect (a send accepted, a receipt page handed out,
replies confirmed) and waits until that process is gone before the answer is written: the
instant "the gateway has it, the task never heard" that no client-side hook can reach.
It also records the receipt pages it hands out, the only receipts a kill may cost.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from yxt_provider.sandbox import SandboxServer
from yxt_provider.sandbox.records import CallResult

__all__ = ["GatewayTap"]

_GONE_TIMEOUT = 5.0


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie or reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state is the field after the parenthesised command name.
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


class GatewayTap:
    """Kills the task process at the ``hit``-th effective call to an endpoint; records receipt pages.

    :param sandbox: the in-process sandbox to tap (its state's ``handle`` is wrapped for the
        tap's life; :meth:`remove` restores it).
    """

    def __init__(self, sandbox: SandboxServer) -> None:
        self._state = sandbox.state
        self._original = self._state.handle
        self._lock = threading.Lock()
        self._endpoint: str | None = None
        self._hit = 0
        self._seen = 0
        self._pid: int | None = None
        self._pid_known = threading.Event()
        self.pages: list[frozenset[tuple[str, str]]] = []
        self.killed = False
        self._state.handle = self._handle  # type: ignore[method-assign]

    def arm(self, endpoint: str, hit: int) -> None:
        """Kill the task at its ``hit``-th call to ``endpoint`` that takes effect."""
        with self._lock:
            self._endpoint, self._hit, self._seen, self.killed = endpoint, hit, 0, False
            self._pid = None
            self._pid_known.clear()

    def task_started(self, pid: int) -> None:
        """The process to kill (known only once it is forked, maybe after its first call)."""
        self._pid = pid
        self._pid_known.set()

    def disarm(self) -> None:
        """Kill nobody any more."""
        with self._lock:
            self._endpoint = None

    def forget_pages(self) -> None:
        """Start recording receipt pages afresh (one run's)."""
        self.pages = []

    def remove(self) -> None:
        """Give the sandbox its own ``handle`` back."""
        self._state.handle = self._original  # type: ignore[method-assign]

    def _handle(
        self, endpoint: str, headers: Mapping[str, str], client_ip: str | None, body: bytes
    ) -> CallResult:
        result = self._original(endpoint, headers, client_ip, body)
        if result.code != 0:
            return result
        if endpoint == "report":
            items: list[dict[str, Any]] = json.loads(result.data_json)
            self.pages.append(frozenset((item["serialNumber"], item["userNumber"]) for item in items))
        with self._lock:
            fires = endpoint == self._endpoint
            if fires:
                self._seen += 1
                fires = self._seen == self._hit
        if fires:
            self._kill_task()
        return result

    def _kill_task(self) -> None:
        assert self._pid_known.wait(_GONE_TIMEOUT), "the task's pid never became known"
        pid = self._pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + _GONE_TIMEOUT
        while not _gone(pid):
            assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
            time.sleep(0.001)
        self.killed = True
