"""Stream a CSV of invoice lines and print elapsed time and peak memory at 10k and 100k lines.

    python bench/export_invoices.py [--lines 100000] [--lines-per-invoice 10] [--out FILE]

Invoices are made on the fly (no database: this measures the export path itself, the part
a finance download streams through) and written by ``billing.csv_export.lines_csv`` to a
file (default: a temporary one). Target: peak RSS under 150 MB and time linear in lines.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.csv_export import lines_csv  # noqa: E402
from billing.documents import DocumentLine, InvoiceDocument, Party, VatBucket  # noqa: E402

CHECKPOINTS = (10_000, 100_000)
TARGET_MB = 150


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux: ``VmHWM`` (getrusage keeps the peak of the process
    that exec'd us, e.g. a large test runner)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def documents(lines: int, per_invoice: int, emitted: list[int]) -> Iterator[InvoiceDocument]:
    seller = Party(name="Aurora Social S.r.l.", country="IT", vat_id="IT00743110157")
    template = InvoiceDocument(
        kind="invoice",
        number="",
        issue_date=date(2026, 1, 1),
        currency="EUR",
        language="it",
        seller=seller,
        buyer=Party(name="Client", country="IT"),
        lines=(),
        vat=(),
        net_minor=0,
        vat_minor=0,
        total_minor=0,
        status="open",
    )
    made = 0
    n = 0
    while made < lines:
        n += 1
        count = min(per_invoice, lines - made)
        items = tuple(
            DocumentLine(
                description=f"Extra post #{made + k + 1} for client {n % 500}",
                quantity=Decimal(1 + k % 3),
                unit_price_minor=4500 + k,
                amount_minor=(4500 + k) * (1 + k % 3),
                vat_rate=Decimal("22"),
                kind="extra_posts",
            )
            for k in range(count)
        )
        net = sum(item.amount_minor for item in items)
        vat = (net * 22 + 50) // 100
        made += count
        emitted[0] = made
        yield replace(
            template,
            number=f"{2026 + n // 10000}/{n % 10000:04d}",
            issue_date=date(2026, 1, 1) + timedelta(days=n % 365),
            buyer=Party(name=f"Client {n % 500} S.r.l.", country="IT"),
            lines=items,
            vat=(VatBucket(Decimal("22"), net, vat),),
            net_minor=net,
            vat_minor=vat,
            total_minor=net + vat,
        )


def run(lines: int, per_invoice: int, out: Path) -> list[tuple[int, float, float]]:
    emitted = [0]
    figures: list[tuple[int, float, float]] = []
    pending = [c for c in CHECKPOINTS if c < lines] + [lines]
    start = time.perf_counter()
    with out.open("wb") as target:
        for chunk in lines_csv(documents(lines, per_invoice, emitted)):
            target.write(chunk)
            while pending and emitted[0] >= pending[0]:
                figures.append((pending.pop(0), time.perf_counter() - start, peak_rss_mb()))
    # Chunks lag the generator by < 64 KiB: the last checkpoint is the finished file.
    for checkpoint in pending:
        figures.append((checkpoint, time.perf_counter() - start, peak_rss_mb()))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--lines-per-invoice", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        out = args.out or Path(folder) / "invoice-lines.csv"
        figures = run(args.lines, args.lines_per_invoice, out)
        size = out.stat().st_size
    for lines, elapsed, rss in figures:
        rate = lines / elapsed if elapsed else float("inf")
        print(f"{lines:>7} lines  {elapsed:7.2f} s  {rate:9.0f} lines/s  peak RSS {rss:6.1f} MB")
    if len(figures) >= 2:
        (small, t_small, _r), (big, t_big, _r2) = figures[0], figures[-1]
        ratio = big / small
        print(
            f"time grew {t_big / t_small:.1f}x for {ratio:.0f}x the lines (linear: ~{ratio:.0f}x)"
        )
    peak = figures[-1][2]
    print(f"CSV size {size / 1e6:.1f} MB; peak RSS {peak:.1f} MB (target < {TARGET_MB} MB)")
    return 0 if peak < TARGET_MB else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
