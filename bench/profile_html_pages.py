"""In-process cost of the pages bench/pages.py measures, against its bare page.

    .venv/bin/python -m bench.profile_html_pages [-n 300] [--reseed] [--profile PAGE] [--only PAGE]

Load-independent guide to the wrk figures of ``bench.pages``: the same seeded database
(``prepare_database``/``seed``, ``REGIA_BENCH_DATABASE``, ``REGIA_BENCH_REDIS``) and the same
environment gunicorn gets, but each page is a direct WSGI call in this process, timed ``-n``
times after a warm-up, the bare page likewise. The ratio bare/page is what the 2-worker
gunicorn ratio tends to on a CPU-bound machine. The seeded database is kept between runs (its
settings in a JSON file beside the system's temp files); ``--reseed`` recreates it.
``--snapshot DIR`` writes the HTML pages (English and Italian) to diff before/after a change.
``--profile NAME`` (a page name as printed, e.g. ``queue``) prints a pyinstrument profile of
that page's requests; ``--cprofile NAME`` a cProfile table of the top functions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import pages

STATE = Path(tempfile.gettempdir()) / f"regia-profile-{pages.DATABASE}.json"


def _environment(reseed: bool, posts: int) -> dict[str, Any]:
    """The bench database, seeded once, and the environment the apps run with."""
    if STATE.exists() and not reseed:
        return json.loads(STATE.read_text())
    from cryptography.fernet import Fernet

    from tests import pg

    owner_url, app_url = pages.prepare_database()
    work = tempfile.mkdtemp(prefix="regia-profile-")
    env = {
        "DATABASE_URL": app_url,
        "REGIA_MIGRATION_DATABASE_URL": owner_url,
        "REGIA_APP_DATABASE_ROLE": pg.APP_ROLE,
        "REDIS_URL": os.environ.get("REGIA_BENCH_REDIS", "redis://127.0.0.1:6379/1"),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REGIA_INSTANCE_PATH": work,
    }
    started = time.monotonic()
    seeded = pages.seed(env, posts)
    pages.analyze(owner_url)
    print(f"seeded {posts} posts in {time.monotonic() - started:.1f}s", file=sys.stderr)
    state = {"env": env, "seeded": seeded}
    STATE.write_text(json.dumps(state))
    return state


def _environ(path: str, headers: dict[str, str]) -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, headers=headers, base_url="http://127.0.0.1:8000")
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app, environ: dict) -> tuple[str, bytes]:  # noqa: ANN001
    """One WSGI request as gunicorn makes it; returns (status, body)."""
    got: list[str] = []

    def start_response(status: str, _headers: list, _exc: object = None) -> None:
        got.append(status)

    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(b"")
    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return got[0], body


def _cookie(app, slug: str) -> str:  # noqa: ANN001
    """Signed in through the real login form, as bench.pages does, with the agency remembered."""
    import re

    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf, "email": "owner@bench.example", "password": pages.PASSWORD}
    client.post("/login", data=form)
    client.get(f"/a/{slug}/")
    cookie = client.get_cookie("session")
    return f"session={cookie.value}"


def targets(app, state: dict[str, Any]) -> list[tuple[str, dict]]:  # noqa: ANN001
    seeded = state["seeded"]
    slug, today = seeded["slug"], datetime.now(UTC).date().isoformat()
    page = {"Cookie": _cookie(app, slug), "User-Agent": pages.USER_AGENT}
    api = {"Authorization": f"Bearer {seeded['token']}", "User-Agent": pages.USER_AGENT}
    return [
        ("queue", _environ(f"/a/{slug}/posts/queue", page)),
        ("calendar", _environ(f"/a/{slug}/posts/calendar?date={today}", page)),
        ("api-posts", _environ("/api/v1/posts?limit=50", api)),
        ("api-clients", _environ("/api/v1/clients?limit=50", api)),
        ("clients", _environ(f"/a/{slug}/clients/", page)),
    ]


def snapshot(app, pages_to_time: list[tuple[str, dict]], folder: Path) -> None:  # noqa: ANN001
    """The HTML pages as served, to diff before and after a change (same data, same day)."""
    import re

    folder.mkdir(parents=True, exist_ok=True)
    for name, environ in pages_to_time:
        if name.startswith("api-"):
            continue
        for lang in ("en", "it"):
            status, body = call(app, {**environ, "HTTP_ACCEPT_LANGUAGE": lang})
            html = re.sub(r'value="[A-Za-z0-9._-]{60,}"', 'value="CSRF"', body.decode())
            (folder / f"{name}-{lang}.html").write_text(html)
            print(f"{name}-{lang}.html {status}")


def timed(apps: dict[str, tuple], n: int) -> dict[str, tuple[float, float]]:
    """Medians of ``n`` requests of each page after a short warm-up, in ms: wall clock, and
    this process's CPU time (steadier on a loaded machine; leaves out the database server's
    share). The pages take turns, ten requests at a time, so that a shared machine's load
    falls on all of them alike. ``apps``: name -> (WSGI app, environ)."""
    for app, environ in apps.values():
        for _ in range(10):
            status, body = call(app, environ)
            if not status.startswith("200"):
                raise RuntimeError(f"{environ['PATH_INFO']} answered {status}: {body[:300]!r}")
    wall: dict[str, list[float]] = {name: [] for name in apps}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(0, n, 10):
        for name, (app, environ) in apps.items():
            for _ in range(10):
                started, started_cpu = time.perf_counter(), time.thread_time()
                call(app, environ)
                cpu[name].append(time.thread_time() - started_cpu)
                wall[name].append(time.perf_counter() - started)
    return {
        name: (statistics.median(wall[name]) * 1000, statistics.median(cpu[name]) * 1000)
        for name in apps
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=300, help="requests per page")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--only", action="append", help="page names to time (repeatable)")
    parser.add_argument("--profile", help="pyinstrument profile of this page")
    parser.add_argument("--cprofile", help="cProfile top functions of this page")
    parser.add_argument("--lang", default="", help="Accept-Language for the pages (e.g. it)")
    parser.add_argument(
        "--snapshot", type=Path, help="write each HTML page (en, it; CSRF tokens masked) here"
    )
    args = parser.parse_args(argv)
    state = _environment(args.reseed, args.posts)
    os.environ.update(state["env"])
    from agency.app import create_app

    app = create_app()
    bare_env = {**state["env"], "BENCH_AGENCY_ID": state["seeded"]["agency_id"]}
    os.environ.update(bare_env)
    bare = pages.bare_app()
    pages_to_time = targets(app, state)
    if args.lang:
        for _name, environ in pages_to_time:
            environ["HTTP_ACCEPT_LANGUAGE"] = args.lang
    if args.snapshot:
        snapshot(app, pages_to_time, args.snapshot)
        return 0
    if args.only:
        pages_to_time = [(name, env) for name, env in pages_to_time if name in args.only]
    bare_environ = _environ("/rows", {"User-Agent": pages.USER_AGENT})
    results = timed(
        {"bare": (bare, bare_environ), **{name: (app, env) for name, env in pages_to_time}}, args.n
    )
    floor, floor_cpu = results.pop("bare")
    print(f"{'page':14}{'wall ms':>9}{'bare':>7}{'ratio':>7}{'cpu ms':>9}{'bare':>7}{'ratio':>7}")
    for name, (ms, cpu) in results.items():
        print(
            f"{name:14}{ms:9.2f}{floor:7.2f}{floor / ms:7.2f}"
            f"{cpu:9.2f}{floor_cpu:7.2f}{floor_cpu / cpu:7.2f}",
            flush=True,
        )
    if args.profile:
        from pyinstrument import Profiler

        environ = dict(pages_to_time)[args.profile]
        profiler = Profiler(interval=0.001)
        profiler.start()
        for _ in range(args.n):
            call(app, environ)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.cprofile:
        import cProfile
        import pstats

        environ = dict(pages_to_time)[args.cprofile]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            call(app, environ)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
