"""What importing each public module adds over ``import airflow.sdk`` (target: under 50 ms each).

The DAG processor imports every DAG file again and again, so whatever an operator, sensor
or notifier module imports at the top is paid on every parse. Each figure is the median
over several fresh interpreters of the time ``import <module>`` takes after
``import airflow.sdk`` (which every DAG file pays anyway), with the heavy modules that came
along.

    .venv/bin/python benchmarks/import_overhead.py [--runs 7] [--modules a,b]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from yxt_provider.get_provider_info import get_provider_info  # noqa: E402

TARGET_MS = 50.0
# Loaded late on purpose (see DESIGN.md, "Parse time is sacred"); listed when a module pulls them in.
HEAVY = (
    "requests",
    "yxt_provider.ledger.store",
    "sqlalchemy.dialects.mysql",
    "fastapi",
    "uvicorn",
    "jinja2.meta",
)
# Public modules besides those the provider registers (hooks, operators, sensors, triggers, notifiers).
EXTRA_MODULES = (
    "yxt_provider.connection",
    "yxt_provider.client",
    "yxt_provider.ledger",
    "yxt_provider.campaign",
    "yxt_provider.receipts",
    "yxt_provider.sandbox",
)

_CHILD = """
import json, sys, time
import airflow.sdk
before = set(sys.modules)
started = time.perf_counter()
__import__({module!r})
elapsed = time.perf_counter() - started
print(json.dumps({{"ms": elapsed * 1000, "heavy": [m for m in {heavy!r} if m in sys.modules and m not in before]}}))
"""


def public_modules() -> list[str]:
    """The modules the provider registers with Airflow, then the other public packages."""
    info = get_provider_info()
    registered: list[str] = []
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(key, []):
            registered.extend(entry["python-modules"])
    registered.extend(path.rsplit(".", 1)[0] for path in info.get("notifications", []))
    return list(dict.fromkeys([*registered, *EXTRA_MODULES]))


def measure(module: str, runs: int) -> tuple[float, list[str]]:
    """Median milliseconds ``import module`` adds over ``airflow.sdk``, and the heavy modules it loads."""
    samples: list[float] = []
    heavy: list[str] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(module=module, heavy=HEAVY)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        samples.append(result["ms"])
        heavy = result["heavy"]
    return statistics.median(samples), heavy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per module (median)")
    parser.add_argument("--modules", help="comma-separated modules (default: every public module)")
    args = parser.parse_args(argv)
    modules = args.modules.split(",") if args.modules else public_modules()
    width = max(len(m) for m in modules)
    print(f"{'module':<{width}}  {'ms over airflow.sdk':>19}  {'/ target':>8}  heavy modules loaded")
    over = 0
    for module in modules:
        ms, heavy = measure(module, args.runs)
        over += ms > TARGET_MS
        print(
            f"{module:<{width}}  {ms:>19.1f}  {ms / TARGET_MS:>8.2f}  {', '.join(heavy) or '-'}", flush=True
        )
    print(f"target {TARGET_MS:.0f} ms; {over} of {len(modules)} modules over it (median of {args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
