"""mutmut's way of running tests, without mutants: are its "kills" caused by the mutant?

One process runs pytest, then forks children one after another, as mutmut does per mutant.
Every other child is stopped with SIGXCPU after 3-7 s (mutmut's wall-clock timeout), the next
runs its tests to the end. The code is unmutated, so a failure of a child that ran to the end
is what mutmut would have counted as a kill of whatever mutant was active (bench/MUTATION.md).
Needs the stats of a mutmut run (mutants/mutmut-stats.json) for the tests of each function.

Usage, from the repository root (PostgreSQL; the slot's database is used):
    REGIA_TEST_SLOT=10 REGIA_TEST_REUSE_DB=1 .venv/bin/python bench/fork_reuse_check.py OUTDIR
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

ARGS = ["-x", "-q", "-p", "no:cacheprovider", "--tb=short"]


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    stats = json.loads(Path("mutants/mutmut-stats.json").read_text())
    by_fn = stats["tests_by_mangled_function_name"]
    functions = sorted(
        k for k, v in by_fn.items() if k.startswith("tenants.") and 4 <= len(v) <= 30
    )
    rng = random.Random(int(os.environ.get("SEED", "5")))
    picked = rng.sample(functions, int(os.environ.get("CHILDREN", "8")))
    parent_tests = sorted(by_fn["tenants.sessions.x_sign_in"])[:20]
    with (out / "parent.txt").open("w") as log:
        sys.stdout = log
        code = pytest.main(ARGS + parent_tests)
        sys.stdout = sys.__stdout__
    print(f"parent ran {len(parent_tests)} tests: exit {code}", flush=True)
    failures = 0
    for i, fn in enumerate(picked):
        for role in ("stopped", "full"):
            tests = sorted(by_fn[fn])
            started = time.time()
            pid = os.fork()
            if pid == 0:
                fd = os.open(out / f"child{i}-{role}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                sys.stdout = os.fdopen(1, "w", buffering=1)
                os._exit(int(pytest.main(ARGS + tests)))
            if role == "stopped":
                time.sleep(rng.uniform(3, 7))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGXCPU)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if role == "full":
                failures += code != 0
            took = time.time() - started
            print(f"child {i} {role} ({fn}, {len(tests)} tests): exit {code} in {took:.0f}s")
    print(f"{failures} of {len(picked)} children that ran to the end failed on unmutated code")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
