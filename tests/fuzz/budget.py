"""The fuzzers' shared hypothesis budget: one profile, sized by ``YXT_FUZZ_EXAMPLES``.

The default is small so the fuzz package stays within its few seconds of the suite's budget;
a nightly or local hunt raises it (``YXT_FUZZ_EXAMPLES=5000``). Runs are derandomized, so a CI
failure reproduces on any machine; ``YXT_FUZZ_RANDOM=1`` hunts with fresh randomness instead
(pin one with pytest's ``--hypothesis-seed``; a failure prints its ``@reproduce_failure`` blob).
The deadline is off because a shared 2-core runner makes per-example timings meaningless.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ_EXAMPLES", "FUZZ_RANDOM", "fuzz_settings"]

#: Examples per property (``YXT_FUZZ_EXAMPLES``, default 60).
FUZZ_EXAMPLES = int(os.environ.get("YXT_FUZZ_EXAMPLES", "60"))
#: Hunt with fresh randomness (``YXT_FUZZ_RANDOM=1``) instead of derandomized, reproducible runs.
FUZZ_RANDOM = os.environ.get("YXT_FUZZ_RANDOM", "") not in ("", "0")

settings.register_profile(
    "yxt-fuzz",
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=not FUZZ_RANDOM,
    # Fixtures (a session sandbox, a loopback server) are shared on purpose: their state is
    # reset or irrelevant per example.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)

#: The settings every fuzz test uses (``@fuzz_settings``).
fuzz_settings = settings.get_profile("yxt-fuzz")
