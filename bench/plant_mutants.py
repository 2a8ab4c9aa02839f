"""Check mutmut's verdicts by planting mutants by hand, each in a fresh pytest process.

For every mutant named (or a random sample of the ones mutmut reported with a status), the
mutant is written into a scratch copy of the source tree (``mutmut apply``, which reads the
``mutants/`` directory of the last ``bench/mutation.sh`` run: run this before that script
removes it, or with ``KEEP_MUTANTS=1``), then the very tests mutmut ran against it (its
``mutmut-stats.json``) run in a new ``python -m pytest`` process: no fork, no state from an
earlier run. Prints one line per mutant: mutmut's status, the planted run's, and whether
they agree. Exit code 1 if any "killed" verdict was not confirmed.

Usage (from the repository root, after a mutmut run):
    .venv/bin/python bench/plant_mutants.py NAME [NAME ...]
    .venv/bin/python bench/plant_mutants.py --sample 20 --status killed --glob 'tenants.*'
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ.get("REGIA_PLANT_DIR", "/tmp/regia-plant"))  # noqa: S108 - scratch copy


def mutmut_statuses() -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    statuses = {}
    for meta in (ROOT / "mutants").rglob("*.meta"):
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
            statuses[name] = status_by_exit_code[code]
    return statuses


def tests_of(name: str, stats: dict) -> list[str]:
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    by_function = stats["tests_by_mangled_function_name"]
    return sorted(by_function.get(mangled_name_from_mutant_name(name), []))


def fresh_tree() -> Path:
    """A scratch copy of the committed-or-not source tree, with mutmut's mutants/ linked in."""
    tree = SCRATCH / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    ignore = shutil.ignore_patterns(
        ".venv", "mutants", ".git", "__pycache__", "instance", ".*_cache"
    )
    shutil.copytree(ROOT, tree, ignore=ignore)
    (tree / "mutants").symlink_to(ROOT / "mutants")
    return tree


def plant_and_run(tree: Path, name: str, tests: list[str], timeout: float) -> tuple[str, str]:
    python = ROOT / ".venv" / "bin" / "python"
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    pristine = {}
    for package in ("tenants", "agency"):
        for path in (ROOT / package).rglob("*.py"):
            pristine[path.relative_to(ROOT)] = path.read_bytes()
    subprocess.run(  # noqa: S603 - fixed argv, a mutant name from mutmut's own files
        [str(mutmut), "apply", name], cwd=tree, check=True, capture_output=True
    )
    changed = [p for p, data in pristine.items() if (tree / p).read_bytes() != data]
    if len(changed) != 1:
        return "not planted", f"{len(changed)} files changed"
    fork_only = {"MUTANT_UNDER_TEST", "REGIA_TEST_REUSE_DB"}
    env = {k: v for k, v in os.environ.items() if k not in fork_only}
    env["PYTHONPATH"] = str(tree)  # the scratch tree's packages, not the editable install's
    command = [
        "nice",
        "-n",
        "10",
        str(python),
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv and test ids from mutmut's stats
            [*command, *tests],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code = done.returncode
        tail = done.stdout.strip().splitlines()[-1:] if done.stdout else []
    except subprocess.TimeoutExpired:
        code, tail = None, ["timeout"]
    finally:
        for path in changed:
            (tree / path).write_bytes(pristine[path])
    status = {0: "survived", 1: "killed", None: "timeout"}.get(code, f"exit {code}")
    return status, " ".join(tail)[:160]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--sample", type=int, default=0, help="a random sample of this many")
    parser.add_argument("--status", default="killed", help="mutmut status to sample from")
    parser.add_argument("--glob", action="append", default=[], help="name globs to sample from")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--tests", nargs="+", help="run these tests instead of mutmut's (a survivor's review)"
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    statuses = mutmut_statuses()
    names = list(args.names)
    if args.sample:
        pool = sorted(
            n
            for n, s in statuses.items()
            if s == args.status and (not args.glob or any(fnmatch.fnmatch(n, g) for g in args.glob))
        )
        names += random.Random(args.seed).sample(pool, min(args.sample, len(pool)))
    stats = json.loads((ROOT / "mutants" / "mutmut-stats.json").read_text())
    tree = fresh_tree()
    unconfirmed = 0
    for name in names:
        tests = args.tests or tests_of(name, stats)
        started = time.monotonic()
        if not tests:
            planted, detail = "no tests", ""
        else:
            planted, detail = plant_and_run(tree, name, tests, args.timeout)
        said = statuses.get(name, "not checked")
        agree = "agree" if said == planted else "DISAGREE"
        if said == "killed" and planted != "killed":
            unconfirmed += 1
        took = time.monotonic() - started
        line = f"{name}\tmutmut: {said}\tplanted: {planted}\t{agree}\t{len(tests)} tests"
        print(f"{line}\t{took:.0f}s\t{detail}", flush=True)
    print(f"{len(names)} checked, {unconfirmed} mutmut kills not confirmed by planting")
    return 1 if unconfirmed else 0


if __name__ == "__main__":
    sys.exit(main())
