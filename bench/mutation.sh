#!/usr/bin/env bash
# Mutation testing of the security-critical code, on demand (not in CI): mutmut mutates
# tenants/ (scoping, permissions, service, web, sessions, throttle, models, passwords, names,
# fields, context), agency/crypto.py, agency/team/invitations.py, agency/team/acceptance.py
# and agency/channels/service.py (setup.cfg [mutmut]) and runs the
# tests that cover them (pytest_add_cli_args_test_selection). Needs PostgreSQL and Redis, like
# the suite; niced and one worker so it shares a machine politely. Survivors are reviewed
# in bench/MUTATION.md. Usage: bench/mutation.sh [mutant name globs, e.g. "tenants.*"]
# The mutants/ working copy is removed at the end (it would confuse `agency.i18n check`);
# KEEP_MUTANTS=1 keeps it, to check verdicts with bench/plant_mutants.py (each mutant planted
# in a copy of the tree, its tests run in a fresh process) before removing it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export REGIA_TEST_SLOT=${REGIA_TEST_SLOT:-15}
# mutmut runs pytest once per mutant in forks of one process: reuse the database that
# process migrated (emptied first) instead of recreating and migrating it every time. Each
# fork opens its own connections (agency.db and tests/pg.py dispose inherited pools after
# fork): sharing the parent's sockets made tests fail on unmutated code (bench/MUTATION.md).
export REGIA_TEST_REUSE_DB=1
# The sweeps' world is built by the code under test: every test builds it afresh, rather than
# restoring a copy the parent process took before the mutant was applied (tests/world.py).
export REGIA_TEST_FRESH_WORLDS=1
if [ ! -x .venv/bin/mutmut ]; then .venv/bin/pip install -q 'mutmut>=3.2'; fi
nice -n 10 .venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "$@" || true
survivors=$(.venv/bin/mutmut results 2>/dev/null | awk -F: '/: (survived|no tests|suspicious)$/ {print $1}' | tr -d ' ')
for name in $survivors; do .venv/bin/mutmut show "$name" || true; done
nice -n 19 .venv/bin/python - <<'PY'
import json, pathlib
from mutmut.stats import status_by_exit_code  # mutmut's own reading: 33 is "no tests", 36 "timeout"
counts = {}
for meta in pathlib.Path("mutants").rglob("*.meta"):
    for code in json.loads(meta.read_text()).get("exit_code_by_key", {}).values():
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
run = sum(n for status, n in counts.items() if status != "not checked")
print("mutants:", counts, f"score: {counts.get('killed', 0)}/{run} of those run")
PY
if [ -z "${KEEP_MUTANTS:-}" ]; then rm -rf mutants; fi
