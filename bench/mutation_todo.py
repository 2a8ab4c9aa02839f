"""The mutants a kept mutmut working copy has not run yet, one name a line.

    .venv/bin/python bench/mutation_todo.py [--dir mutants] [GLOB ...]

mutmut re-runs every mutant named on its command line, even one it has a verdict for, and
runs them all when none is named; to resume an interrupted run (``KEEP_MUTANTS=1``), or to
split the rest between parallel runs, name only these:

    bench/mutation.sh $(.venv/bin/python bench/mutation_todo.py "tenants.*")

Parallel runs each need their own copy of the tree (mutants/ and its results are per
directory; copy the whole checkout with ``cp -a``) and their own ``REGIA_TEST_SLOT``: the
children of one run share one test database, which is why a run uses one child.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("globs", nargs="*", help="mutant name globs (default: all)")
    parser.add_argument("--dir", default="mutants", help="mutmut's working copy")
    args = parser.parse_args()
    names = []
    for meta in sorted(Path(args.dir).rglob("*.meta")):
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
            if code is None and (
                not args.globs or any(fnmatch.fnmatch(name, g) for g in args.globs)
            ):
                names.append(name)
    print("\n".join(sorted(names)))


if __name__ == "__main__":
    main()
