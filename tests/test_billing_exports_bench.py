"""bench/export_invoices.py runs on its own, reports figures at each checkpoint, and stays
under its memory target."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "export_invoices.py"


def test_bench_streams_every_line_and_prints_checkpoints(tmp_path):
    out = tmp_path / "lines.csv"

    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(BENCH), "--lines", "12000", "--lines-per-invoice", "7"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "10000 lines" in result.stdout and "12000 lines" in result.stdout
    assert "target < 150 MB" in result.stdout
    with out.open(newline="", encoding="utf-8") as handle:
        rows = sum(1 for _row in csv.reader(handle)) - 1
    assert rows == 12000
