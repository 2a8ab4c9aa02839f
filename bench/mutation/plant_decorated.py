# ruff: noqa
"""Hand-planted mutants of decorated functions (mutmut 3 never mutates them): the scoping
listeners of tenants/scoping.py, the Access properties, SettingSpec.secret; and of
tenants/rls.py, which runs only in migrations (mutmut's runs migrate their test database
once, before any mutant is active). Each is written into a scratch copy of the tree and its
tests run in a fresh pytest process (which migrates its own database).

    .venv/bin/python bench/mutation/plant_decorated.py [LABEL ...]

A one-off review tool of 2026-11-27 (bench/MUTATION.md), not held to the lint rules."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREE = Path(os.environ.get("REGIA_PLANT_DIR", "/tmp/regia-plant")) / "hand" / "tree"
if TREE.exists():
    shutil.rmtree(TREE)
shutil.copytree(
    ROOT,
    TREE,
    ignore=shutil.ignore_patterns(
        ".venv", "mutants", ".git", "__pycache__", "instance", ".*_cache"
    ),
)

SCOPING = ["tests/test_tenancy.py", "tests/test_tenant_keys.py"]
PERMS = [
    "tests/test_permissions_unit.py",
    "tests/test_onboarding_permissions_team.py",
    "tests/test_staff_assignments.py",
    "tests/test_load_access.py",
]
CHAN = ["tests/test_channels.py", "tests/test_channel_endpoints.py", "tests/test_channel_audit.py"]
S = "tenants/scoping.py"
P = "tenants/permissions.py"
C = "agency/channels/service.py"
R = "tenants/rls.py"
RLS = [
    "tests/test_migrations.py",
    "tests/test_tenancy.py",
    "tests/test_db_roles.py",
    "tests/test_route_isolation.py",
]
M = [
    (
        "S1 scope: SETS_RLS check inverted",
        S,
        "    if not state.execution_options.get(SETS_RLS):",
        "    if state.execution_options.get(SETS_RLS):",
        SCOPING,
    ),
    (
        "S2 scope: ALL_TENANTS no longer skips",
        S,
        "    if state.execution_options.get(ALL_TENANTS):\n        return\n    if not (state.is_select",
        "    if False:\n        return\n    if not (state.is_select",
        SCOPING,
    ),
    (
        "S3 scope: deletes unscoped",
        S,
        "state.is_update or state.is_delete)",
        "state.is_update)",
        SCOPING,
    ),
    (
        "S4 scope: updates unscoped",
        S,
        "state.is_select or state.is_update or",
        "state.is_select or",
        SCOPING,
    ),
    (
        "S5 scope: column-load check inverted",
        S,
        "    if state.is_column_load:",
        "    if not state.is_column_load:",
        SCOPING,
    ),
    (
        "S6 scope: no-agency criteria without aliases",
        S,
        "lambda cls: false(), include_aliases=True",
        "lambda cls: false(), include_aliases=False",
        SCOPING,
    ),
    (
        "S7 scope: agency criteria without aliases",
        S,
        "cls.agency_id == agency_id, include_aliases=True",
        "cls.agency_id == agency_id, include_aliases=False",
        SCOPING,
    ),
    (
        "S8 scope: == -> !=",
        S,
        "lambda cls: cls.agency_id == agency_id",
        "lambda cls: cls.agency_id != agency_id",
        SCOPING,
    ),
    (
        "S9 scope: agency None test inverted",
        S,
        "    if agency_id is None:\n        return with_loader_criteria",
        "    if agency_id is not None:\n        return with_loader_criteria",
        SCOPING,
    ),
    (
        "S10 scope: the first agency's cached criteria for every agency",
        S,
        "    state.statement = state.statement.options(_criteria(current_agency_id()))",
        "    state.statement = state.statement.options("
        "_criteria(_criteria.__dict__.setdefault('first', current_agency_id())))",
        SCOPING,
    ),
    ("A1 after_begin: no pop", S, "    session.info.pop(_RLS_KEY, None)\n", "", SCOPING),
    (
        "A2 after_begin: wanted is None",
        S,
        "        if wanted is not None:\n            _set_rls",
        "        if wanted is None:\n            _set_rls",
        SCOPING,
    ),
    (
        "A3 after_begin: store None",
        S,
        "            _set_rls(connection, wanted)\n        session.info[_RLS_KEY] = wanted",
        "            _set_rls(connection, wanted)\n        session.info[_RLS_KEY] = None",
        SCOPING,
    ),
    (
        "A4 after_begin: != postgresql",
        S,
        '    session.info.pop(_RLS_KEY, None)\n    if connection.dialect.name == "postgresql":',
        '    session.info.pop(_RLS_KEY, None)\n    if connection.dialect.name != "postgresql":',
        SCOPING,
    ),
    (
        "T1 stamp: isinstance inverted",
        S,
        "        if not isinstance(obj, TenantScoped):\n            continue",
        "        if isinstance(obj, TenantScoped):\n            continue",
        SCOPING,
    ),
    (
        "T2 stamp: tenant_rows = False",
        S,
        "        tenant_rows = True",
        "        tenant_rows = False",
        SCOPING,
    ),
    (
        "T3 stamp: no-agency raise inverted",
        S,
        "        if agency_id is None:\n            raise TenantError",
        "        if agency_id is not None:\n            raise TenantError",
        SCOPING,
    ),
    (
        "T4 stamp: obj.agency_id is not None",
        S,
        "        if obj.agency_id is None:",
        "        if obj.agency_id is not None:",
        SCOPING,
    ),
    (
        "T5 stamp: other agency check ==",
        S,
        "        elif obj.agency_id != agency_id:",
        "        elif obj.agency_id == agency_id:",
        SCOPING,
    ),
    (
        "T6 stamp: dirty rows not checked",
        S,
        "list(session.new) + list(session.dirty)",
        "list(session.new)",
        SCOPING,
    ),
    (
        "T7 stamp: or -> and",
        S,
        "    if tenant_rows or any(",
        "    if tenant_rows and any(",
        SCOPING,
    ),
    (
        "P1 roles: agency role test inverted",
        P,
        "        if self.agency_role:\n            roles.add",
        "        if not self.agency_role:\n            roles.add",
        PERMS,
    ),
    (
        "P2 roles: client roles dropped",
        P,
        "        roles = set(self.client_roles.values())",
        "        roles = set()",
        PERMS,
    ),
    (
        "P3 is_agency_member inverted",
        P,
        "        return self.agency_role is not None\n\n    @property\n    def sees_all",
        "        return self.agency_role is None\n\n    @property\n    def sees_all",
        PERMS,
    ),
    (
        "P4 sees_all_clients: FINANCE dropped",
        P,
        "(Role.OWNER, Role.MANAGER, Role.FINANCE)",
        "(Role.OWNER, Role.MANAGER)",
        PERMS,
    ),
    (
        "P5 sees_all_clients: MANAGER dropped",
        P,
        "(Role.OWNER, Role.MANAGER, Role.FINANCE)",
        "(Role.OWNER, Role.FINANCE)",
        PERMS,
    ),
    (
        "P6 sees_all_clients: STAFF added",
        P,
        "(Role.OWNER, Role.MANAGER, Role.FINANCE)",
        "(Role.OWNER, Role.MANAGER, Role.FINANCE, Role.STAFF)",
        PERMS,
    ),
    (
        "C1 SettingSpec.secret: or -> and",
        C,
        'return self.kind == "secret" or self.sensitive',
        'return self.kind == "secret" and self.sensitive',
        CHAN,
    ),
    (
        "C2 SettingSpec.secret: sensitive dropped",
        C,
        'return self.kind == "secret" or self.sensitive',
        'return self.kind == "secret"',
        CHAN,
    ),
    # tenants/rls.py: the row-level security every tenant table gets in its migration.
    (
        "R1 enable_rls: skipped on PostgreSQL too",
        R,
        '    if op.get_bind().dialect.name != "postgresql":\n        return\n    op.execute(f"ALTER TABLE {table} ENABLE',
        '    if True:\n        return\n    op.execute(f"ALTER TABLE {table} ENABLE',
        RLS,
    ),
    (
        "R2 enable_rls: FORCE dropped (the tables' owner is not bound)",
        R,
        '    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")\n',
        "",
        RLS,
    ),
    (
        "R3 enable_rls: USING matches every row",
        R,
        'f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK',
        'f"USING (true) WITH CHECK',
        RLS,
    ),
    (
        "R4 enable_rls: WITH CHECK accepts every row",
        R,
        "WITH CHECK (agency_id = {CURRENT_AGENCY})",
        "WITH CHECK (true)",
        RLS,
    ),
    (
        "R5 CURRENT_AGENCY without NULLIF (an empty setting fails the cast)",
        R,
        "NULLIF(current_setting('app.agency_id', true), '')::uuid",
        "current_setting('app.agency_id', true)::uuid",
        RLS,
    ),
    (
        "R6 disable_rls: the policy is kept",
        R,
        '    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")\n',
        "",
        RLS,
    ),
    (
        "R7 disable_rls: FORCE kept",
        R,
        '    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")\n',
        "",
        RLS,
    ),
]
only = sys.argv[1:]
env = {k: v for k, v in os.environ.items() if k not in {"MUTANT_UNDER_TEST", "REGIA_TEST_REUSE_DB"}}
env["PYTHONPATH"] = str(TREE)
for label, path, old, new, tests in M:
    if only and label.split()[0] not in only:
        continue
    f = TREE / path
    pristine = f.read_text()
    if pristine.count(old) != 1:
        print(f"{label}\tNOT PLANTED (found {pristine.count(old)})", flush=True)
        continue
    f.write_text(pristine.replace(old, new))
    t = time.monotonic()
    try:
        done = subprocess.run(
            [
                "nice",
                "-n",
                "10",
                str(ROOT / ".venv/bin/python"),
                "-m",
                "pytest",
                "-x",
                "-q",
                "-rf",
                "-p",
                "no:cacheprovider",
                *tests,
            ],
            cwd=TREE,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        failed = [l for l in done.stdout.splitlines() if l.startswith(("FAILED", "ERROR"))]
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        status = {0: "survived", 1: "killed"}.get(done.returncode, f"exit {done.returncode}")
    except subprocess.TimeoutExpired:
        status, failed, last = "timeout", [], ""
    finally:
        f.write_text(pristine)
    print(
        f"{label}\t{status}\t{time.monotonic() - t:.0f}s\t{last}\t{(failed or [''])[0][:220]}",
        flush=True,
    )
