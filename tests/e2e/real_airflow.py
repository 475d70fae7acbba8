"""Real Airflow components for end-to-end tests: scheduler, DAG processor, triggerer, API server.

Each component runs in its own session (``start_new_session``: setsid) with LocalExecutor on
SQLite in a fresh ``AIRFLOW_HOME``, on loopback only; :meth:`RealAirflow.stop` SIGTERMs, then
SIGKILLs, every process group, whatever happened. Start one per test module (a fixture of
``scope="module"``): the components take 10–15 s to become healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from yxt_provider.sandbox import SandboxServer

__all__ = ["Deadline", "RealAirflow", "free_port", "running_airflow", "sandbox_connection_json"]


def sandbox_connection_json(sandbox: SandboxServer) -> str:
    """The ``yxt`` connection (JSON) of a sandbox with the default demo account."""
    return json.dumps(
        {"conn_type": "yxt", "host": sandbox.base_url, "login": "demo_app", "password": "s3cr3t",
         "extra": {"sp_code": "100001"}}
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deadline:
    """One time budget shared by every wait of the test."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.end


class RealAirflow:
    """Airflow's components as subprocesses of one fresh ``AIRFLOW_HOME``, and a REST client for them."""

    COMPONENTS: ClassVar[dict[str, list[str]]] = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
    }

    def __init__(
        self,
        home: Path,
        log_dir: Path,
        yxt_connection: str,
        deadline: Deadline,
        extra_env: Mapping[str, str] | None = None,
        *,
        components: Mapping[str, list[str]] | None = None,
        component_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.components = dict(components if components is not None else self.COMPONENTS)
        self.component_env = {name: dict(env) for name, env in (component_env or {}).items()}
        self.home = home
        self.log_dir = log_dir
        self.deadline = deadline
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: list[subprocess.Popen[bytes]] = []
        self.session = requests.Session()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # The default pre-forks 32 LocalExecutor workers (~1.5 GB).
                "AIRFLOW__CORE__PARALLELISM": "4",
                # With the default 5 s, a deferrable task whose trigger fires within a few seconds
                # can be failed by a heartbeat race (apache/airflow#72716, #71580).
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.base_url,
                # SimpleAuthManager: every request to the API is an admin's (loopback only).
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": "yxt-e2e-" + "0123456789abcdef" * 4,
                "AIRFLOW_CONN_YXT_DEFAULT": yxt_connection,
                "PYTHONUNBUFFERED": "1",
                # "{base_url}" in a value stands for the API server's URL (its port is chosen here).
                **{k: v.replace("{base_url}", self.base_url) for k, v in (extra_env or {}).items()},
            }
        )
        self.env = env

    # -- processes --------------------------------------------------------------------------------

    def migrate(self) -> None:
        with open(self.log_dir / "db-migrate.log", "wb") as log:
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.home,
                timeout=max(1.0, self.deadline.end - time.monotonic()),
            )

    def start(self) -> None:
        for name in self.components:
            self.start_component(name)

    def start_component(self, name: str) -> None:
        """Start (or start again) one component; its output is appended to ``<name>.log``."""
        argv = [sys.executable, "-m", "airflow", *(a.format(port=self.port) for a in self.components[name])]
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.env, **self.component_env.get(name, {})},
                cwd=self.home,
                start_new_session=True,  # setsid: one session per component
            )

    def kill(self, name: str) -> int:
        """SIGKILL a component and everything it started (task processes too); returns how many died.

        Task supervisors put each task in a process group of its own, so the whole *session* is
        killed, not only the leader's group.
        """
        proc = self.processes.pop(name)  # no longer watched by check_alive: its death is wanted
        self.killed.append(proc)
        killed = _signal_session(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)
        return killed

    def stop(self) -> None:
        """SIGTERM every component's session, give them a few seconds, then SIGKILL what is left."""
        for proc in self.processes.values():
            _signal_session(proc.pid, signal.SIGTERM)
        # The scheduler, DAG processor and triggerer exit within a second; the API server's
        # leader process does not always, so its session is killed below.
        grace = time.monotonic() + 3.0
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, grace - time.monotonic()))
        # Also the session's other members (executor workers, task supervisors and their tasks)
        # when the leader is gone.
        for proc in [*self.processes.values(), *self.killed]:
            _signal_session(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5.0)
        self.session.close()

    def log_paths(self) -> list[Path]:
        """The components' own logs and every file Airflow wrote under ``AIRFLOW_HOME/logs``."""
        return sorted(self.log_dir.glob("*.log")) + sorted(
            p for p in (self.home / "logs").rglob("*") if p.is_file()
        )

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path.name} (last {lines} lines) -----\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- waiting ----------------------------------------------------------------------------------

    def fail(self, why: str) -> None:
        pytest.fail(f"{why}\n{self.log_tails()}", pytrace=False)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                self.fail(f"airflow {name} exited with code {proc.returncode}")

    def wait_for(self, what: str, probe: Any, interval: float = 0.25) -> Any:
        """Call ``probe()`` until it returns something truthy; fail with the logs when the budget is spent."""
        while True:
            self.check_alive()
            try:
                result = probe()
            except requests.RequestException:
                result = None
            if result:
                return result
            if self.deadline.expired():
                self.fail(f"timed out ({self.deadline.seconds:.0f} s budget) waiting for {what}")
            time.sleep(interval)

    # -- REST -------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=10, **kwargs)

    def get(self, path: str) -> Any:
        """GET as JSON; an error status raises ``requests.HTTPError`` (a probe then tries again)."""
        response = self.api("GET", path)
        response.raise_for_status()
        return response.json()

    def token(self, user: str, password: str) -> str | None:
        """A JWT for ``user`` from ``POST /auth/token`` (SimpleAuthManager with passwords), or ``None``."""
        response = requests.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": password}, timeout=10
        )
        return response.json()["access_token"] if response.status_code == 201 else None

    def log_in(self, user: str, password: str) -> None:
        """Send every later REST call as ``user`` (for components started without "all admins")."""
        token = self.wait_for(f"a token for {user}", lambda: self.token(user, password))
        self.session.headers["Authorization"] = f"Bearer {token}"

    def parsed(self, dag_id: str) -> bool:
        """Whether the DAG is parsed; a DAG file that does not import fails the test at once."""
        errors = self.get("/importErrors")["import_errors"]
        if errors:
            self.fail("DAG files do not import:\n" + "\n".join(e["stack_trace"][-600:] for e in errors))
        return bool(self.api("GET", f"/dags/{dag_id}").ok)

    def unpause(self, dag_id: str) -> None:
        """Unpause the DAG once it is parsed."""
        self.wait_for(f"{dag_id} parsed", lambda: self.parsed(dag_id))
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Unpause the DAG and start a run (no logical date); returns its run id."""
        self.unpause(dag_id)
        response = self.api(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": dict(conf or {})}
        )
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run once finished; the test fails unless it succeeded."""
        run = self.wait_for(
            f"{dag_id} {run_id} finished",
            lambda: (
                (r := self.get(f"/dags/{dag_id}/dagRuns/{run_id}"))["state"] in ("success", "failed") and r
            ),
        )
        if run["state"] != "success":
            self.fail(f"{dag_id} run {run_id} ended {run['state']}")
        return dict(run)

    def healthy(self) -> bool:
        health = self.get("/monitor/health")
        components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(c) or {}).get("status") == "healthy" for c in components)


def _signal_session(session_id: int, sig: signal.Signals) -> int:
    """Send ``sig`` to every process of the session ``session_id``; returns how many got it."""
    signalled = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getsid(pid) != session_id:
                continue
            os.kill(pid, sig)
            signalled += 1
        except (ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or not ours
    return signalled


@contextlib.contextmanager
def running_airflow(
    root: Path,
    dags: Mapping[str, str],
    connection: str,
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
    *,
    components: Mapping[str, list[str]] | None = None,
    component_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[RealAirflow]:
    """A fresh ``AIRFLOW_HOME`` under ``root`` holding ``dags`` (file name → source), its components started.

    Every component is stopped on leaving, whatever happened.

    :param root: a temporary folder (the home and the components' logs go there).
    :param dags: the DAG files.
    :param connection: the ``yxt_default`` connection, as JSON.
    :param timeout: seconds every wait of the test may take in all.
    :param extra_env: more environment for every component (connections, settings); ``{base_url}``
        in a value is replaced by the API server's URL.
    :param components: component name → ``airflow`` arguments (default :attr:`RealAirflow.COMPONENTS`).
    :param component_env: more environment for single components (name → variables).
    """
    home = root / "airflow_home"
    (home / "dags").mkdir(parents=True)
    for name, source in dags.items():
        (home / "dags" / name).write_text(source)
    components = RealAirflow(
        home, root, connection, Deadline(timeout), extra_env,
        components=components, component_env=component_env,
    )  # fmt: skip
    try:
        components.migrate()
        components.start()
        yield components
    finally:
        components.stop()
