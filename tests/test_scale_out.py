"""Scale-out as production runs it (issue 9, acceptance 6): two ``gunicorn wsgi:app`` instances
and three ``flask --app wsgi worker`` processes on one PostgreSQL and one Redis.

Two agencies each get 500 drafts waiting for internal review (one through the service layer,
the others copies of its rows) and a Bluesky channel on their own loopback fake PDS. The posts
are made due between 10 and 35 seconds ahead, then approved as people would, alternating
between the two web instances: Aurora's manager through the API
(``POST /api/v1/posts/<id>/approve``, three clients at once), Borealis's manager in the browser
(sign in, open the approval queue, tick what it shows, bulk approve). Midway, the fake holds
one post's ``createRecord`` and the worker whose work horse sent it is killed with SIGKILL
while it waits for the answer; the record is created after the kill. The test then checks that
each fake received each of its agency's texts exactly once (no other text, no second
``createRecord`` even for the killed one), and that every post is ``published`` with each
target published and billed once.

Marked ``slow`` (several minutes) and ``postgresql``; run it alone with
``REGIA_TEST_SLOT=<n> pytest -m slow -s tests/test_scale_out.py`` (``-s`` prints the timings).
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookiejar import CookieJar

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select, update

from agency.content import service
from agency.content.editing import content_hash
from agency.content.models import Post, PostTarget, aware
from agency.db import Base, db, utcnow
from billing.usage import UsageRecord
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.conftest import EMBEDDED
from tests.factories import (
    PASSWORD,
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    token_for,
)
from tests.fakes.base import Request, route
from tests.fakes.bluesky import FakeBluesky
from tests.helpers import csrf_from
from tests.pg import ground_truth
from tests.processes import Workers

POSTS_PER_AGENCY = 500
DUE_FROM, DUE_TO = 10.0, 35.0  # seconds after the approvals begin (all due within a minute)
API_CLIENTS = 3
QUEUE_PAGE = 100  # the approval queue shows at most this many posts at a time
BULK_BATCH = 50  # a person ticks a screenful at a time
HOLD_SECONDS = 4.0  # the held createRecord answers this long after it arrived
# Jobs take 0.5-1.3 s each on today's loaded 2-core machine: 1,000 over 2-3 workers fit in
# about 10 minutes at worst, plus a lease after the kill.
PUBLISH_DEADLINE = 900.0
CREATE = "/xrpc/com.atproto.repo.createRecord"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgresql,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        EMBEDDED,
        reason="PostgreSQL only: SQLite is not a multi-process production database "
        "(two gunicorn instances and three workers write at once)",
    ),
]


class HeldBluesky(FakeBluesky):
    """A fake PDS that holds one chosen text's ``createRecord`` before creating the record:
    the request has reached the network when the test kills the worker that sent it."""

    def __init__(self, handle: str, password: str) -> None:
        super().__init__(handle=handle, password=password)
        self.hold_text: str | None = None
        self.held = threading.Event()

    @route("POST", CREATE)
    def create_record(self, request: Request):  # noqa: ANN201
        text = ((request.json() or {}).get("record") or {}).get("text")
        if text is not None and text == self.hold_text and not self.held.is_set():
            self.held.set()
            time.sleep(HOLD_SECONDS)  # the worker is killed meanwhile; the record still lands
        return super().create_record(request)

    def created_texts(self) -> Counter:
        """How many ``createRecord`` requests carried each text (answered or not)."""
        return Counter(
            ((r.json() or {}).get("record") or {}).get("text") for r in self.calls("POST", CREATE)
        )


@dataclass
class Desk:
    """One agency: its manager, one client with a Bluesky channel on the agency's own fake."""

    name: str
    fake: HeldBluesky
    agency_id: uuid.UUID
    slug: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    manager_email: str
    channel_id: uuid.UUID
    posts: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> text

    @property
    def texts(self) -> set[str]:
        return set(self.posts.values())


@pytest.fixture(scope="session")
def _scale_app(make_app):
    # What the test process enqueues goes to Redis for the workers, never runs in-process.
    return make_app(flask_config={"RQ_SYNC": False}, allow_private_hosts=True)


@pytest.fixture
def app(_scale_app) -> Iterator:
    with _scale_app.app_context():
        yield _scale_app


@pytest.fixture
def fleet(settings, tmp_path) -> Iterator[Workers]:
    # A lease well above a job's length (a live job must never look dead) and a sweep every
    # 5 s instead of 60, so the killed post is retried within half a minute.
    pool = Workers(
        settings, tmp_path,
        REGIA_PUBLISH_LEASE_SECONDS="20", REGIA_SWEEP_INTERVAL_SECONDS="5",
    )  # fmt: skip
    yield pool
    pool.stop()


@pytest.fixture
def fakes() -> Iterator[list[HeldBluesky]]:
    pds = [
        HeldBluesky("aurora.bsky.example", "aurora-pds-pw-7qz4-k2mx").start(),
        HeldBluesky("borealis.bsky.example", "borealis-pds-pw-9wv3-h5tn").start(),
    ]
    yield pds
    for fake in pds:
        fake.stop()


def _desk(name: str, fake: HeldBluesky) -> Desk:
    agency = make_agency(name)
    client = make_client(agency, f"{name} Client")
    manager = make_member(agency, Role.MANAGER, email=f"manager@{name.lower()}.example")
    # Internal review by the manager, no client step; a post approved after its time still
    # goes out (the approvals of 1,000 posts may overrun the first due times).
    make_policy(
        agency, client, internal_review=True, client_approval="none",
        lead_time_hours=0, late_rule="publish_when_approved",
    )  # fmt: skip
    channel = make_channel(
        agency, client, network="bluesky", name=f"{name} Sky",
        settings={"pds_url": fake.url, "handle": fake.handle},
        secrets={"app_password": fake.password},
    )  # fmt: skip
    return Desk(
        name, fake, agency.id, agency.slug, client.id, manager.id, manager.email, channel.id
    )


def _seed_drafts(desk: Desk, run: str) -> None:
    """``POSTS_PER_AGENCY`` drafts by the manager, submitted: waiting for internal review.

    The first is created and submitted through the service layer; the others are copies of
    the rows it left (the post, its revision, its target, the reviewer's notification and
    the audit events), each with its own ids, text and content hash. Creating all 1,000
    through the service layer cost some 22 s of this process's CPU, taken from the rest of
    the suite running beside it; what this test exercises starts at the approvals.
    """
    from tenants.models import Agency, User

    db.session.rollback()
    with tenant_context(desk.agency_id):
        user = db.session.scalar(select(User).where(User.id == desk.manager_id))
        agency = db.session.scalar(select(Agency).where(Agency.id == desk.agency_id))
        access = load_access(user, agency)
        later = utcnow() + timedelta(hours=2)  # the editor refuses a time in the past
        text = f"{desk.name} scale-out post 000 of run {run}"
        post = service.create_post(
            access,
            {"client_id": desk.client_id, "body": text, "channel_ids": [desk.channel_id],
             "scheduled_at": later},
        )  # fmt: skip
        service.submit(access, post.id)
        desk.posts[post.id] = text
    _copy_post(desk, post.id, [
        f"{desk.name} scale-out post {i:03d} of run {run}" for i in range(1, POSTS_PER_AGENCY)
    ])  # fmt: skip


def _copy_post(desk: Desk, post_id: uuid.UUID, texts: list[str]) -> None:
    """Insert a copy of ``post_id``'s rows for each of ``texts`` (as the superuser)."""
    tables = Base.metadata.tables
    posts, revisions = tables["posts"], tables["revisions"]
    audits = tables["audit_events"]
    children = [tables["revisions"], tables["post_targets"], tables["notifications"]]
    with ground_truth(db.engine) as conn:
        post = conn.execute(select(posts).where(posts.c.id == post_id)).mappings().one()
        rows = {t: conn.execute(select(t).where(t.c.post_id == post_id)).mappings().all()
                for t in children}  # fmt: skip
        events = conn.execute(select(audits).where(audits.c.subject_id == post_id)).mappings()
        events = events.all()
        (revision,) = rows[revisions]
        content = {
            "body": revision["body"], "variants": revision["variants"],
            "media": revision["media"], "channel_ids": revision["channel_ids"],
            "scheduled_at": aware(revision["scheduled_at"]).isoformat(),
        }  # fmt: skip
        assert content_hash(content) == revision["content_hash"], "the hash recipe changed"
        assert len(events) == 3 and all(len(r) == 1 for r in rows.values()), (events, rows)
        copies: dict = {t: [] for t in [posts, *children, audits]}
        for new_text in texts:
            new_id = uuid.uuid4()
            new_hash = content_hash({**content, "body": new_text})
            copies[posts].append({**post, "id": new_id})
            for table, (row,) in rows.items():
                copy = {**row, "id": uuid.uuid4(), "post_id": new_id}
                if table is revisions:
                    copy.update(body=new_text, content_hash=new_hash)
                copies[table].append(copy)
            for event in events:
                data = {k: new_hash if v == revision["content_hash"] else v
                        for k, v in (event["data"] or {}).items()}  # fmt: skip
                copies[audits].append({**event, "id": uuid.uuid4(), "subject_id": new_id,
                                       "data": data})  # fmt: skip
            desk.posts[new_id] = new_text
        for table, values in copies.items():
            conn.execute(table.insert(), values)
        conn.commit()


def _make_due(desks: list[Desk], start: datetime) -> list[tuple[Desk, uuid.UUID, datetime]]:
    """Spread the posts' times over DUE_FROM..DUE_TO s after ``start``, the agencies
    interleaved; the posts in the order they fall due."""
    order = [
        (desk, post_id) for pair in zip(*(list(d.posts) for d in desks), strict=True)
        for desk, post_id in zip(desks, pair, strict=True)
    ]  # fmt: skip
    last = len(order) - 1
    due = [
        (desk, post_id, start + timedelta(seconds=DUE_FROM + (DUE_TO - DUE_FROM) * k / last))
        for k, (desk, post_id) in enumerate(order)
    ]
    db.session.rollback()
    for desk in desks:
        with tenant_context(desk.agency_id):
            for owner, post_id, at in due:
                if owner is desk:
                    db.session.execute(
                        update(Post).where(Post.id == post_id).values(scheduled_at=at)
                    )
            db.session.commit()
    return due


# -- people at the two web instances ------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None  # the 302 itself is the answer we check


def _open(opener, url: str, data: dict | bytes | None = None, headers: dict | None = None):  # noqa: ANN001, ANN202
    """(status, body) of one request; errors and redirects are answers, not exceptions."""
    body = urllib.parse.urlencode(data, doseq=True).encode() if isinstance(data, dict) else data
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=120) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _approve_by_api(desk: Desk, token: str, post_ids: list[uuid.UUID], webs: list[str]) -> list:
    """``API_CLIENTS`` clients approve ``post_ids`` in order, each request to the next web
    instance in turn; the refusals, if any."""
    todo: queue.Queue = queue.Queue()
    for post_id in post_ids:
        todo.put(post_id)
    problems: list = []
    turn = iter(range(10**9))
    lock = threading.Lock()
    opener = urllib.request.build_opener(_NoRedirect())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client() -> None:
        while True:
            try:
                post_id = todo.get_nowait()
            except queue.Empty:
                return
            with lock:
                base = webs[next(turn) % len(webs)]
            status, body = _open(
                opener, f"{base}/api/v1/posts/{post_id}/approve",
                json.dumps({"revision": 1}).encode(), headers,
            )  # fmt: skip
            if status != 200 or json.loads(body)["status"] not in ("scheduled", "publishing"):
                problems.append((desk.name, str(post_id), status, body[:300]))

    threads = [threading.Thread(target=client) for _ in range(API_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems


def _approve_in_browser(desk: Desk, webs: list[str]) -> list:
    """Sign in on one instance; then, until the queue is empty, open the approval queue on
    one instance and bulk approve what it shows on the other (the session is in the
    database: any instance serves it). The refusals, if any."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    status, html = _open(opener, f"{webs[0]}/login")
    form = {"csrf_token": csrf_from(html), "email": desk.manager_email, "password": PASSWORD}
    status, _body = _open(opener, f"{webs[0]}/login", form)
    if status not in (302, 303):
        return [(desk.name, "login", status, _body[:300])]
    problems: list = []
    for batch in range(2 * POSTS_PER_AGENCY // BULK_BATCH + 2):
        page, post = webs[batch % 2], webs[(batch + 1) % 2]
        status, html = _open(opener, f"{page}/a/{desk.slug}/posts/queue")
        if status != 200:
            return [*problems, (desk.name, "queue page", status, html[:300])]
        shown = re.findall(r'name="post" value="([0-9a-f-]+:\d+)"', html)
        if batch == 0 and len(shown) != QUEUE_PAGE:  # 500 wait: the page shows its cap
            problems.append((desk.name, "queue page shows", len(shown), f"not {QUEUE_PAGE}"))
        ticked = shown[:BULK_BATCH]
        if not ticked:
            return problems
        form = {"csrf_token": csrf_from(html), "post": ticked}
        status, body = _open(opener, f"{post}/a/{desk.slug}/posts/queue/approve", form)
        if status != 302:  # 303 is "the form expired"
            problems.append((desk.name, f"bulk approve {len(ticked)}", status, body[:300]))
    return [*problems, (desk.name, "queue never emptied", 0, "")]


# -- watching -----------------------------------------------------------------------------


def _target_statuses(desk: Desk) -> Counter:
    db.session.rollback()
    with tenant_context(desk.agency_id):
        rows = db.session.execute(
            select(PostTarget.status, func.count()).group_by(PostTarget.status)
        ).all()
        db.session.rollback()
    return Counter(dict(rows))


def _post_statuses(desk: Desk) -> Counter:
    db.session.rollback()
    with tenant_context(desk.agency_id):
        rows = db.session.execute(select(Post.status, func.count()).group_by(Post.status)).all()
        db.session.rollback()
    return Counter(dict(rows))


def _target_of(desk: Desk, post_id: uuid.UUID) -> PostTarget:
    db.session.rollback()
    with tenant_context(desk.agency_id):
        target = db.session.scalar(
            select(PostTarget)
            .where(PostTarget.post_id == post_id)
            .execution_options(populate_existing=True)
        )
        db.session.expunge(target)
        db.session.rollback()
    return target


def _worker_running(redis: Redis, job_prefix: str, procs: list) -> object | None:
    """The worker process whose work horse runs a job whose id starts with ``job_prefix``."""
    by_pid = {proc.pid: proc for proc in procs}
    for worker in Worker.all(connection=redis):
        if (worker.get_current_job_id() or "").startswith(job_prefix) and worker.pid in by_pid:
            return by_pid[worker.pid]
    return None


def _diagnosis(desks: list[Desk], redis: Redis, fleet: Workers) -> str:
    lines = []
    for desk in desks:
        created = desk.fake.created_texts()
        duplicates = {t: n for t, n in created.items() if n > 1}
        missing = desk.texts - set(created)
        foreign = set(created) - desk.texts
        lines += [
            f"{desk.name}: posts {dict(_post_statuses(desk))}, "
            f"targets {dict(_target_statuses(desk))}",
            f"  fake: {sum(created.values())} createRecord, {len(desk.fake.posts())} records, "
            f"{len(missing)} texts missing, {len(foreign)} foreign, "
            f"duplicates {dict(list(duplicates.items())[:10])}",
        ]
    for name in ("publish", "default", "mail"):
        q = Queue(name, connection=redis)
        failed = FailedJobRegistry(queue=q)
        lines.append(
            f"queue {name}: {q.count} queued, {ScheduledJobRegistry(queue=q).count} scheduled, "
            f"{StartedJobRegistry(queue=q).count} started, {failed.count} failed"
        )
        for job in q.job_class.fetch_many(failed.get_job_ids()[:3], connection=redis):
            result = job.latest_result() if job is not None else None
            if result is not None:
                lines.append(f"  failed {job.id}: {result.exc_string}"[-600:])
    return "\n".join(lines) + "\n" + fleet.logs(tail=2500)


def test_two_web_instances_and_three_workers_publish_1000_posts_exactly_once_through_a_kill_9(
    app, settings, fleet, fakes
):
    redis = Redis.from_url(settings.redis_url)
    timings: dict[str, float] = {}
    began = time.monotonic()
    run = uuid.uuid4().hex[:8]
    aurora, borealis = desks = [_desk("Aurora", fakes[0]), _desk("Borealis", fakes[1])]
    token = _api_token(aurora)
    webs = [fleet.serve(), fleet.serve()]
    workers = [fleet.start() for _ in range(3)]
    for desk in desks:
        _seed_drafts(desk, run)
    _lap(timings, "seed 1,000 drafts", time.monotonic() - began)

    # Due from 10 to 35 s from now; the middle one is held by its fake while a worker dies.
    start = utcnow()
    due = _make_due(desks, start)
    held_desk, held_post, _held_at = due[len(due) // 2]
    held_desk.fake.hold_text = held_desk.posts[held_post]
    held_job = f"publish-{_target_of(held_desk, held_post).id}-"

    approvals_began = time.monotonic()
    problems: list = []
    ids = [post_id for desk, post_id, _at in due if desk is aurora]
    approvers = [
        threading.Thread(target=lambda: problems.extend(_approve_by_api(aurora, token, ids, webs))),
        threading.Thread(target=lambda: problems.extend(_approve_in_browser(borealis, webs))),
    ]
    for thread in approvers:
        thread.start()

    killed = None
    killed_status = None
    deadline = time.monotonic() + PUBLISH_DEADLINE
    total = 2 * POSTS_PER_AGENCY
    done = 0
    next_report = time.monotonic() + 30
    while time.monotonic() < deadline:
        if killed is None and held_desk.fake.held.is_set():
            victim = _worker_running(redis, held_job, workers)
            if victim is not None:
                fleet.kill9(victim)  # its horse is waiting for the held createRecord's answer
                killed = victim
                killed_status = _target_of(held_desk, held_post).status
                _lap(timings, "kill -9 after approvals began", time.monotonic() - approvals_began)
        if "approve 1,000 posts" not in timings and not any(t.is_alive() for t in approvers):
            _lap(timings, "approve 1,000 posts", time.monotonic() - approvals_began)
            assert not problems, f"approvals refused: {problems[:5]}"
        counts = [_target_statuses(d) for d in desks]
        done = sum(c["published"] + c["failed"] for c in counts)
        if time.monotonic() >= next_report:
            next_report += 30
            print(f"scale-out: {dict(sum(counts, Counter()))} after "
                  f"{time.monotonic() - approvals_began:.0f} s", flush=True)  # fmt: skip
        if done >= total:
            break
        time.sleep(0.5)
    else:
        pytest.fail(
            f"{done} of {total} targets settled in {PUBLISH_DEADLINE:.0f} s "
            f"(held post reached its fake: {held_desk.fake.held.is_set()}, "
            f"worker killed: {killed is not None})\n{_diagnosis(desks, redis, fleet)}"
        )
    _lap(timings, "approvals began → last target settled", time.monotonic() - approvals_began)
    for thread in approvers:
        thread.join(timeout=60)
    assert not problems, f"approvals refused: {problems[:5]}"
    time.sleep(6)  # one more sweep: nothing is published again

    # The kill really happened mid-call, and the rest of the fleet lived on.
    assert killed is not None, f"no worker was killed\n{_diagnosis(desks, redis, fleet)}"
    assert killed.returncode == -9
    assert killed_status == "publishing", killed_status
    assert all(w.poll() is None for w in workers if w is not killed), fleet.logs()
    diagnosis = _diagnosis(desks, redis, fleet)

    # Exactly once on the networks: each agency's fake got each of its texts in one request.
    for desk in desks:
        created = desk.fake.created_texts()
        assert created == Counter(desk.texts), diagnosis
        assert sorted(r["value"]["text"] for r in desk.fake.posts()) == sorted(desk.texts)
    # The killed attempt's record was found by getRecord on its key, not created again.
    held = _target_of(held_desk, held_post)
    rkey = held.external_id.rsplit("/", 1)[1]
    lookups = held_desk.fake.calls("GET", "/xrpc/com.atproto.repo.getRecord")
    assert any(r.arg("rkey") == rkey for r in lookups), diagnosis
    assert held.attempts == 2

    # Exactly once in the database: every post published, each target once, billed once.
    last_published = due[0][2]
    for desk in desks:
        assert _post_statuses(desk) == Counter(published=POSTS_PER_AGENCY), diagnosis
        db.session.rollback()
        with tenant_context(desk.agency_id):
            targets = db.session.execute(
                select(PostTarget.id, PostTarget.status, PostTarget.external_id)
            ).all()
            usage = Counter(db.session.scalars(select(UsageRecord.target_id)))
            db.session.rollback()
        with tenant_context(desk.agency_id):
            last_published = max(
                last_published, db.session.scalar(select(func.max(PostTarget.published_at)))
            )
            db.session.rollback()
        assert len(targets) == POSTS_PER_AGENCY
        assert {status for _id, status, _ext in targets} == {"published"}
        assert usage == Counter({target_id: 1 for target_id, _s, _e in targets}), diagnosis
        uris = {r["uri"] for r in desk.fake.posts()}
        assert {external for _id, _s, external in targets} == uris
    # No secret reached a log of the fleet.
    logs = fleet.logs(tail=10**9)
    assert not any(fake.password in logs for fake in fakes)

    seconds = (last_published - due[0][2]).total_seconds()
    _lap(timings, "first due → last published", seconds)
    print(f"scale-out: {len(due) / seconds:.1f} posts/s published", flush=True)
    _lap(timings, "whole test", time.monotonic() - began)


def _lap(timings: dict[str, float], name: str, seconds: float) -> None:
    """Note a phase's duration, printed at once (shown with ``-s``, or under a failure)."""
    timings[name] = seconds
    print(f"scale-out: {name}: {seconds:.1f} s (load average {os.getloadavg()[0]:.1f})", flush=True)


def _api_token(desk: Desk) -> str:
    from tenants.models import Agency, User

    db.session.rollback()
    user = db.session.scalar(select(User).where(User.id == desk.manager_id))
    agency = db.session.scalar(select(Agency).where(Agency.id == desk.agency_id))
    return token_for(user, agency)
