"""Throughput of Regia's busiest pages against a bare Flask page (issue 8, acceptance 7).

    .venv/bin/python -m bench.pages [--seconds 8] [--rounds 3] [--posts 10000] [--python-client]
                                    [--stack-floor]

Needs PostgreSQL and Redis as the test suite does (tests/pg.py: ``REGIA_TEST_ADMIN_DSN``,
the ``regia_owner``/``regia_app`` roles). It recreates the database ``regia_bench``, migrates
it as the owner, seeds one agency (50 clients, 100 channels, 10,000 posts with their
revisions and targets, bulk inserted) and serves two apps with gunicorn, 2 sync workers
each, as the runtime role (so row-level security applies):

- Regia itself (``wsgi:app``);
- a bare Flask app that reads 50 posts from the same database in one statement and renders
  them with a Jinja template: the floor of what any page costs on this machine.

Each target is driven by wrk (or, without wrk, the small Python client below), authenticated
(a signed-in session cookie for pages, a bearer token for the API), alternating with the bare
page in the same run so that the load of a shared machine falls on both alike. The ratio of
each target to the bare page is printed (median over the rounds). Target: >= 0.70.

``--stack-floor`` serves Regia with two more pages (``regia_with_floor``): the bare page's own
query and template, without layout or menu, behind Regia's request machinery (signed-in
session or bearer token, tenant resolved, rows read through the tenant-scoped ORM session
under RLS). Their ratio is the most any authenticated, scoped page of this stack can reach.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("REGIA_BENCH_DATABASE", "regia_bench")
PASSWORD = "bench password 123"  # noqa: S105 - a throw-away local account
USER_AGENT = "regia-bench"
BARE_ROWS = 50

# --- The bare page ------------------------------------------------------------------------

BARE_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Posts</title></head><body><main><h1>Posts</h1>
<table class="table"><thead><tr><th>Post</th><th>Status</th><th>Scheduled</th></tr></thead>
<tbody>{% for row in rows %}<tr><td><a href="/posts/{{ row.id }}">{{ row.body }}</a></td>
<td>{{ row.status }}</td><td>{{ row.scheduled_at.strftime('%Y-%m-%d %H:%M') if row.scheduled_at
else '' }}</td></tr>{% endfor %}</tbody></table></main></body></html>"""

BARE_QUERY = """SELECT p.id, p.status, p.scheduled_at, r.body FROM posts p
JOIN revisions r ON r.agency_id = p.agency_id AND r.post_id = p.id AND r.number = p.revision
ORDER BY p.created_at DESC, p.id DESC LIMIT 50"""


def bare_app():  # noqa: ANN201 - gunicorn 'bench.pages:bare_app()'
    """Flask + SQLAlchemy Core + Jinja, one statement a page, under the same RLS setting."""
    from flask import Flask
    from sqlalchemy import create_engine, event, text

    app = Flask(__name__)
    engine = create_engine(os.environ["DATABASE_URL"])
    agency_id = os.environ["BENCH_AGENCY_ID"]

    @event.listens_for(engine, "connect")
    def _tenant(dbapi_connection, _record) -> None:  # noqa: ANN001
        # Session-wide, once per connection: the bare page pays no per-request RLS statement.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.agency_id', %s, false)", (agency_id,))
        dbapi_connection.commit()

    template = app.jinja_env.from_string(BARE_TEMPLATE)
    query = text(BARE_QUERY)

    @app.get("/rows")
    def rows():  # noqa: ANN202
        with engine.connect() as conn:
            found = conn.execute(query).all()
        return template.render(rows=found)

    return app


def add_stack_floor(app) -> None:  # noqa: ANN001
    """The bare page's query and template, behind Regia's request machinery (``--stack-floor``; also
    ``bench.profile_pages --stack-floor``): the ceiling any page of this stack can reach.."""
    from flask import jsonify
    from flask_login import login_required
    from sqlalchemy import and_, select

    from agency.content.models import Post, Revision
    from agency.db import db

    query = (
        select(Post.id, Post.status, Post.scheduled_at, Revision.body)
        .join(
            Revision,
            and_(
                Revision.agency_id == Post.agency_id,
                Revision.post_id == Post.id,
                Revision.number == Post.revision,
            ),
        )
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(BARE_ROWS)
    )

    template = app.jinja_env.from_string(BARE_TEMPLATE)  # compiled once, as the bare app

    @login_required
    def floor_page(agency_slug: str):  # noqa: ANN202, ARG001 - the slug resolves the tenant
        return template.render(rows=db.session.execute(query).all())

    def floor_api():  # noqa: ANN202
        rows = db.session.execute(query).all()
        return jsonify(
            items=[
                {"id": str(r.id), "status": r.status, "body": r.body,
                 "scheduled_at": r.scheduled_at.isoformat() if r.scheduled_at else None}
                for r in rows
            ]
        )  # fmt: skip

    app.add_url_rule("/a/<agency_slug>/bench-floor", "bench_floor_page", floor_page)
    app.add_url_rule("/api/v1/bench-floor", "bench_floor_api", floor_api)


def regia_with_floor():  # noqa: ANN201 - gunicorn 'bench.pages:regia_with_floor()'
    """Regia's app with the stack-floor pages added (``--stack-floor``)."""
    from agency.app import create_app

    app = create_app()
    add_stack_floor(app)
    return app


# --- Database and seed --------------------------------------------------------------------


def prepare_database() -> tuple[str, str]:
    """Recreate and migrate ``regia_bench``; returns (owner URL, runtime URL)."""
    from agency import migrate
    from tests import pg

    owner_url = pg.recreate_database(DATABASE)
    migrate.upgrade(owner_url, app_role=pg.APP_ROLE)
    return owner_url, pg.app_url(DATABASE)


def seed(env: dict[str, str], posts: int) -> dict[str, str]:
    """One agency, its owner, 50 clients with two channels each and ``posts`` posts."""
    os.environ.update(env)
    from sqlalchemy import insert

    from agency.app import create_app
    from agency.content.editing import content_hash
    from agency.content.models import Post, PostStatus, PostTarget, Revision
    from agency.db import db
    from tenants import service
    from tenants.context import tenant_context
    from tests.factories import make_channel, make_client

    app = create_app()
    with app.app_context():
        agency, owner = service.create_agency_with_owner(
            "Bench Agency", "Bench Owner", "owner@bench.example", PASSWORD
        )
        db.session.commit()
        token = service.issue_token(owner, agency, name="bench")
        db.session.commit()
        clients = [make_client(agency, f"Client {n:02d}", country="IT") for n in range(50)]
        channels = {
            c.id: [make_channel(agency, c, name=f"{c.name} {k}").id for k in "AB"] for c in clients
        }
        now = datetime.now(UTC)
        first, span = now - timedelta(days=730), timedelta(days=1460)  # ~48 posts a week
        post_rows, revision_rows, target_rows = [], [], []
        for i in range(posts):
            client = clients[i % len(clients)]
            when = first + span * i / posts
            body = f"Post {i}: news from {client.name} with a link https://example.com/{i}"
            status = _status(i, when, now)
            pid = uuid.uuid4()
            approved = 1 if status in ("scheduled", "published") else None
            post_rows.append(
                dict(id=pid, agency_id=agency.id, client_id=client.id, status=status,
                     scheduled_at=when, revision=1, approved_revision=approved,
                     client_revision=1 if status != "draft" else None,
                     shown_revisions=[1] if status != "draft" else [],
                     created_by_id=owner.id, submitted_at=None if status == "draft" else now,
                     created_at=when - timedelta(days=3), updated_at=now)
            )  # fmt: skip
            chosen = channels[client.id][: 1 + i % 2]
            content = {"body": body, "variants": {}, "media": [], "scheduled_at": when.isoformat()}
            revision_rows.append(
                dict(agency_id=agency.id, post_id=pid, number=1, body=body, variants={},
                     media=[], channel_ids=[str(c) for c in chosen], scheduled_at=when,
                     author_id=owner.id, content_hash=content_hash(content))
            )  # fmt: skip
            target_status = "published" if status == PostStatus.PUBLISHED.value else "pending"
            target_rows += [
                dict(agency_id=agency.id, post_id=pid, channel_id=c, status=target_status)
                for c in chosen
            ]
        with tenant_context(agency.id):
            for model, rows in ((Post, post_rows), (Revision, revision_rows)):
                db.session.execute(insert(model), rows)
            db.session.execute(insert(PostTarget), target_rows)
            db.session.commit()
        return {"slug": agency.slug, "token": token, "agency_id": str(agency.id)}


def analyze(owner_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(owner_url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _status(i: int, when: datetime, now: datetime) -> str:
    """Mostly published (past) or scheduled (future); some drafts; ~50 waiting on review."""
    if i % 200 == 7 and when > now:
        return "in_review"
    if i % 200 == 11 and when > now:
        return "awaiting_client"
    if i % 10 == 3:
        return "draft"
    return "published" if when < now else "scheduled"


# --- Servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(app_spec: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [
        "nice", "-n", "10", sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync",
        "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec,
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app_spec} did not start; see {log}")


def sign_in(base: str, slug: str) -> str:
    """Sign in through the real login form; returns the ``Cookie`` header it earned."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    html = opener.open(f"{base}/login").read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf, "email": "owner@bench.example", "password": PASSWORD}
    opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode())
    # The first agency page remembers the agency in the cookie: take that cookie, or every
    # measured request would re-sign a changed session.
    opener.open(f"{base}/a/{slug}/")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


# --- Load ---------------------------------------------------------------------------------


def load_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def load_python(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    """Fallback: ``connections`` threads in a loop of GETs for ``seconds``; completed req/s."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    done, errors, stop = [0], [], time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                errors.append(response.status)
                return
            done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{url} answered {errors[0]} under load")
    return done[0] / (time.monotonic() - started)


def check(url: str, headers: dict[str, str], expect: str) -> None:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request) as response:  # noqa: S310
        body = response.read().decode()
    if expect not in body:
        raise RuntimeError(f"{url} does not show {expect!r}: is it really the seeded data?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--python-client", action="store_true", help="even if wrk is there")
    parser.add_argument(
        "--stack-floor", action="store_true",
        help="also the bare page's rows and template served by Regia's app (page and API)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    load = load_wrk if shutil.which("wrk") and not args.python_client else load_python
    from cryptography.fernet import Fernet

    from tests import pg

    work = Path(tempfile.mkdtemp(prefix="regia-bench-"))
    owner_url, app_url = prepare_database()
    env = {
        "DATABASE_URL": app_url,
        "REGIA_MIGRATION_DATABASE_URL": owner_url,
        "REGIA_APP_DATABASE_ROLE": pg.APP_ROLE,
        "REDIS_URL": os.environ.get("REGIA_BENCH_REDIS", "redis://127.0.0.1:6379/1"),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REGIA_INSTANCE_PATH": str(work),
    }
    started = time.monotonic()
    seeded = seed(env, args.posts)
    analyze(owner_url)  # fresh bulk-loaded tables have no statistics: plans would be guesses
    print(f"seeded {args.posts} posts in {time.monotonic() - started:.1f}s")
    served = "bench.pages:regia_with_floor()" if args.stack_floor else "wsgi:app"
    regia, regia_port = serve(served, env, work / "regia.log")
    bare, bare_port = serve(
        "bench.pages:bare_app()", {**env, "BENCH_AGENCY_ID": seeded["agency_id"]}, work / "bare.log"
    )
    try:
        base = f"http://127.0.0.1:{regia_port}"
        page = {"Cookie": sign_in(base, seeded["slug"]), "User-Agent": USER_AGENT}
        api = {"Authorization": f"Bearer {seeded['token']}", "User-Agent": USER_AGENT}
        today, slug = datetime.now(UTC).date().isoformat(), seeded["slug"]
        targets = [
            ("approval queue page", f"{base}/a/{slug}/posts/queue", page, "Post "),
            ("calendar week page", f"{base}/a/{slug}/posts/calendar?date={today}", page, "Post "),
            ("GET /api/v1/posts?limit=50", f"{base}/api/v1/posts?limit=50", api, '"items"'),
            ("GET /api/v1/clients?limit=50", f"{base}/api/v1/clients?limit=50", api, "Client 49"),
            ("clients page", f"{base}/a/{slug}/clients/", page, "Client 0"),
        ]
        if args.stack_floor:
            targets[:0] = [
                ("stack floor: bare page in Regia", f"{base}/a/{slug}/bench-floor", page, "Post "),
                ("stack floor: bare rows as API", f"{base}/api/v1/bench-floor", api, '"items"'),
            ]
        bare_url = f"http://127.0.0.1:{bare_port}/rows"
        check(bare_url, {}, "Post ")
        for _name, url, headers, expect in targets:
            check(url, headers, expect)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in targets}
        for n in range(args.rounds):
            for name, url, headers, _expect in targets:
                floor = load(bare_url, {"User-Agent": USER_AGENT}, args.seconds, args.connections)
                got = load(url, headers, args.seconds, args.connections)
                results[name].append((got, floor))
                print(f"round {n + 1} {name:30} {got:7.1f} req/s  bare {floor:7.1f}", flush=True)
        print(f"\n{'page':32}{'req/s':>8}{'bare':>8}{'ratio':>7}   (median of {args.rounds})")
        for name, pairs in results.items():
            ratio = statistics.median(got / floor for got, floor in pairs)
            got = statistics.median(g for g, _f in pairs)
            floor = statistics.median(f for _g, f in pairs)
            print(f"{name:32}{got:8.1f}{floor:8.1f}{ratio:7.2f}")
        print(f"load: {load.__name__.removeprefix('load_')}, {args.connections} connections, "
              f"{args.seconds:g}s each, 1-min load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        for process in (regia, bare):
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
