"""Measuring a subject against its baseline in the same run, and writing the results (Markdown table + JSON)."""

import gc
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

OK = "OK"
OVER_BUDGET = "OVER BUDGET"
CRASHED = "CRASHED"
MIN_REPEAT = 3


def number(value: int) -> str:
    """10 000 (French grouping, readable in any language)."""
    return f"{value:,}".replace(",", " ")


def percentile(values: list[float], fraction: float) -> float:
    """Continuous percentile (linear interpolation between the two nearest ranks)."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Measure:
    """One side of a comparison: what was measured, and its figures (milliseconds, or requests per second)."""

    label: str
    median_ms: float | None = None
    p95_ms: float | None = None
    samples: int = 0
    requests_per_s: float | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, label: str, seconds: list[float], **extra) -> "Measure":
        ms = [s * 1000 for s in seconds]
        return cls(label, percentile(ms, 0.5), percentile(ms, 0.95), len(ms), extra=extra)

    def text(self) -> str:
        parts = []
        if self.requests_per_s is not None:
            parts.append(f"{self.requests_per_s:,.1f} req/s")
        if self.median_ms is not None:
            parts.append(f"median {_ms(self.median_ms)}, p95 {_ms(self.p95_ms)}")
        return f"{self.label}: {', '.join(parts)}"


def _ms(value: float) -> str:
    return f"{value:.3g} ms" if value < 10 else f"{number(round(value))} ms"


@dataclass
class Result:
    """A benchmark line: subject vs baseline, the figure judged (a ratio or a p95), the target, the verdict."""

    name: str
    title: str
    subject: Measure | None = None
    baseline: Measure | None = None
    figure: float | None = None  # what the target judges: subject/baseline ratio, or a p95 in ms
    figure_text: str = ""
    target_text: str = ""
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    error: str = ""

    def judge(self, figure: float, *, at_most: float | None = None, at_least: float | None = None, unit="×"):
        self.figure = figure
        self.figure_text = f"{figure:.2f}{unit}" if unit == "×" else f"{figure:.1f} {unit}"
        limit = at_most if at_most is not None else at_least
        sign = "≤" if at_most is not None else "≥"
        self.target_text = f"{sign} {limit:g}{unit}" if unit == "×" else f"{sign} {limit:g} {unit}"
        ok = figure <= at_most if at_most is not None else figure >= at_least
        self.verdict = OK if ok else OVER_BUDGET
        return self


def interleave(
    subject: Callable,
    baseline: Callable,
    *,
    repeat: int,
    warmup: int = 1,
    subject_setup: Callable | None = None,
    baseline_setup: Callable | None = None,
    max_seconds: float | None = None,
) -> tuple[list[float], list[float]]:
    """Time `subject` and `baseline` alternately (the first of each pair alternating too), so that a slow phase of
    the machine weighs on both. A setup, untimed, prepares the argument of the next call. Past `max_seconds`,
    stops after at least MIN_REPEAT pairs (a dashboard of a million cases may take minutes per call)."""
    sides = [(subject, subject_setup, []), (baseline, baseline_setup, [])]
    began = time.perf_counter()
    for _ in range(warmup):
        for function, setup, _times in sides:
            function(setup()) if setup else function()
    for index in range(repeat):
        if max_seconds and index >= MIN_REPEAT and time.perf_counter() - began > max_seconds:
            break
        for function, setup, times in sides if index % 2 == 0 else sides[::-1]:
            argument = setup() if setup else None
            gc.collect()
            started = time.perf_counter()
            function(argument) if setup else function()
            times.append(time.perf_counter() - started)
    return sides[0][2], sides[1][2]


# --- the machine ---------------------------------------------------------------------------------
def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine(postgres_version: str = "") -> dict:
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": postgres_version,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


# --- output ------------------------------------------------------------------------------------
def markdown(results: list[Result], *, run: dict) -> str:
    header = (
        f"Tandem benchmarks — {run['started_at']} — {number(run['cases'])} cases "
        f"(small organisation {number(run['small_cases'])}) — {run['machine']['cores']} cores, Python "
        f"{run['machine']['python']}, PostgreSQL {run['machine']['postgres'] or '?'}, "
        f"commit {run['machine']['git_commit'][:10] or '?'}{' (modified)' if run['machine']['git_dirty'] else ''}"
    )
    lines = [
        header,
        "",
        "| Benchmark | Subject | Baseline (same run) | Result | Target | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        if result.error:
            lines.append(f"| {result.title} | {_cell(result.error)} | | | | {CRASHED} |")
            continue
        lines.append(
            "| "
            + " | ".join(
                [
                    result.title,
                    _cell(result.subject.text() if result.subject else ""),
                    _cell(result.baseline.text() if result.baseline else ""),
                    result.figure_text,
                    result.target_text,
                    result.verdict,
                ]
            )
            + " |"
        )
    notes = [f"- {result.title}: {note}" for result in results for note in result.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", f"Wall time: {run['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(results: list[Result], *, run: dict, output_dir: Path) -> tuple[Path, Path, str]:
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    table = markdown(results, run=run)
    md_path = output_dir / f"bench-{stamp}.md"
    json_path = output_dir / f"bench-{stamp}.json"
    md_path.write_text(table, encoding="utf-8")
    payload = {**run, "benchmarks": {result.name: asdict(result) for result in results}}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return md_path, json_path, table
