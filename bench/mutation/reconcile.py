# ruff: noqa
"""Reconcile a kept mutmut run's results (mutants/**/*.meta) with the verdict notes beside
this script (bench/mutation/mut[A-F].md): the score table of bench/MUTATION.md.

Run from the repository root, after ``KEEP_MUTANTS=1 bench/mutation.sh``:
    .venv/bin/python bench/mutation/reconcile.py [--debug] [--notes=mutA.md,...]
(``REGIA_MUTANTS_DIR`` names another mutmut working copy, or several separated by ``:``, for a run
split between copies of the checkout: a mutant's result is taken from the copy that ran it.) A one-off review tool written
for the notes of 2026-11-27, kept to reproduce the figures: not held to the lint rules.

Parsing rules (see the report for the why):
- Markdown tables: every row whose first cell holds mutant numbers ("4", "4, 5, 6", "18–24",
  "3-6", "`_url` 1 (...), 3 (...)", "revoke_all_tokens 6 (...)", "`scoping._sync_rls_setting` 8,
  15, `_set_rls` 14"). The verdict is the row's LAST cell. Tables whose header's first cell is
  "function" (count summaries) are skipped.
- In the first cell, backticked text is a function reference only if it is a bare (dotted)
  identifier naming a function mutmut knows; every other backticked span (the diff) and every
  parenthesised aside is dropped before numbers are read. A bare word is a function reference
  only when it is immediately followed by a number and names a known function (or, e.g.
  "revoke"/"resend", is the prefix of a function named in the section heading).
- Function context for rows that name no function: the single function named in the nearest
  ###/## heading. Module context: the x/y.py path in the heading, else the modules in the file's
  title, else any module where the name is unique.
- Bullet lists (only mutA uses them for verdicts): parsed in ## sections other than the preamble,
  "Counts per function", "Not finished"/"Left when I stopped"/"Not run", "Cross-check"
  and "Verification".
  A bullet's verdict is its lead text (before the first function reference) when that ends
  with ':' and names a verdict, else the text after the first ':' that follows the numbers.
- Verdict category: "dead code" anywhere -> dead code; otherwise the first of
  killed / equivalent / unreachable in the verdict text; "not reviewed" or a placeholder
  (e.g. PLANT_E4) -> no verdict.
- A few explicit overrides (OVERRIDES below) are listed in the output.
- Several notes on one mutant: the latest file (H > G > ... > B > A) wins; conflicts are listed.
"""

import glob
import json
import os
import re
import sys
from collections import OrderedDict, defaultdict

from mutmut.stats import status_by_exit_code

MUTANTS = os.environ.get("REGIA_MUTANTS_DIR", "mutants")
NOTES_DIR = os.path.dirname(os.path.abspath(__file__))
NOTE_FILES = [f"mut{letter}.md" for letter in "ABCDEFGHIJ"]
for _arg in sys.argv[1:]:  # e.g. --notes=mutA.md,mutB.md,mutC.md,mutD.md,mutE.md,mutF.md
    if _arg.startswith("--notes="):
        NOTE_FILES = _arg.split("=", 1)[1].split(",")
DEBUG = "--debug" in sys.argv
CATS = ["killed", "equivalent", "dead code", "unreachable"]

# (file letter, module, function, numbers) -> category, with the reason printed in the output.
OVERRIDES = [
    (
        "B",
        "tenants.web",
        "resolve_request_tenant",
        [22, 23],
        "unreachable",
        "row says 'equivalent as wired today'; mutB's own summary counts 22, 23, 33, 36 as "
        "'4 unreachable-branch'",
    ),
    (
        "D",
        "tenants.web",
        "resolve_request_tenant",
        [31, 32, 34, 35, 37, 38, 39],
        "unreachable",
        "row says 'equivalent as wired (not planted): the `else` branch mutB showed unreachable'; "
        "mutB: 'its 9 mutants (31-39) can only be reviewed as unreachable'",
    ),
]


# ---------------------------------------------------------------- mutmut's results
def load_statuses():
    statuses = {}  # (module, func, num) -> status
    paths = [
        path
        for directory in MUTANTS.split(":")
        for path in glob.glob(os.path.join(directory, "**", "*.meta"), recursive=True)
    ]
    for path in paths:
        for attempt in range(3):  # the files are rewritten while mutmut runs
            try:
                with open(path) as fh:
                    data = json.load(fh)
                break
            except (json.JSONDecodeError, OSError):
                if attempt == 2:
                    raise
        for key, code in data.get("exit_code_by_key", {}).items():
            m = re.match(r"^(.*)\.(x[_ǁ].*)__mutmut_(\d+)$", key)
            if not m:
                print(f"WARNING: unparsed mutant name {key}", file=sys.stderr)
                continue
            module, mangled, num = m.group(1), m.group(2), int(m.group(3))
            if mangled.startswith("xǁ"):
                func = ".".join(p for p in mangled[2:].split("ǁ") if p)
            else:
                func = mangled[2:]
            status = status_by_exit_code[code]
            if status != "not checked" or (module, func, num) not in statuses:
                statuses[(module, func, num)] = status
    return statuses


# ---------------------------------------------------------------- name resolution
class Resolver:
    def __init__(self, functions):
        self.functions = sorted(functions)  # (module, func)

    def resolve(self, ref, ctx_modules=(), heading_funcs=()):
        ref = ref.strip("`").strip()
        if not re.fullmatch(r"[A-Za-z_][\w.]*", ref):
            return None
        cands = [
            (m, f)
            for (m, f) in self.functions
            if f == ref or f"{m}.{f}" == ref or f"{m}.{f}".endswith("." + ref)
        ]
        if not cands:
            # abbreviation: "revoke" for revoke_invitation named in the heading
            cands = [
                hf
                for hf in heading_funcs
                if hf[1].startswith(ref + "_") or hf[1].split(".")[-1].startswith(ref + "_")
            ]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            for mods in (ctx_modules,):
                pref = [c for c in cands if c[0] in mods]
                if len(pref) == 1:
                    return pref[0]
            return ("AMBIGUOUS", ref)
        return None


# ---------------------------------------------------------------- text helpers
def strip_parens(text):
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def split_cells(row):
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [c.strip() for c in cells]


def classify(verdict):
    v = re.sub(r"[*`]", "", verdict).strip().lower()
    if not v:
        return None, "empty"
    if re.fullmatch(r"plant_\w+", v):
        return None, "placeholder"
    if "not reviewed" in v[:60] or v.startswith("not planted") and "killed" not in v:
        return None, "not reviewed"
    if "dead code" in v:
        return "dead code", None
    pos = {c: v.find(c) for c in ("killed", "equivalent", "unreachable")}
    pos = {c: p for c, p in pos.items() if p >= 0}
    if not pos:
        return None, "no verdict word"
    return min(pos, key=pos.get), None


NUM_RE = re.compile(r"(\d+)\s*[–-]\s*(\d+)|(\d+)")


def parse_subject(text, res, ctx_modules, heading_funcs, default_func):
    """Return ([(module, func, num)], problems)."""
    refs = {}

    def bt(m):
        inner = m.group(1)
        r = res.resolve(inner, ctx_modules, heading_funcs)
        if r and r[0] != "AMBIGUOUS":
            key = f"\x00{len(refs)}\x00"
            refs[key] = r
            return f" {key} "
        return " "

    t = re.sub(r"`([^`]*)`", bt, text)
    t = strip_parens(t)
    t = t.replace("**", " ")
    t = re.sub(r"\bthe other \d+", " ", t)  # mutB: "the other 36" (a count, not a mutant)
    out, problems = [], []
    current = default_func
    pos = 0
    token_re = re.compile(
        r"(\x00\d+\x00)|([A-Za-z_][\w.]*)(?=\s+\d)|(\d+)\s*[–-]\s*(\d+)|(?<![\w.])(\d+)(?!\w)(?!\.\w)"
    )
    for m in token_re.finditer(t):
        if m.group(1):
            current = refs[m.group(1)]
        elif m.group(2):
            r = res.resolve(m.group(2), ctx_modules, heading_funcs)
            if r and r[0] != "AMBIGUOUS":
                current = r
            elif r:
                problems.append(f"ambiguous name {m.group(2)!r}")
        else:
            if m.group(3):
                a, b = int(m.group(3)), int(m.group(4))
                nums = list(range(a, b + 1)) if a <= b else []
            else:
                nums = [int(m.group(5))]
            if current is None:
                problems.append(f"numbers {nums} with no function")
                continue
            out += [(current[0], current[1], n) for n in nums]
    return out, problems


# ---------------------------------------------------------------- notes
def heading_context(text, res, file_modules):
    paths = re.findall(r"([\w/]+)\.py\b", text)
    mods, pkg = [], ""
    for p in paths:  # "tenants/service.py, web.py" -> tenants.service, tenants.web
        if "/" in p:
            pkg = p.rsplit("/", 1)[0]
        elif pkg:
            p = pkg + "/" + p
        mods.append(p.replace("/", "."))
    t = strip_parens(text)
    refs = []
    for tok in re.findall(r"`([^`]*)`|([A-Za-z_][\w.]*)", t):
        name = tok[0] or tok[1]
        r = res.resolve(name, mods or file_modules)
        if r and r[0] != "AMBIGUOUS" and r not in refs:
            refs.append(r)
    return mods, refs


BULLET_SKIP = re.compile(
    r"counts per|not finished|left when|not run|not yet run|cross-check|verification", re.I
)


def parse_notes(path, letter, res):
    lines = open(path, encoding="utf-8").read().splitlines()
    entries = []  # dicts: module func num cat raw file line
    problems = []  # (file, line, text)
    file_modules = []
    h2_mods, h2_funcs, h3_mods, h3_funcs = [], [], [], []
    h2_text = ""
    in_preamble = True
    table_header = None
    i = 0

    def ctx():
        mods = h3_mods or h2_mods or file_modules
        funcs = h3_funcs if h3_funcs else h2_funcs
        return mods, funcs

    def add(items, verdict, lineno, raw, func_list):
        cat, why = classify(verdict)
        for m, f, n in items:
            entries.append(
                dict(
                    module=m,
                    func=f,
                    num=n,
                    cat=cat,
                    why=why,
                    file=letter,
                    line=lineno,
                    raw=raw.strip()[:140],
                )
            )

    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        hm = re.match(r"^(#+)\s+(.*)$", line)
        if hm:
            level, text = len(hm.group(1)), hm.group(2)
            mods, funcs = heading_context(text, res, file_modules)
            if level == 1:
                file_modules = mods
            elif level == 2:
                h2_mods, h2_funcs, h3_mods, h3_funcs = mods, funcs, [], []
                h2_text = text
                in_preamble = False
            else:
                h3_mods, h3_funcs = mods, funcs
            if DEBUG:
                print(f"[{letter}:{lineno}] heading {text[:70]!r} mods={mods} funcs={funcs}")
            table_header = None
            i += 1
            continue
        if line.lstrip().startswith("|"):
            cells = split_cells(line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if re.match(r"^\s*\|[\s:|-]+\|\s*$", nxt):  # header row
                table_header = cells[0].strip("` *").lower()
                i += 2
                continue
            if table_header == "function":
                i += 1
                continue
            mods, funcs = ctx()
            default = funcs[0] if len(funcs) == 1 else None
            items, probs = parse_subject(cells[0], res, mods, funcs, default)
            for p in probs:
                problems.append((letter, lineno, p + " | " + line.strip()[:120]))
            if items:
                add(items, cells[-1], lineno, line, funcs)
            i += 1
            continue
        bm = re.match(r"^(\s*)- (.*)$", line)
        if bm and not in_preamble and not BULLET_SKIP.search(h2_text):
            indent = len(bm.group(1))
            text = bm.group(2)
            j = i + 1
            while (
                j < len(lines)
                and lines[j].strip()
                and not re.match(r"^\s*- ", lines[j])
                and not lines[j].startswith("#")
                and not lines[j].lstrip().startswith("|")
            ):
                text += " " + lines[j].strip()
                j += 1
            # sub-bullets of a bullet whose verdict is "not reviewed" are skipped with it
            subs_end = j
            while subs_end < len(lines) and re.match(r"^\s{2,}- ", lines[subs_end]):
                subs_end += 1
            mods, funcs = ctx()
            # lead text before the first function reference
            first_ref = None
            for m in re.finditer(r"`([^`]*)`", text):
                r = res.resolve(m.group(1), mods, funcs)
                if r and r[0] != "AMBIGUOUS":
                    first_ref = m.start()
                    break
            if first_ref is None:
                i = j
                continue
            lead = text[:first_ref]
            # a lead counts as the verdict only in the form "Already reviewed as equivalent ...:"
            lead_cat, lead_why = (
                classify(lead) if lead.rstrip().endswith(":") else (None, "no lead")
            )
            if "not reviewed" in lead.lower():
                if DEBUG:
                    print(f"[{letter}:{lineno}] bullet skipped (not reviewed), with sub-bullets")
                i = subs_end
                continue
            if lead_cat:
                items, probs = parse_subject(text[first_ref:], res, mods, funcs, None)
                verdict = lead
            else:
                # subject up to the first ':' outside backticks/parens
                masked = re.sub(r"`[^`]*`", lambda m: "_" * len(m.group(0)), text)
                depth, cut = 0, None
                for k, ch in enumerate(masked):
                    if ch == "(":
                        depth += 1
                    elif ch == ")":
                        depth -= 1
                    elif ch == ":" and depth == 0:
                        cut = k
                        break
                if cut is None:
                    i = j
                    continue
                items, probs = parse_subject(text[:cut], res, mods, funcs, None)
                verdict = text[cut + 1 :]
            for p in probs:
                problems.append((letter, lineno, p + " | " + text[:120]))
            if items:
                add(items, verdict, lineno, text, funcs)
            i = j
            continue
        i += 1
    return entries, problems


# ---------------------------------------------------------------- formatting
def compact(nums):
    nums = sorted(set(nums))
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = prev = n
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
    return ", ".join(out)


def main():
    statuses = load_statuses()
    functions = {(m, f) for (m, f, _) in statuses}
    res = Resolver(functions)

    all_entries, all_problems = [], []
    present = []
    for name in NOTE_FILES:
        path = os.path.join(NOTES_DIR, name)
        if not os.path.exists(path):
            continue
        present.append(name)
        letter = name[3]
        e, p = parse_notes(path, letter, res)
        all_entries += e
        all_problems += p

    # overrides
    applied = []
    for letter, mod, func, nums, cat, why in OVERRIDES:
        hit = 0
        for e in all_entries:
            if (
                e["file"] == letter
                and e["module"] == mod
                and e["func"] == func
                and e["num"] in nums
            ):
                if e["cat"] != cat:
                    e["cat"], e["why"] = cat, "override"
                    hit += 1
        applied.append((letter, mod, func, nums, cat, why, hit))

    # one verdict per mutant: latest file wins
    by_mutant = defaultdict(list)
    for e in all_entries:
        by_mutant[(e["module"], e["func"], e["num"])].append(e)
    verdict, conflicts, no_verdict_notes = {}, [], []
    for key, es in by_mutant.items():
        with_cat = [e for e in es if e["cat"]]
        if not with_cat:
            no_verdict_notes.append((key, es))
            continue
        with_cat.sort(key=lambda e: (e["file"], e["line"]))
        cats = {e["cat"] for e in with_cat}
        if len(cats) > 1:
            conflicts.append((key, with_cat))
        verdict[key] = with_cat[-1]

    unknown = [(k, v) for k, v in verdict.items() if k not in statuses]

    # per-module counts
    modules = sorted({m for (m, _, _) in statuses})
    other_statuses = sorted({s for s in statuses.values()} - {"killed", "survived", "not checked"})
    rows = OrderedDict()
    no_verdict = defaultdict(list)
    ahead = defaultdict(lambda: defaultdict(list))
    on_killed = defaultdict(lambda: defaultdict(list))
    tot = defaultdict(int)
    for mod in modules:
        r = defaultdict(int)
        for (m, f, n), st in statuses.items():
            if m != mod:
                continue
            r["total"] += 1
            r[st] += 1
            v = verdict.get((m, f, n))
            if st == "not checked":
                if v:
                    ahead[(m, f)][v["cat"]].append(n)
            elif st == "killed":
                if v:
                    on_killed[(m, f)][v["cat"]].append(n)
            elif st in ("survived",) or st in other_statuses:
                if v:
                    r["v_" + v["cat"]] += 1
                else:
                    r["v_none"] += 1
                    no_verdict[(m, f)].append((n, st))
        rows[mod] = r
        for k, val in r.items():
            tot[k] += val

    def fmt_row(name, r):
        cells = [name, r["total"], r["not checked"], r["killed"], r["survived"]]
        cells += [r[s] for s in other_statuses]
        cells += [
            r["v_killed"],
            r["v_equivalent"],
            r["v_dead code"],
            r["v_unreachable"],
            r["v_none"],
        ]
        return "| " + " | ".join(str(c) for c in cells) + " |"

    import datetime

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"# Mutation-testing reconciliation ({now})\n")
    print(
        f"mutmut results: `{MUTANTS}/**/*.meta` (read at the time above; mutmut may still be running)."
    )
    print(f"Notes read: {', '.join(present)}.\n")
    print(
        'Columns: *not run* = mutmut status "not checked"; the verdict columns count only '
        "mutants mutmut reports as survived"
        + (" (or " + "/".join(other_statuses) + ")" if other_statuses else "")
        + "; *no verdict* = such a mutant that no note gives a verdict.\n"
    )
    hdr = (
        ["module", "total", "not run", "killed by mutmut", "survived"]
        + other_statuses
        + [
            "surv.: killed by test (planted)",
            "surv.: equivalent",
            "surv.: dead code",
            "surv.: unreachable",
            "surv.: NO verdict",
        ]
    )
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for mod, r in rows.items():
        print(fmt_row(f"`{mod}`", r))
    print(fmt_row("**total**", tot))

    run = tot["total"] - tot["not checked"]
    excluded = tot["v_equivalent"] + tot["v_dead code"] + tot["v_unreachable"]
    num = tot["killed"] + tot["v_killed"]
    den = run - excluded
    print("\n## Score\n")
    print(f"- mutants run: {run} of {tot['total']} ({tot['not checked']} not run yet)")
    print(
        f"- killed by mutmut: {tot['killed']}; survivors killed by a test when planted: {tot['v_killed']}"
    )
    print(
        f"- excluded: equivalent {tot['v_equivalent']}, dead code {tot['v_dead code']}, "
        f"unreachable {tot['v_unreachable']} (total {excluded})"
    )
    print(
        f"- **score = ({tot['killed']} + {tot['v_killed']}) / ({run} − {excluded}) = {num}/{den} = "
        f"{100.0 * num / den:.1f}%**"
        if den
        else "- score: n/a"
    )
    print(
        f"- for comparison, mutmut's own raw score (killed / run): {tot['killed']}/{run} = "
        f"{100.0 * tot['killed'] / run:.1f}%"
        if run
        else ""
    )
    print(f"- survivors with NO verdict: {tot['v_none']} (in the denominator, not the numerator)")

    print("\n## Survivors with no verdict (by function)\n")
    if not no_verdict:
        print("None.")
    for m, f in sorted(no_verdict):
        items = no_verdict[(m, f)]
        extra = {st for _, st in items if st != "survived"}
        print(
            f"- `{m}.{f}` ({len(items)}): {compact([n for n, _ in items])}"
            + (f" (statuses: {', '.join(sorted(extra))} among them)" if extra else "")
        )

    n_ahead = sum(len(v) for d in ahead.values() for v in d.values())
    print(
        f"\n## Planted ahead: verdicts for mutants mutmut has not run yet ({n_ahead}, not in the score)\n"
    )
    by_cat = defaultdict(int)
    for d in ahead.values():
        for c, v in d.items():
            by_cat[c] += len(v)
    print("By category: " + ", ".join(f"{c} {by_cat[c]}" for c in CATS if by_cat[c]) + "\n")
    for m, f in sorted(ahead):
        parts = [
            f"{c} {compact(ns)}"
            for c, ns in sorted(ahead[(m, f)].items(), key=lambda x: CATS.index(x[0]))
        ]
        print(f"- `{m}.{f}`: " + "; ".join(parts))

    n_ok = sum(len(v) for d in on_killed.values() for v in d.values())
    print(
        f"\n## Verdicts on mutants mutmut has since killed itself ({n_ok}; counted as killed by mutmut)\n"
    )
    for m, f in sorted(on_killed):
        parts = [
            f"{c} {compact(ns)}"
            for c, ns in sorted(on_killed[(m, f)].items(), key=lambda x: CATS.index(x[0]))
        ]
        flag = (
            " **(a note said not-killed, mutmut killed it)**"
            if any(c != "killed" for c in on_killed[(m, f)])
            else ""
        )
        print(f"- `{m}.{f}`: " + "; ".join(parts) + flag)

    print("\n## Parser checks\n")
    print(
        f"Verdict entries parsed: {len(all_entries)} ({len(verdict)} distinct mutants with a category).\n"
    )
    per_file = defaultdict(lambda: defaultdict(int))
    for e in all_entries:
        per_file[e["file"]][e["cat"] or "none"] += 1
    print("| notes | " + " | ".join(CATS) + " | no category |")
    print("|---|" + "---|" * (len(CATS) + 1))
    for letter in sorted(per_file):
        d = per_file[letter]
        print(f"| mut{letter}.md | " + " | ".join(str(d[c]) for c in CATS) + f" | {d['none']} |")
    print("\nOverrides applied:")
    for letter, mod, func, nums, cat, why, hit in applied:
        print(f"- mut{letter}.md `{mod}.{func}` {compact(nums)} → {cat} ({hit} changed): {why}")
    print(f"\nEntries with no category ({sum(len(es) for _, es in no_verdict_notes)}):")
    grouped = defaultdict(list)
    for (m, f, n), es in no_verdict_notes:
        for e in es:
            grouped[(e["file"], m, f, e["why"], e["line"])].append(n)
    for (letter, m, f, why, line), ns in sorted(grouped.items()):
        print(f"- mut{letter}.md:{line} `{m}.{f}` {compact(ns)}: {why}")
    print(f"\nVerdicts naming a mutant that does not exist in the .meta files ({len(unknown)}):")
    for (m, f, n), e in sorted(unknown):
        print(f"- `{m}.{f}` {n} (mut{e['file']}.md:{e['line']})")
    print(f"\nConflicting categories between notes ({len(conflicts)}; latest file used):")
    for (m, f, n), es in sorted(conflicts):
        print(
            f"- `{m}.{f}` {n}: "
            + ", ".join(f"mut{e['file']}.md:{e['line']} {e['cat']}" for e in es)
        )
    print(f"\nUnparsed numbers / names ({len(all_problems)}):")
    for letter, line, p in all_problems:
        print(f"- mut{letter}.md:{line}: {p}")

    if DEBUG:
        print("\n## DEBUG: every parsed entry\n")
        for e in all_entries:
            print(
                f"mut{e['file']}:{e['line']} {e['module']}.{e['func']} {e['num']} -> {e['cat']} ({e['why']})"
            )


if __name__ == "__main__":
    main()
