"""`make bench` runs and reports figures; here at a tiny size so the test stays cheap."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_sanctions_benchmark_reports_its_figures():
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "sanctions", "--sanctions-entries", "300", "--names", "20"],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "300 entries" in output
    assert "20 names screened" in output
    median, p95 = map(float, re.search(r"screening\s*: median ([\d.]+) ms, p95 ([\d.]+) ms", output).groups())
    assert 0 < median <= p95
    assert re.search(r"baseline\s*: median [\d.]+ ms", output)
    assert re.search(r"screening / baseline = \d+x", output)
    assert "verdict    : OK" in output
