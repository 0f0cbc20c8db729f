"""The demo on its embedded defaults (`make run`): every main page, as every demo user, answers 200 on SQLite.

The rest of the suite runs on PostgreSQL, so the selectors' non-PostgreSQL branches (`connection.vendor`) are
only exercised here: the director's dashboard once answered 500 on the demo (a UNION with LIMIT, then with
ORDER BY, both refused by SQLite). The demo runs in subprocesses with config.settings.local, on a SQLite file and
a storage root under tmp_path (never the developer's var/ nor db.sqlite3), tasks in-process and an in-memory
Celery broker (never Redis). No `db` fixture: this test needs neither PostgreSQL nor Redis.
"""

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parents[1]
# seed_demo's users (contracts/management/commands/seed_demo.py USERS); acheteur.var is the second organisation's.
DEMO_USERS = ["acheteur", "acheteuse2", "juriste", "directeur", "admin", "acheteur.var"]
# The case list's filters and sorts (procurement/filters.py), each on its own.
CASE_LIST_QUERIES = [
    {"overdue": "1"},
    {"signale": "1"},
    {"q": "masques"},
    {"q": "Transit gants"},
    {"status": "negotiation"},
    {"montant_min": "1 000", "montant_max": "50000000"},
    {"du": "2020-01-01", "au": "2030-12-31"},
    *({"tri": sort} for sort in ("cree", "montant", "-montant", "etape", "reference")),
]


def _demo_env(tmp_path: Path) -> dict[str, str]:
    """The `make run` environment (config/settings/local.py, base.py), pointed at tmp_path."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PRIVATE_STORAGE_ROOT": str(tmp_path / "private"),
        "DJANGO_DEBUG": "true",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "memory://",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_main_page_answers_on_the_sqlite_demo(tmp_path):
    env = _demo_env(tmp_path)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        result = _run([sys.executable, "manage.py", *command], env)
        assert result.returncode == 0, f"manage.py {' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    result = _run([sys.executable, "-c", "import tests.test_demo_sqlite as t; t._visit()"], env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "pages answered 200" in result.stdout, result.stdout


# --- run in the demo's subprocess -------------------------------------------------------------------
def _pages(user) -> list[tuple[str, dict]]:
    """(URL, request headers) of the main pages, with every object of the user's organisation."""
    from django.urls import reverse

    from contracts.models import Contract
    from procurement.models import Offer, PurchaseCase
    from suppliers.models import Supplier

    org = user.organisation_id
    cases = PurchaseCase.objects.for_organisation(org).order_by("pk")
    contracts = Contract.objects.for_organisation(org).order_by("pk")
    pages = [
        (reverse("accounts:profile"), {}),
        (reverse("notifications:inbox"), {}),
        (reverse("procurement:case_list"), {}),
        *((reverse("procurement:case_list") + "?" + urlencode(query), {}) for query in CASE_LIST_QUERIES),
        (reverse("procurement:case_list_export", args=["csv"]) + "?overdue=1", {}),
        (reverse("procurement:case_list_export", args=["xlsx"]) + "?q=masques", {}),
        (reverse("suppliers:list"), {}),
        (reverse("contracts:list"), {}),
        (reverse("dashboard:index"), {}),
        (reverse("dashboard:index") + "?part=figures", {"HX-Request": "true"}),
        (reverse("dashboard:index") + "?part=figures&pause=1", {"HX-Request": "true"}),
        (reverse("dashboard:export", args=["csv"]), {}),
        (reverse("dashboard:export", args=["xlsx"]), {}),
        (reverse("dashboard:pdf"), {}),
    ]
    for case in cases:
        pages += [
            (reverse("procurement:case_detail", args=[case.pk]), {}),
            (reverse("procurement:case_next_steps", args=[case.pk]), {"HX-Request": "true"}),
            (reverse("procurement:offer_comparison", args=[case.pk]), {}),
        ]
    for offer in Offer.objects.filter(case__in=cases).order_by("pk"):
        pages.append((reverse("procurement:offer_detail", args=[offer.pk]), {}))
    for supplier in Supplier.objects.filter(organisation_id=org).order_by("pk"):
        pages.append((reverse("suppliers:detail", args=[supplier.pk]), {}))
    for contract in contracts:
        pages += [
            (reverse("contracts:detail", args=[contract.pk]), {}),
            (reverse("execution:contract", args=[contract.pk]), {}),
            (reverse("execution:allocation_export", args=[contract.pk]), {}),
        ]
    return pages


def _visit() -> None:
    """GET every main page as every demo user (force_login); print each (user, URL, status) that is not 200, with
    the traceback of an exception (the test client re-raises a view's exception), and exit 1 if any."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.models import User

    assert connection.vendor == "sqlite", connection.vendor
    setup_test_environment()  # the test client's host "testserver" is allowed; e-mails stay in memory
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # failures are reported below, once each
    failures, seen, visited = [], set(), 0
    for username in DEMO_USERS:
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        for url, headers in _pages(user):
            visited += 1
            try:
                response = client.get(url, headers=headers)
                if response.streaming:
                    b"".join(response.streaming_content)
                response.close()
            except Exception:  # every failing page is reported, not only the first
                trace = traceback.format_exc()
                failures.append(f"{username} GET {url}: " + ("same exception as above" if trace in seen else trace))
                seen.add(trace)
                continue
            if response.status_code != 200:
                failures.append(f"{username} GET {url}: {response.status_code}")
    if failures:
        print(f"{len(failures)} of {visited} pages failed on the SQLite demo:", *failures, sep="\n")  # noqa: T201
        sys.exit(1)
    print(f"{visited} pages answered 200 on the SQLite demo")  # noqa: T201
