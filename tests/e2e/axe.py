"""axe-core in the browser tests: the vendored engine, how to run it, what counts as a failure.

``vendor/axe.min.js`` is axe-core from the npm registry (``npm pack axe-core``), kept with its
licence header (MPL-2.0, full text in ``vendor/axe-core.LICENSE``); nothing is fetched at test
time. ``audit`` loads it into a page the first time it audits that page (``page.evaluate``,
which a Content-Security-Policy cannot block); pages the crawl only passes through never
parse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")

# Every axe rule that is not experimental, WCAG 2.0-2.2 A/AA and best practices alike;
# only serious and critical findings fail the gate.
_RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary || ""})),
  }));
}"""

_SIDEWAYS = """() => ({
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  widest: Array.from(document.querySelectorAll("body *"))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
      + (typeof e.className === "string" && e.className ? "." + e.className.split(" ")[0] : "")),
})"""


@dataclass
class Finding:
    where: str
    rule: str
    impact: str
    help: str
    nodes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        nodes = "\n".join(f"      {n}" for n in self.nodes[:6])
        more = f"\n      … and {len(self.nodes) - 6} more" if len(self.nodes) > 6 else ""
        return f"  {self.where}\n    [{self.impact}] {self.rule}: {self.help}\n{nodes}{more}"


def install(context) -> None:  # noqa: ANN001 - playwright BrowserContext
    """Nothing to do: ``audit`` loads axe into a page the first time it audits it."""


_SOURCE: list[str] = []


def _load(page) -> None:  # noqa: ANN001
    if page.evaluate("() => typeof window.axe === 'undefined'"):
        if not _SOURCE:
            _SOURCE.append(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
        page.evaluate(_SOURCE[0])


def audit(page, where: str) -> list[Finding]:  # noqa: ANN001 - playwright Page
    """axe's serious and critical violations on the page as it is now."""
    _load(page)
    violations = page.evaluate(_RUN_AXE)
    return [
        Finding(
            where=where,
            rule=v["id"],
            impact=v["impact"],
            help=v["help"],
            nodes=[
                f"{n['target']} — {n['summary'].splitlines()[-1] if n['summary'] else ''}"
                for n in v["nodes"]
            ],
        )
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]


def sideways_scroll(page, where: str) -> list[Finding]:  # noqa: ANN001
    """A finding when the page is wider than the viewport (it would scroll sideways)."""
    box = page.evaluate(_SIDEWAYS)
    if box["scrollWidth"] <= box["innerWidth"]:
        return []
    return [
        Finding(
            where=where,
            rule="horizontal-scroll",
            impact="serious",
            help=f"page is {box['scrollWidth']}px wide in a {box['innerWidth']}px viewport",
            nodes=box["widest"],
        )
    ]


def report(findings: list[Finding]) -> str:
    return f"{len(findings)} accessibility findings:\n" + "\n".join(map(str, findings))
