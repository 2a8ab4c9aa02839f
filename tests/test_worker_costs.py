"""What a worker must not pay per job (bench/publish_throughput.py measured each of these):
the CA bundle loaded for every client, a forked child sharing its parent's database
connections, a worker that forks per job unless told to."""

from __future__ import annotations

import os
import ssl

import httpx
from sqlalchemy import text

from agency import outbound
from agency.db import db


def test_outbound_clients_share_one_tls_context(monkeypatch):
    outbound.tls_context()  # the process's context exists (the worker builds it before jobs)
    loaded = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: loaded.append(k) or real())
    for _ in range(3):
        outbound.OutboundClient(allow_private=True).close()
    assert loaded == []  # loading certifi's bundle costs 20-30 ms: never once per client
    assert httpx.create_ssl_context(trust_env=False) and len(loaded) == 1  # the probe works


def test_a_forked_child_opens_its_own_database_connections(app):
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    db.session.remove()
    engine = db.engine
    assert engine.pool.checkedin() >= 1  # the parent keeps a pooled connection
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: like RQ's scheduler process or a work horse
        try:
            inherited = engine.pool.checkedin()
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            os.write(write, str(inherited).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"  # the parent's connections were left to the parent
    os.close(read)
    with engine.connect() as conn:  # and the parent's pool still works
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_the_worker_runs_jobs_in_its_process_unless_asked_to_fork(runner, monkeypatch):
    from rq import SimpleWorker, Worker

    from agency.publishing import jobs as publishing_jobs
    from agency.worker import ForkingWorker, InProcessWorker

    used = []

    def work(self, burst=False, with_scheduler=False):  # noqa: ANN001, ANN202
        used.append((type(self), burst, with_scheduler))

    monkeypatch.setattr(Worker, "work", work)
    monkeypatch.setattr(SimpleWorker, "work", work)
    monkeypatch.setattr(publishing_jobs, "_in_worker", False)
    assert runner.invoke(args=["worker", "--burst"]).exit_code == 0
    assert runner.invoke(args=["worker", "--burst", "--fork-per-job"]).exit_code == 0
    assert used == [(InProcessWorker, True, True), (ForkingWorker, True, True)]
    assert issubclass(InProcessWorker, SimpleWorker) and issubclass(ForkingWorker, Worker)
    assert publishing_jobs._in_worker  # jobs then share one keep-alive HTTP client


def test_the_workers_scheduler_ticks_four_times_a_second(app):
    from agency.jobs import redis_client
    from agency.worker import SCHEDULER_INTERVAL_SECONDS, InProcessWorker, QuickTickScheduler

    worker = InProcessWorker(["publish"], connection=redis_client())
    worker._start_scheduler(burst=True)  # what work(with_scheduler=True) calls first
    assert isinstance(worker.scheduler, QuickTickScheduler)
    assert SCHEDULER_INTERVAL_SECONDS <= 0.25  # RQ's own tick (1 s) made posts up to 1 s late
    assert isinstance(worker.scheduler.interval, int)  # RQ's lock TTLs: whole seconds
