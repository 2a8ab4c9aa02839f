"""Operator commands given bad arguments answer with one clear line and a non-zero status,
never a traceback, and change nothing."""

from __future__ import annotations

import socket

import pytest

from agency.demo import bind_problem


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_an_unknown_revision_is_one_line_and_migrates_nothing(runner, command):
    result = runner.invoke(args=["db", command, "nope"])
    assert result.exit_code == 1
    assert "Can't locate revision identified by 'nope'" in result.output
    assert "nothing was migrated" in result.output
    assert "Traceback" not in result.output


def test_the_demo_refuses_a_port_out_of_range(runner):
    result = runner.invoke(args=["demo", "--serve", "--port", "99999"])
    assert result.exit_code == 2
    assert "99999 is not in the range 1<=x<=65535" in result.output


def test_a_busy_port_and_an_unknown_host_are_told_apart():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert bind_problem("127.0.0.1", port) == (
            f"127.0.0.1:{port} is already in use; choose another with --port."
        )
    assert bind_problem("no-such-host.invalid", port) == (
        "no-such-host.invalid is not an address or a host name this machine can resolve."
    )
    assert bind_problem("127.0.0.1", port) is None


def test_a_second_demo_on_the_same_folder_is_refused_before_it_touches_anything(
    runner, app, monkeypatch
):
    """Two demos on one instance folder share its embedded Redis: the first to stop shut it
    down under the other, whose sign-in then answered 500."""
    import fcntl
    import os

    from agency import demo

    def must_not_serve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the second demo served")

    monkeypatch.setattr(demo, "serve_with_worker", must_not_serve)
    monkeypatch.setattr(demo, "seed_demo", must_not_serve)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    os.makedirs(app.instance_path, exist_ok=True)
    with open(os.path.join(app.instance_path, "demo.lock"), "a") as first:
        fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first demo, serving
        result = runner.invoke(args=["demo", "--serve", "--port", str(port), "--force"])
    assert result.exit_code == 2
    assert f"Another Regia demo is serving from {app.instance_path}" in result.output
