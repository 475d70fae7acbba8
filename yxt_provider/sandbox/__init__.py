"""A local YXT gateway for tests, demos and benchmarks: the whole protocol, in memory.

>>> from yxt_provider.sandbox import run_sandbox
>>> with run_sandbox() as sandbox:  # doctest: +SKIP
...     sandbox.client().send(["13800138000"], "hello", "1000000000001", "20240101000000000001")

Importing this package is cheap: FastAPI and uvicorn load only when a server starts.
Magic numbers with fixed outcomes are listed in :mod:`yxt_provider.sandbox.outcomes`
and ``docs/sandbox.md``.
"""

from yxt_provider.sandbox.config import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_SP_CODE,
    DEFAULT_TEMPLATES,
    Fault,
    SandboxConfig,
)
from yxt_provider.sandbox.server import SandboxServer, run_sandbox
from yxt_provider.sandbox.state import AcceptedRequest, PlannedReceipt, SandboxState

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_SP_CODE",
    "DEFAULT_TEMPLATES",
    "AcceptedRequest",
    "Fault",
    "PlannedReceipt",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "run_sandbox",
]
