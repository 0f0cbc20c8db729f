"""`make bench` runs and reports figures; here at a tiny size so the tests stay cheap. No timing is asserted: the
harness reports budgets, it does not enforce them."""

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from psycopg import sql

from accounts.models import Organisation, User
from benchmarks import dashboard_sql
from benchmarks.__main__ import BENCHMARKS
from contracts.models import SIGNED_STATUSES, Contract, ContractStatus
from dashboard.selectors import dashboard_for
from procurement.management.commands.generate_cases import organisation_sirets
from procurement.models import CaseEvent, CaseStatus, NeedLine, PurchaseCase, Threshold, UrgencyJustification

ROOT = Path(__file__).resolve().parents[1]


def test_the_sanctions_benchmark_reports_its_figures(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--only",
            "sanctions",
            "--sanctions-entries",
            "300",
            "--names",
            "20",
            "--output-dir",
            str(tmp_path),
        ],
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


@pytest.mark.django_db
def test_the_health_check_answers_anyone_without_a_query(client, django_assert_num_queries):
    """What a load balancer polls: no login, no database (it must answer while the database is busy)."""
    with django_assert_num_queries(0):
        response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"ok"


# --- generate_cases --------------------------------------------------------------------------------
def _generate(**options) -> str:
    out = StringIO()
    call_command("generate_cases", stdout=out, **options)
    return out.getvalue()


def _organisation(cases: int, seed: int, *, small: bool = False) -> Organisation:
    return Organisation.objects.get(siret=organisation_sirets(cases=cases, seed=seed)[1 if small else 0])


@pytest.mark.postgres
@pytest.mark.django_db
def test_generated_cases_cover_every_stage_consistently():
    output = _generate(cases=300, seed=7)
    assert "rows/s" in output
    org = _organisation(300, 7)
    cases = PurchaseCase.objects.for_organisation(org.pk)
    assert cases.count() == 300
    assert PurchaseCase.objects.for_organisation(_organisation(300, 7, small=True).pk).count() == 30

    # Every status, and some open cases past their stage target, others not.
    assert set(cases.values_list("status", flat=True)) == set(CaseStatus.values)
    open_cases = cases.open()
    assert 0 < cases.overdue().count() < open_cases.count()

    # Each case as the services would leave it: a need line, a justification, its creation in the audit trail.
    assert not cases.annotate(n=Count("need_lines")).filter(n=0).exists()
    assert UrgencyJustification.objects.filter(case__in=cases).count() == 300
    assert CaseEvent.objects.filter(case__in=cases, verb="create").count() == 300
    assert not cases.filter(closed_at__isnull=True, status=CaseStatus.CLOSED).exists()

    # Contracts only at the contract or closed stage, in a status their case allows, with that status's fields.
    contracts = Contract.objects.for_organisation(org.pk)
    assert set(contracts.values_list("case__status", flat=True)) == {CaseStatus.CONTRACT, CaseStatus.CLOSED}
    assert not cases.filter(status__in=[CaseStatus.CONTRACT, CaseStatus.CLOSED], contracts__isnull=True).exists()
    assert not contracts.filter(case__status=CaseStatus.CLOSED).exclude(status__in=SIGNED_STATUSES).exists()
    assert set(contracts.values_list("status", flat=True)) == set(ContractStatus.values) - {ContractStatus.WITHDRAWN}
    for contract in contracts.select_related("approved_document", "delegation"):
        if contract.status in (ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW):
            assert contract.approved_at is None
            assert contract.signed_at is None
            continue
        assert contract.approved_document.sha256
        assert contract.approved_by_id
        assert contract.approved_at
        if contract.status in SIGNED_STATUSES:
            assert contract.approved_at <= contract.signed_at <= timezone.now()
            assert contract.delegation.covers(day=timezone.localdate(contract.signed_at), amount=contract.amount_ht)
        if contract.status == ContractStatus.NOTIFIED:
            assert contract.signed_at <= contract.notified_at
            eu = Threshold.amount_on(Threshold.Kind.EU_SUPPLIES, timezone.localdate(contract.signed_at))
            if contract.amount_ht >= eu:
                assert contract.prefect_transmitted_on is not None

    # The people the benchmark logs in as.
    assert User.objects.filter(organisation=org, groups__name="director").count() == 1
    assert User.objects.filter(organisation=org, groups__name="buyer").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_generating_again_reuses_the_cases_and_a_different_size_is_refused():
    _generate(cases=100, seed=3)
    rows = NeedLine.objects.count(), CaseEvent.objects.count()
    assert "reused" in _generate(cases=100, seed=3)
    assert (NeedLine.objects.count(), CaseEvent.objects.count()) == rows

    siret = organisation_sirets(cases=100, seed=3)[0]
    with pytest.raises(CommandError, match="already exists with 100 cases"):
        _generate(cases=150, organisation_siret=siret, small_org_ratio=0)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_raw_sql_baseline_computes_the_dashboards_figures():
    """The benchmark's baseline is only fair if it computes what the dashboard shows."""
    _generate(cases=400, seed=5)
    director = User.objects.get(organisation=_organisation(400, 5), groups__name="director")
    now = timezone.now()
    raw = dashboard_sql.dashboard_figures(organisation_id=director.organisation_id, now=now)
    shown = dashboard_sql.figures_of_dashboard(dashboard_for(user=director, now=now))
    assert dashboard_sql.differences(raw, shown) == []
    # The kept tables (written by the triggers during COPY) hold what the base tables say; the percentiles of
    # the base tables are to the second, the kept ones to the minute.
    base = dashboard_sql.base_table_figures(organisation_id=director.organisation_id, now=now)
    assert dashboard_sql.differences(base, raw) in ([], ["time_to_contract"])
    assert base["time_to_contract"][0] == raw["time_to_contract"][0] > 0
    for exact, to_the_minute in zip(base["time_to_contract"][1:], raw["time_to_contract"][1:], strict=True):
        assert timedelta(0) <= exact - to_the_minute < timedelta(minutes=1)
    assert raw["obligations"]
    assert raw["overdue"]
    assert raw["amounts"]["committed"] > Decimal("0")
    # And it follows the clock: a day later, more cases are overdue.
    later = dashboard_sql.dashboard_figures(organisation_id=director.organisation_id, now=now + timedelta(days=1))
    assert later["overdue_total"] > raw["overdue_total"]


# --- the harness -----------------------------------------------------------------------------------
def _harness_database_url() -> str:
    """A database of its own, next to this run's (tandem_<name> → tandem_<name>_harness), created afresh."""
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tandem"))
    name = f"{url.path.lstrip('/') or 'tandem'}_harness"
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return url._replace(path=f"/{name}").geturl()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.slow
def test_the_harness_reports_every_benchmark_against_its_baseline(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--cases",
            "200",
            "--repeat",
            "3",
            "--duration",
            "1",
            "--notifications",
            "5",
            "--sanctions-entries",
            "300",
            "--names",
            "20",
            "--output-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONWARNINGS": "error",
            "DATABASE_URL": _harness_database_url(),
            "BENCH_QUEUE": f"{settings.CELERY_TASK_DEFAULT_QUEUE}-harness",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (json_path,) = tmp_path.glob("bench-*.json")
    (md_path,) = tmp_path.glob("bench-*.md")
    run = json.loads(json_path.read_text())
    assert (run["cases"], run["small_cases"]) == (200, 20)
    assert run["machine"]["cores"] >= 1
    assert run["machine"]["postgres"]

    results = run["benchmarks"]
    assert list(results) == list(BENCHMARKS)
    for name, result in results.items():
        assert not result["error"], name
        assert result["verdict"] in ("OK", "OVER BUDGET"), name
        assert result["figure"] > 0, name
        assert result["target_text"], name
        for side in ("subject", "baseline"):
            measure = result[side]
            assert 0 < measure["median_ms"] <= measure["p95_ms"], (name, side)
    assert results["throughput"]["subject"]["requests_per_s"] > 0
    assert results["throughput"]["baseline"]["requests_per_s"] > 0
    assert results["dashboard"]["extra"]["figures_match"] is True
    assert results["notification"]["extra"]["count"] == 5

    table = md_path.read_text()
    assert table in completed.stdout
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(BENCHMARKS)
    for result, row in zip(results.values(), rows, strict=True):
        assert row.startswith(f"| {result['title']} |")
        assert row.endswith(f"| {result['verdict']} |")
