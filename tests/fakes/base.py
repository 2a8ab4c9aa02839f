"""A loopback HTTP server to build network fakes on: routes, a request log and scripted faults.

A fake subclasses :class:`FakeService` and declares handlers with :func:`route`::

    class FakeMastodon(FakeService):
        @route("POST", "/api/v1/statuses")
        def create_status(self, request):
            return 200, {"id": "1"}

Handlers receive a :class:`Request` and return ``(status, body)`` or ``(status, body, headers)``
(a dict or list body is sent as JSON, ``bytes``/``str`` as they are). Path segments written
``{name}`` match anything and land in ``request.params``.

Faults are scripted per route and consumed in order, one per matching request:

- ``fake.fail(method, path, status, body, headers=None, times=1)`` answers an error *instead of*
  running the handler (nothing is committed);
- ``fake.delay(method, path, seconds, times=1)`` sleeps before handling;
- ``fake.drop_after_commit(method, path, times=1)`` runs the handler (the effect happens, e.g.
  the post exists) and then closes the connection without answering: the client sees a
  transport error and cannot know the outcome.

Every request, faulted or not, is recorded in ``fake.requests``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def route(method: str, pattern: str) -> Callable:
    """Mark a method of a :class:`FakeService` as the handler of ``method pattern``."""

    def mark(func: Callable) -> Callable:
        func._fake_route = (method.upper(), pattern)
        return func

    return mark


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class _Fault:
    kind: str  # "fail" | "delay" | "drop"
    status: int = 0
    body: Any = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0


class FakeService:
    """Base of every fake: a threaded HTTP server on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: list[tuple[str, re.Pattern, Callable]] = []
        self._faults: dict[tuple[str, str], list[_Fault]] = {}
        self.lock = threading.RLock()
        for name in dir(type(self)):
            func = getattr(type(self), name)
            if callable(func) and hasattr(func, "_fake_route"):
                method, pattern = func._fake_route
                self._routes.append((method, _compile(pattern), getattr(self, name)))
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, at every stop.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        self._script(method, path, [_Fault("fail", status, body, headers)] * times)

    def delay(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        self._script(method, path, [_Fault("delay", seconds=seconds)] * times)

    def drop_after_commit(self, method: str, path: str, times: int = 1) -> None:
        self._script(method, path, [_Fault("drop")] * times)

    def _script(self, method: str, path: str, faults: list[_Fault]) -> None:
        with self.lock:
            self._faults.setdefault((method.upper(), path), []).extend(faults)

    def _next_fault(self, method: str, path: str) -> _Fault | None:
        with self.lock:
            queue = self._faults.get((method, path))
            return queue.pop(0) if queue else None

    # -- inspection ----------------------------------------------------------------------
    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Recorded requests, optionally only those of one method and/or path (exact)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # -- dispatch ------------------------------------------------------------------------
    def _match(self, method: str, path: str) -> tuple[Callable, dict[str, str]] | None:
        for route_method, pattern, handler in self._routes:
            found = pattern.fullmatch(path)
            if route_method == method and found:
                return handler, found.groupdict()
        return None

    def not_found(self, request: Request) -> tuple[int, Any]:
        """Answer for a path the fake does not serve; fakes may override with the API's shape."""
        return 404, {"error": f"no route {request.method} {request.path}"}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a killed worker): nothing to report
        super().handle_error(request, client_address)


def _compile(pattern: str) -> re.Pattern:
    parts = re.split(r"(\{[a-zA-Z_]+\})", pattern)
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(regex)


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "application/json"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


def _handler_for(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line and headers go out in one write, the body in another: with Nagle's
        # algorithm the body waits for the client's delayed ACK of the headers (40 ms on
        # Linux) on every keep-alive request. Real servers send without that stall.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            with service.lock:
                service.requests.append(request)
            fault = service._next_fault(request.method, request.path)
            if fault and fault.kind == "delay":
                time.sleep(fault.seconds)
                fault = None
            if fault and fault.kind == "fail":
                self._answer(fault.status, fault.body, fault.headers)
                return
            matched = service._match(request.method, request.path)
            if matched is None:
                self._answer(*service.not_found(request))
                return
            handler, request.params = matched
            result = handler(request)
            if fault and fault.kind == "drop":
                # The effect is committed; the client never hears about it.
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._answer(*result)

        def _answer(self, status: int, body: Any = None, headers: dict | None = None) -> None:
            payload, content_type = _encode(body)
            self.send_response(status)
            merged = {"Content-Type": content_type, **(headers or {})}
            for name, value in merged.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

    return Handler


def running(fake: FakeService) -> Iterator[FakeService]:
    """Fixture body: ``yield from running(FakeX())`` starts the fake and stops it afterwards."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
