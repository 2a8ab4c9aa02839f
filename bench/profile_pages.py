"""In-process cost of bench/pages.py's pages: ms per request, and where it goes.

    .venv/bin/python -m bench.profile_pages [--requests 300] [--reseed] [--only NAME]
        [--profile NAME] [--cprofile NAME]

wrk figures on a shared machine swing with its load; the ratio of in-process costs does not.
This builds the same database as ``bench.pages`` (its own ``prepare_database`` and ``seed``,
under ``REGIA_BENCH_DATABASE``; reused when already seeded unless ``--reseed``), builds the
app with the environment bench/pages.py gives gunicorn (runtime role, RLS, Redis at
``REGIA_BENCH_REDIS``), signs in through the real login form, and then calls each page's
WSGI callable ``--requests`` times with a prepared environ (no HTTP, no load generator),
alternating with the bare page. It prints ms/request of each and the ratio bare/page, which
is what bench.pages's req/s ratio tends to when both are CPU-bound.

``--stack-floor`` adds two pages that exist only in this process, to tell the cost of the
mechanisms DESIGN.md fixes from the cost of Regia's pages: the bare page's own 50 rows and
template (no layout, no menu), but served by Regia's app as every page is served (signed-in
session or bearer token, tenant resolved, the rows read through the tenant-scoped ORM session
under RLS). Their ratio is the ceiling any page of this stack can reach.

``--profile NAME`` (a page name or a unique part of it, e.g. ``clients``) prints a
pyinstrument profile of that page (``pip install pyinstrument``); ``--cprofile NAME`` a
cProfile listing, sorted by cumulative time.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import pages

BENCH_SECRET = "bench-profile-secret-key"  # noqa: S105 - a throw-away local app


def environment(owner_url: str, app_url: str, instance: Path) -> dict[str, str]:
    """What ``bench.pages.main`` gives gunicorn (a fixed Fernet key: the seed is reused)."""
    from tests import pg

    return {
        "DATABASE_URL": app_url,
        "REGIA_MIGRATION_DATABASE_URL": owner_url,
        "REGIA_APP_DATABASE_ROLE": pg.APP_ROLE,
        "REDIS_URL": os.environ.get("REGIA_BENCH_REDIS", "redis://127.0.0.1:6379/1"),
        "SECRET_KEY": BENCH_SECRET,
        "ENCRYPTION_KEYS": "8o1Ot6T3xH2M8Pvk0iFjM0W7m1m0j8wX8c1hRkFq0nE=",
        "REGIA_INSTANCE_PATH": str(instance),
    }


def seeded_or_seed(env: dict[str, str], owner_url: str, posts: int, reseed: bool) -> dict:
    """The seeded agency (slug, a fresh token, id): reused when the database has it."""
    from sqlalchemy import create_engine, text

    if not reseed:
        engine = create_engine(owner_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    text("SELECT id, slug FROM agencies WHERE name = 'Bench Agency'")
                ).first()
                count = 0
                if row is not None:  # the policies are FORCEd: the owner counts under RLS too
                    conn.execute(
                        text("SELECT set_config('app.agency_id', :v, true)"), {"v": str(row.id)}
                    )
                    count = conn.execute(text("SELECT count(*) FROM posts")).scalar()
        except Exception:  # noqa: BLE001 - no database yet: seed it
            row, count = None, 0
        finally:
            engine.dispose()
        if row is not None and count == posts:
            return {"slug": row.slug, "token": _fresh_token(env, row.id), "agency_id": str(row.id)}
    from tests import pg

    owner_url = pg.recreate_database(pages.DATABASE)
    from agency import migrate

    migrate.upgrade(owner_url, app_role=pg.APP_ROLE)
    started = time.monotonic()
    seeded = pages.seed(env, posts)
    pages.analyze(owner_url)
    print(f"seeded {posts} posts in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return seeded


def _fresh_token(env: dict[str, str], agency_id: uuid.UUID) -> str:
    os.environ.update(env)
    from sqlalchemy import select

    from agency.app import create_app
    from agency.db import db
    from tenants import service
    from tenants.models import Agency, User

    app = create_app()
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        owner = db.session.scalar(select(User).where(User.email == "owner@bench.example"))
        token = service.issue_token(owner, agency, name=f"profile {uuid.uuid4().hex[:6]}")
        db.session.commit()
    return token


class Caller:
    """Calls a WSGI app with a prepared environ, as a server would; checks the status."""

    def __init__(self, app: Any, url: str, headers: dict[str, str]) -> None:
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder(path=url, headers=headers, base_url="http://127.0.0.1:8000")
        self.environ = builder.get_environ()
        builder.close()
        self.app, self.url = app, url

    def __call__(self) -> bytes:
        status: list[str] = []

        def start_response(s: str, _headers: list, _exc: object = None) -> None:
            status.append(s)

        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO(b"")
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"{self.url} answered {status}: {body[:300]!r}")
        return body


def sign_in(app: Any, slug: str) -> str:
    """Sign in through the real login form (as bench.pages does); returns a Cookie header."""
    web = app.test_client()
    html = web.get("/login", headers={"User-Agent": pages.USER_AGENT}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf, "email": "owner@bench.example", "password": pages.PASSWORD}
    web.post("/login", data=form, headers={"User-Agent": pages.USER_AGENT})
    web.get(f"/a/{slug}/", headers={"User-Agent": pages.USER_AGENT})
    cookie = web.get_cookie("session")
    return f"session={cookie.value}"


def targets(slug: str, cookie: str, token: str) -> list[tuple[str, str, dict, str]]:
    page = {"Cookie": cookie, "User-Agent": pages.USER_AGENT}
    api = {"Authorization": f"Bearer {token}", "User-Agent": pages.USER_AGENT}
    today = datetime.now(UTC).date().isoformat()
    return [
        ("GET /api/v1/me (floor)", "/api/v1/me", api, '"agency"'),
        ("approval queue page", f"/a/{slug}/posts/queue", page, "Post "),
        ("calendar week page", f"/a/{slug}/posts/calendar?date={today}", page, "Post "),
        ("GET /api/v1/posts?limit=50", "/api/v1/posts?limit=50", api, '"items"'),
        ("GET /api/v1/clients?limit=50", "/api/v1/clients?limit=50", api, "Client 49"),
        ("clients page", f"/a/{slug}/clients/", page, "Client 0"),
    ]


def timed(call: Caller, n: int) -> tuple[float, float]:
    """(wall, this process's CPU) ms per call over ``n`` calls, after a warm-up of 20.

    Wall time includes the database's (and swings with the machine's load); CPU time is the
    Python side alone, the steadier guide on a shared machine."""
    for _ in range(20):
        call()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return (time.perf_counter() - wall) * 1000 / n, (time.process_time() - cpu) * 1000 / n


def pick(name: str, names: list[str]) -> str:
    found = [n for n in names if name.lower() in n.lower()]
    if len(found) != 1:
        raise SystemExit(f"{name!r} names {found or 'nothing'}; one of {names}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per page")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--reseed", action="store_true", help="recreate the database")
    parser.add_argument("--only", help="measure only this page (and the bare one)")
    parser.add_argument("--profile", help="pyinstrument profile of this page")
    parser.add_argument("--cprofile", help="cProfile listing of this page")
    parser.add_argument("--stack-floor", action="store_true", help="add the stack's floor pages")
    args = parser.parse_args(argv)
    from tests import pg

    owner_url, app_url = pg.owner_url(pages.DATABASE), pg.app_url(pages.DATABASE)
    instance = Path(tempfile.mkdtemp(prefix="regia-profile-"))
    env = environment(owner_url, app_url, instance)
    seeded = seeded_or_seed(env, owner_url, args.posts, args.reseed)
    os.environ.update(env)
    os.environ["BENCH_AGENCY_ID"] = seeded["agency_id"]
    from agency.app import create_app

    regia = create_app()
    if args.stack_floor:
        pages.add_stack_floor(regia)
    bare = Caller(pages.bare_app(), "/rows", {"User-Agent": pages.USER_AGENT})
    cookie = sign_in(regia, seeded["slug"])
    chosen = targets(seeded["slug"], cookie, seeded["token"])
    if args.stack_floor:
        page = {"Cookie": cookie, "User-Agent": pages.USER_AGENT}
        api = {"Authorization": f"Bearer {seeded['token']}", "User-Agent": pages.USER_AGENT}
        chosen[1:1] = [
            ("stack floor: bare page in Regia", f"/a/{seeded['slug']}/bench-floor", page, "Post "),
            ("stack floor: bare rows as API", "/api/v1/bench-floor", api, '"items"'),
        ]
    names = [name for name, *_ in chosen]
    calls = {name: Caller(regia, url, headers) for name, url, headers, _e in chosen}
    for name, _url, _headers, expect in chosen:
        if expect.encode() not in calls[name]():
            raise RuntimeError(f"{name} does not show {expect!r}")
    if args.profile or args.cprofile:
        return _profile(calls, names, args)
    if args.only:
        names = [pick(args.only, names)]
    print(f"{'':32}{'--- wall ms/request ---':>24}  {'--- CPU ms/request ---':>24}")
    print(f"{'page':32}{'page':>8}{'bare':>8}{'ratio':>8}  {'page':>8}{'bare':>8}{'ratio':>8}")
    for name in names:
        floor, floor_cpu = timed(bare, args.requests)
        cost, cost_cpu = timed(calls[name], args.requests)
        print(
            f"{name:32}{cost:8.2f}{floor:8.2f}{floor / cost:8.2f}"
            f"  {cost_cpu:8.2f}{floor_cpu:8.2f}{floor_cpu / cost_cpu:8.2f}",
            flush=True,
        )
    print(f"({args.requests} requests each; 1-min load average {os.getloadavg()[0]:.1f})")
    return 0


def _profile(calls: dict[str, Caller], names: list[str], args: argparse.Namespace) -> int:
    if args.profile:
        from pyinstrument import Profiler

        call = calls[pick(args.profile, names)]
        timed(call, 5)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.requests):
            call()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    else:
        import cProfile
        import pstats

        call = calls[pick(args.cprofile, names)]
        timed(call, 5)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            call()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
