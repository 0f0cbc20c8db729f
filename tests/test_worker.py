"""A real Celery worker (subprocess) against the real Redis and the test database: outbox rows get done."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import F
from kombu import pools

from config.celery import app
from contracts import services as contract_services
from contracts.models import ContractDocument
from notifications import tasks as notification_tasks
from notifications.models import Notification
from tests.factories import make_case

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

DEAD_BROKER = "redis://127.0.0.1:1/0"
TIMEOUT = 60


def _queue_keys(queue: str) -> list[str]:
    # kombu's Redis transport keeps one list per priority step: "<queue>", "<queue>\x06\x163", ...
    return [queue, *(f"{queue}\x06\x16{p}" for p in (1, 2, 3, 4, 5, 6, 7, 8, 9))]


def _database_url() -> str:
    db = connection.settings_dict
    assert db["NAME"].startswith("test_"), db["NAME"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def worker_storage(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-private")


@pytest.fixture
def private_storage(settings, worker_storage):
    """The test process and the worker share one storage root (overrides the per-test one)."""
    settings.PRIVATE_STORAGE_ROOT = worker_storage
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(worker_storage), "base_url": None},
        },
    }
    return worker_storage


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, worker_storage, tmp_path_factory):
    if not (settings.REDIS_AVAILABLE and settings.POSTGRES_AVAILABLE):
        pytest.skip("the worker tests need PostgreSQL and Redis")
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*_queue_keys(queue))
    client.close()
    with django_db_blocker.unblock():
        database_url = _database_url()
    log_path = tmp_path_factory.mktemp("worker-log") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "TANDEM_TEST_QUEUE": queue,
        "TANDEM_TEST_EAGER": "0",
        "TANDEM_TEST_PRIVATE_ROOT": str(worker_storage),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    env.pop("PYTEST_XDIST_WORKER", None)  # the queue above already is this pytest worker's
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "--loglevel=INFO",
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while " ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"the worker exited ({process.returncode}):\n{log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        process.log_path = log_path
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def not_eager():
    """This process publishes to the broker instead of running tasks inline."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = previous


def _reset_broker_pools() -> None:
    """Close and forget the connection and producer pools, so the next publish uses the current broker_url."""
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def broker_at(url: str):
    previous = app.conf.broker_url
    _reset_broker_pools()
    app.conf.broker_url = url
    try:
        yield
    finally:
        _reset_broker_pools()
        app.conf.broker_url = previous


def wait_until(predicate, worker, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    log = worker.log_path.read_text(errors="replace")[-4000:]
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{log}")


def _rendered(contract, worker) -> ContractDocument:
    document = contract.documents.get()
    wait_until(
        lambda: ContractDocument.objects.filter(pk=document.pk, status="rendered").exists(),
        worker,
        "the contract document",
    )
    document.refresh_from_db()
    return document


def test_worker_renders_the_contract_and_delivers_the_notification(celery_worker, not_eager, buyer, jurist):
    # The award commits: its pending document row is queued for the worker.
    case = make_case(buyer, "contract", render=False)
    contract = case.contracts.get()

    document = _rendered(contract, celery_worker)

    assert len(document.sha256) == 64
    assert document.size > 1000
    assert (settings.PRIVATE_STORAGE_ROOT / document.file.name).is_file()

    contract_services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
    )
    notification = Notification.objects.get(recipient=jurist, verb="contract_to_review")
    wait_until(
        lambda: Notification.objects.filter(pk=notification.pk, email_status="sent").exists(),
        celery_worker,
        "the jurist's e-mail",
    )
    notification.refresh_from_db()
    assert (notification.email_attempts, notification.sent_at is not None) == (1, True)


def test_broker_outage_delays_a_notification_and_the_sweep_delivers_it(celery_worker, not_eager, buyer, jurist):
    contract = make_case(buyer, "contract", render=False).contracts.get()
    _rendered(contract, celery_worker)

    with broker_at(DEAD_BROKER):
        started = time.monotonic()
        contract = contract_services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        )
        assert time.monotonic() - started < 10, "publishing to a dead broker must fail fast"

    contract.refresh_from_db()
    assert contract.status == "legal_review"  # the transition committed
    notification = Notification.objects.get(recipient=jurist, verb="contract_to_review")
    assert (notification.email_status, notification.email_attempts) == ("pending", 0)
    time.sleep(1)
    notification.refresh_from_db()
    assert notification.email_status == "pending"  # nothing was queued: it waits for the sweep

    # Too recent for the sweep (it might still be on its way)...
    assert notification_tasks.sweep_pending() == 0
    # ...until it is older than the sweep's cut-off.
    Notification.objects.filter(pk=notification.pk).update(created_at=F("created_at") - timedelta(seconds=45))
    assert notification_tasks.sweep_pending() == 1

    wait_until(
        lambda: Notification.objects.filter(pk=notification.pk, email_status="sent").exists(),
        celery_worker,
        "the swept notification",
    )
