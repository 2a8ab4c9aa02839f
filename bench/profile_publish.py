"""In-process profile of the publish job (issue #9): no RQ, no worker, the job function alone.

    .venv/bin/python -m bench.profile_publish [--posts 200] [--postgresql] [--profile]

Seeds approved posts for one Mastodon channel on the loopback fake (as
``bench/publish_throughput.py`` does, on its scratch database), makes them due, then calls
``publish_target`` for each target in a loop in this process, as a worker's job would, and
prints the wall time per job, the SQL statements and commits per job and the time spent
waiting on the database and on the network. ``--profile`` adds a cProfile of the loop
(``--sort tottime`` orders it so), ``--per-statement`` each distinct statement's median time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (tottime…)")
    parser.add_argument(
        "--per-statement", action="store_true", help="time each distinct SQL statement"
    )
    args = parser.parse_args()

    from bench.publish_throughput import Bench, scratch_app

    _tmp, _env, app = scratch_app(args.postgresql, prefix="regia-profile-")

    from sqlalchemy import event, select, update

    from agency.content.models import Post, PostTarget
    from agency.db import db, utcnow
    from agency.publishing import jobs
    from tenants.context import tenant_context
    from tests.fakes.mastodon import FakeMastodon

    fake = FakeMastodon(media_processing_polls=0).start()
    with app.app_context():
        bench = Bench(fake, "profile")
        ids = bench.approved_posts(args.posts, "profile")
        with tenant_context(bench.agency.id):
            due = utcnow() - timedelta(seconds=1)
            db.session.execute(update(Post).where(Post.id.in_(ids)).values(scheduled_at=due))
            db.session.commit()
            targets = db.session.scalars(
                select(PostTarget.id).where(PostTarget.post_id.in_(ids))
            ).all()
            db.session.rollback()
        agency_id = bench.agency.id
        engine = db.engine

    counts = {"statements": 0, "commits": 0, "db_seconds": 0.0}
    per: dict[str, list[float]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        counts["statements"] += 1
        spent = time.perf_counter() - conn.info.pop("t0", time.perf_counter())
        counts["db_seconds"] += spent
        if args.per_statement:
            key = " ".join(statement.split())[:90]
            per.setdefault(key, []).append(spent)

    @event.listens_for(engine, "commit")
    def _commit(conn):  # noqa: ANN001, ANN202
        counts["commits"] += 1

    jobs.warm()
    from agency import outbound

    http_seconds = [0.0]
    original = outbound.OutboundClient.request

    def timed(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            http_seconds[0] += time.perf_counter() - t0

    outbound.OutboundClient.request = timed
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    cpu0 = time.process_time()
    if profiler:
        profiler.enable()
    results: dict[str, int] = {}
    for target_id in targets:
        result = jobs.publish_target(agency_id, str(target_id), 1)
        results[result] = results.get(result, 0) + 1
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    n = len(targets)
    fake.stop()
    print(f"{n} jobs: {results}")
    print(
        f"per job: {wall / n * 1000:.2f} ms wall, {cpu / n * 1000:.2f} ms CPU of this process, "
        f"{counts['statements'] / n:.1f} statements, {counts['commits'] / n:.1f} commits, "
        f"{counts['db_seconds'] / n * 1000:.2f} ms in the database driver, "
        f"{http_seconds[0] / n * 1000:.2f} ms in HTTP calls"
    )
    for key, spent in sorted(per.items(), key=lambda kv: -sum(kv[1])):
        median = sorted(spent)[len(spent) // 2]
        print(f"{len(spent):5d} x median {median * 1e6:5.0f} us, first {spent[0] * 1e6:5.0f} {key}")
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)


if __name__ == "__main__":
    main()
