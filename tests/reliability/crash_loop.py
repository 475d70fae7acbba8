"""Driving a crash loop: fork a try, SIGKILL it at a crash point, retry in fresh processes until done.

Tries run in processes forked from a ``multiprocessing`` fork server that imported the
package once (:mod:`tests.reliability.crash_child`), so a try costs a fork, not an
interpreter start and its imports.

Environment:

- ``YXT_CRASH_RUNS``: runs over all crash points of the module (default
  :data:`DEFAULT_RUNS`, one per point); set it to hundreds for a long soak.
- ``YXT_CRASH_SEED``: the seed of every draw (points' order, hits, moments; default
  :data:`DEFAULT_SEED`). A failure names the seed and the run, which replay it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

from tests.reliability.crash_child import Job, run_job
from tests.reliability.crash_gateway import GatewayTap
from tests.reliability.crash_hooks import ArmedCrash
from tests.reliability.crash_points import POINTS, CrashPoint, points_of

__all__ = [
    "DEFAULT_RUNS",
    "DEFAULT_SEED",
    "CrashLoop",
    "KilledTry",
    "LoopTally",
    "crash_runs",
    "crash_seed",
    "fork_server",
]

#: Runs of the whole module by default: each crash point once.
DEFAULT_RUNS = len(POINTS)
#: The default seed.
DEFAULT_SEED = 13
#: Tries after the killed one before a run counts as never finishing.
MAX_RETRIES = 4
_TRY_TIMEOUT = 60.0
_SIGKILL_EXIT = -9


def crash_runs() -> int:
    """``YXT_CRASH_RUNS``: runs over all crash points of the module."""
    return int(os.environ.get("YXT_CRASH_RUNS", DEFAULT_RUNS))


def crash_seed() -> int:
    """``YXT_CRASH_SEED``: the seed of every draw."""
    return int(os.environ.get("YXT_CRASH_SEED", DEFAULT_SEED))


def runs_of(job: str, total: int) -> int:
    """This job's share of ``total`` runs, by its number of crash points (at least one)."""
    return max(1, math.ceil(total * len(points_of(job)) / len(POINTS)))


_FORK_SERVER: ForkServerContext | None = None


def fork_server() -> ForkServerContext:
    """The fork server context, preloading the child's imports once per test session."""
    global _FORK_SERVER
    if _FORK_SERVER is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tests.reliability.crash_child"])
        _FORK_SERVER = context
    return _FORK_SERVER


@dataclass(frozen=True)
class KilledTry:
    """What the first try of a run met.

    :param point: the crash point armed.
    :param hit: the call it was armed at.
    :param killed: the try died by SIGKILL (else the point was never reached, and it finished).
    :param retries: further tries until the job was done.
    :param done: the job finished within :data:`MAX_RETRIES` retries.
    :param seconds: wall time of the run (killed try and retries).
    :param pages: the receipt pages the gateway handed to the first try, in order.
    """

    point: CrashPoint
    hit: int
    killed: bool
    retries: int
    done: bool
    seconds: float
    pages: tuple[frozenset[tuple[str, str]], ...] = ()


@dataclass
class LoopTally:
    """Counts of one loop, for its summary line.

    :param job: the job.
    :param seed: the seed.
    """

    job: str
    seed: int
    runs: int = 0
    kills: int = 0
    retries: int = 0
    violations: list[str] = field(default_factory=list)
    #: Receipts lost with a page in hand at a kill (allowed: the protocol has no acknowledgement).
    lost_receipts: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, run: KilledTry, index: int, problems: list[str]) -> None:
        """Count one run and the violations its check found."""
        self.runs += 1
        self.kills += run.killed
        self.retries += run.retries
        where = f"run {index} (seed {self.seed}) {run.point.name} hit {run.hit}"
        if not run.done:
            problems = [f"not done after {MAX_RETRIES} retries", *problems]
        if not run.killed and run.point.side != "clock":
            # Workloads are sized so that every hit is reached: a miss means the point moved.
            problems = ["the crash point was never reached", *problems]
        self.violations.extend(f"{where}: {problem}" for problem in problems)

    def summary(self) -> str:
        """One line: runs, kills, retries, violations, seconds."""
        return (
            f"crash loop {self.job}: runs={self.runs} kills={self.kills} retries={self.retries} "
            f"violations={len(self.violations)} lost_receipts={self.lost_receipts} seed={self.seed} seconds={time.monotonic() - self.started:.1f}"
        )


class CrashLoop:
    """Runs of one job: each a try killed at a drawn crash point, then retries until done.

    :param job: the job's kind (``send``, ``receipts`` or ``replies``).
    :param tap: the sandbox tap, for ``gateway`` points.
    :param seed: the seed of every draw.
    :param moment_horizon: seconds within which a ``clock`` point draws its moment (about
        one try's length).
    """

    def __init__(self, job: str, tap: GatewayTap, seed: int, moment_horizon: float) -> None:
        self.job = job
        self.tap = tap
        self.rng = random.Random(f"{seed}:{job}")
        self.moment_horizon = moment_horizon
        self.context = fork_server()

    def schedule(self, runs: int) -> Iterator[tuple[int, CrashPoint]]:
        """``runs`` points: every point once per round, each round in a seeded order."""
        points = list(points_of(self.job))
        index = 0
        while index < runs:
            self.rng.shuffle(points)
            for point in points[: runs - index]:
                yield index, point
                index += 1

    def run(self, point: CrashPoint, job: Job) -> KilledTry:
        """Kill one try of ``job`` at ``point`` (a seeded hit), then retry until it is done."""
        started = time.monotonic()
        hit = self.rng.randint(1, point.max_hit)
        statement = self.rng.randint(2, 4)
        moment = self.rng.uniform(0.0, self.moment_horizon)
        armed = ArmedCrash(point, hit, statement) if point.side == "task" else None
        self.tap.forget_pages()
        if point.side == "gateway":
            self.tap.arm(point.target, hit)
        process = self.context.Process(target=run_job, args=(job, armed), daemon=True)
        process.start()
        assert process.pid is not None
        self.tap.task_started(process.pid)
        if point.side == "clock":
            process.join(moment)
            if process.is_alive():
                process.kill()
        self._finish(process)
        self.tap.disarm()
        killed = process.exitcode == _SIGKILL_EXIT
        pages = tuple(self.tap.pages)
        retries = 0
        done = process.exitcode == 0
        while not done and retries < MAX_RETRIES:
            retries += 1
            again = self.context.Process(target=run_job, args=(job, None), daemon=True)
            again.start()
            self._finish(again)
            done = again.exitcode == 0
        return KilledTry(point, hit, killed, retries, done, time.monotonic() - started, pages)

    @staticmethod
    def _finish(process: BaseProcess) -> None:
        process.join(_TRY_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(_TRY_TIMEOUT)
            raise AssertionError(f"a try hung for {_TRY_TIMEOUT:.0f}s and was killed")
