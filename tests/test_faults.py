"""Broker faults: Redis dies while people work; nothing they did is lost, nothing is done twice.

DESIGN.md §5: every side effect is first a row (pending Notification, pending ContractDocument) written in the
transaction of the step, then queued on commit; a periodic sweep re-queues what is still pending. So with the
broker down the steps still commit, and once it is back the sweeps hand every pending row to a worker, which
sends each e-mail and renders each PDF exactly once.

The test never touches the machine's Redis (other tests use it): it runs its own `redis-server` on a free port,
without persistence, and a real Celery worker subprocess against that server and the test database. The worker
sends e-mail with Django's file backend, so the test counts the e-mails actually sent, not only row flags.
"""

import email
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import F
from kombu import pools

from config.celery import app
from contracts import services as contract_services
from contracts import tasks as contract_tasks
from contracts.models import CLAUSES, Contract, ContractDocument
from notifications import tasks as notification_tasks
from notifications.models import Notification
from procurement import services as case_services
from procurement.models import CaseEvent, PurchaseCase
from tests import factories
from tests.factories import make_case

TIMEOUT = 90
RENDER_TASK = "contracts.tasks.render_contract_document"
DELIVER_TASK = "notifications.tasks.deliver"
SWEEPS = {
    "notifications.tasks.sweep_pending": notification_tasks.sweep_pending,
    "contracts.tasks.sweep_pending_documents": contract_tasks.sweep_pending_documents,
}

# The worker: Django set up with the test settings, then e-mail written to files (one file per SMTP-like
# connection, i.e. per send_mail call) so that the test process can count them.
WORKER_SCRIPT = """
import os, sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
settings.EMAIL_FILE_PATH = os.environ["TANDEM_FAULTS_MAILDIR"]
from config.celery import app
app.conf.worker_enable_remote_control = False
app.worker_main(["worker", *sys.argv[1:]])
"""


# --- the Celery configuration DESIGN.md §5 asks for --------------------------------------------
def test_celery_settings_follow_design_section_5():
    """acks_late and reject-on-lost (a killed worker's task comes back), one task prefetched at a time, an explicit
    Redis visibility timeout longer than any retry delay, time limits, tasks that take ids, sweeps every minute."""
    from config.settings import base

    app.loader.import_default_modules()  # every app's tasks module, as a worker or beat would load them
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_time_limit <= 300
    # Production value (the test settings shorten it for the redelivery tests).
    assert base.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 600
    assert conf.broker_transport_options["visibility_timeout"] > 0
    # Publishing runs in the request after commit, once per side effect: with Redis down it must fail at once
    # (the sweep re-queues), not retry the connection for seconds each time.
    assert conf.task_publish_retry is False
    assert conf.broker_transport_options["max_retries"] == 0
    assert conf.broker_transport_options["socket_connect_timeout"] <= 5
    # A worker that lost Redis keeps reconnecting (None: no limit) instead of exiting.
    assert conf.broker_connection_max_retries is None
    assert conf.broker_connection_retry_on_startup is True

    # Every task doing outbox work is acks_late, time-limited, and retries sooner than Redis would redeliver it
    # (a retry ETA beyond the visibility timeout would be delivered twice).
    visibility = base.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for name in (RENDER_TASK, "contracts.tasks.sign_contract_document", DELIVER_TASK):
        task = app.tasks[name]
        assert task.acks_late is True, name
        longest_retry = max(task.default_retry_delay or 0, 0)
        if getattr(task, "retry_backoff", False):
            # Exponential backoff: base × 2**retries, capped by retry_backoff_max (default 600 s).
            longest_retry = min(
                int(task.retry_backoff) * 2 ** (task.max_retries - 1), getattr(task, "retry_backoff_max", 600)
            )
        assert longest_retry < visibility, (name, longest_retry)
    for name in (RENDER_TASK, "contracts.tasks.sign_contract_document"):
        task = app.tasks[name]
        assert task.time_limit, name
        assert 0 < task.soft_time_limit < task.time_limit, name

    # The beat schedule runs both outbox sweeps every 60 s, and names tasks that exist.
    schedule = settings.CELERY_BEAT_SCHEDULE
    swept = {entry["task"]: entry["schedule"] for entry in schedule.values() if entry["task"] in SWEEPS}
    assert swept == dict.fromkeys(SWEEPS, 60.0)
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


# --- helpers: a private Redis server and a worker on it ----------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A `redis-server` subprocess without persistence: killing it loses everything it held."""

    def __init__(self, port: int, log_path: Path):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start:\n{self.log_path.read_text(errors='replace')}")
                time.sleep(0.1)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save, the queues in memory are gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1

    def is_down(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return False
        except OSError:
            return True


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _database_url() -> str:
    db = connection.settings_dict
    assert db["NAME"].startswith("test_"), db["NAME"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _reset_broker_pools() -> None:
    """Forget pooled broker connections, so the next publish connects to the current broker_url afresh."""
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def publishing_to(url: str, queue: str):
    """This process publishes (not inline) to `url`, on `queue`."""
    previous = (app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager)
    _reset_broker_pools()
    app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager = url, queue, False
    try:
        yield
    finally:
        _reset_broker_pools()
        app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager = previous


def _wait_until(predicate, worker: Worker, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{worker.log()[-5000:]}")


def _sent_emails(maildir: Path) -> Counter:
    """(recipient, subject) of every e-mail the worker sent, counted."""
    sent = Counter()
    separator = b"\n" + b"-" * 79 + b"\n"
    for path in sorted(maildir.glob("*.log")):
        for chunk in path.read_bytes().split(separator):
            if chunk.strip():
                message = email.message_from_bytes(chunk, policy=policy.default)
                sent[(str(message["To"]).strip(), str(message["Subject"]).strip())] += 1
    return sent


# --- the outage --------------------------------------------------------------------------------
@pytest.fixture
def shared_storage(settings, tmp_path):
    """The test process and the worker share one storage root (overrides the conftest one)."""
    root = tmp_path / "shared-private"
    root.mkdir()
    settings.PRIVATE_STORAGE_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(_free_port(), tmp_path / "redis.log")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def maildir(tmp_path):
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def worker_on(redis_server, shared_storage, maildir, tmp_path):
    """A real worker consuming this test's own queue on the private Redis server."""
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-faults"
    log_path = tmp_path / "worker.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TANDEM_KILL_")}
    env.pop("CELERY_BROKER_URL", None)
    env.pop("PYTEST_XDIST_WORKER", None)  # the queue below already is this pytest worker's
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_server.url,
        TANDEM_TEST_QUEUE=queue,
        TANDEM_TEST_EAGER="0",
        TANDEM_TEST_PRIVATE_ROOT=str(shared_storage),
        TANDEM_FAULTS_MAILDIR=str(maildir),
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        "-c",
        WORKER_SCRIPT,
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
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path)
    worker.queue = queue
    try:
        _wait_until(lambda: " ready." in worker.log() or process.poll() is not None, worker, "the worker")
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}):\n{worker.log()}")
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def team(buyer, jurist, director):
    factories.SignatureDelegationFactory(delegate=director)
    return {"buyer": buyer, "jurist": jurist, "director": director}


def _prepare(team) -> dict:
    """Cases and contracts at the stages the outage will move them from (built with the broker up, tasks inline)."""
    buyer = team["buyer"]
    prepared = {
        "to_submit": [make_case(buyer, "need", title=f"Blouses lot {i}") for i in range(3)],
        "to_award": [make_case(buyer, "negotiation", title=f"Gants lot {i}") for i in range(3)],
        "to_review": [make_case(buyer, "contract", title=f"Masques lot {i}").contracts.get() for i in range(3)],
        "to_amend": [make_case(buyer, "contract", title=f"Surblouses lot {i}").contracts.get() for i in range(2)],
        "to_approve": [],
        "to_cancel": [make_case(buyer, "need", title="Charlottes")],
    }
    for i in range(3):
        contract = make_case(buyer, "contract", title=f"FFP2 lot {i}").contracts.get()
        prepared["to_approve"].append(
            contract_services.contract_submit_for_review(
                contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
            )
        )
    assert not ContractDocument.objects.filter(status=ContractDocument.Status.PENDING).exists()
    assert not Notification.objects.filter(email_status=Notification.EmailStatus.PENDING).exists()
    return prepared


def _work_during_outage(prepared, team) -> int:
    """Every kind of step with an outbox side effect, as users would take them; returns how many were taken."""
    buyer, jurist, director = team["buyer"], team["jurist"], team["director"]
    steps = 0
    for case in prepared["to_submit"]:
        case_services.case_submit(case=case, actor=buyer)
        steps += 1
    for case in prepared["to_award"]:
        offer = case.offers.get()
        contract_services.case_award(
            case=case, actor=buyer, awards={offer.pk: offer.quantity}, reason="Seul fournisseur conforme."
        )
        steps += 1
    for contract in prepared["to_review"]:
        contract_services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        )
        steps += 1
    for contract in prepared["to_approve"]:
        contract_services.contract_approve(
            contract=contract, actor=jurist, rendered_sha256=contract.current_document.sha256, clauses=list(CLAUSES)
        )
        steps += 1
    for contract in prepared["to_amend"]:
        contract_services.contract_amend(
            contract=contract,
            actor=buyer,
            quantity=contract.quantity - 1000,
            unit_price=contract.unit_price,
            comment="Quantité ajustée au besoin restant.",
            terms_version=contract.terms_version,
        )
        steps += 1
    for case in prepared["to_cancel"]:
        contract_services.case_cancel(case=case, actor=director, comment="Besoin couvert par l'État.")
        steps += 1
    return steps


def _stored_pdfs(root: Path) -> list[Path]:
    directory = root / "contracts"
    return sorted(p.relative_to(root) for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_redis_outage_delays_the_work_and_loses_none_of_it(
    team, redis_server, worker_on, shared_storage, maildir, mailoutbox
):
    prepared = _prepare(team)
    last_notification = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_event = CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    documents_before = set(ContractDocument.objects.values_list("pk", flat=True))
    files_before = _stored_pdfs(shared_storage)
    mailoutbox.clear()

    with publishing_to(redis_server.url, worker_on.queue):
        # Fault 1: the broker dies (SIGKILL, no persistence) while the users keep working.
        redis_server.kill()
        assert redis_server.is_down()
        steps = _work_during_outage(prepared, team)

        # Every step committed, with its audit event, although nothing could be queued.
        assert {PurchaseCase.objects.get(pk=c.pk).status for c in prepared["to_submit"]} == {"vetting"}
        assert {PurchaseCase.objects.get(pk=c.pk).status for c in prepared["to_award"]} == {"contract"}
        assert {Contract.objects.get(pk=c.pk).status for c in prepared["to_review"]} == {"legal_review"}
        assert {Contract.objects.get(pk=c.pk).status for c in prepared["to_approve"]} == {"approved"}
        assert [Contract.objects.get(pk=c.pk).terms_version for c in prepared["to_amend"]] == [2, 2]
        assert PurchaseCase.objects.get(pk=prepared["to_cancel"][0].pk).status == "cancelled"
        verbs = ["submit", "award", "submit_for_review", "approve", "amend", "cancel"]
        assert CaseEvent.objects.filter(verb__in=verbs, pk__gt=last_event).count() == steps

        # Their side effects wait as rows: e-mails to send and PDFs to render, none attempted.
        notifications = Notification.objects.filter(pk__gt=last_notification)
        documents = ContractDocument.objects.exclude(pk__in=documents_before)
        # 3 submissions to the jurist, 3 approvals to the buyer and to the signatory, 1 cancellation to the jurist.
        assert notifications.count() == 3 + 3 * 2 + 1
        assert documents.count() == 3 + 2  # one per awarded contract, one new version per amended contract
        assert set(notifications.values_list("email_status", "email_attempts")) == {("pending", 0)}
        assert set(documents.values_list("status", "attempts")) == {("pending", 0)}
        assert mailoutbox == []
        assert _sent_emails(maildir) == Counter()
        assert _stored_pdfs(shared_storage) == files_before

        # Meanwhile the worker keeps trying to reconnect; it does not give up and exit.
        _wait_until(
            lambda: worker_on.log().count("consumer: Cannot connect to") >= 3 or worker_on.process.poll() is not None,
            worker_on,
            "the worker's reconnection attempts",
        )
        assert worker_on.process.poll() is None, f"the worker exited during the outage:\n{worker_on.log()[-3000:]}"

        # The broker comes back, empty, on the same address; the worker reconnects by itself.
        redis_server.start()
        _reset_broker_pools()
        # The sweeps only take rows old enough not to be still on their way; age them past the cut-off.
        notifications.update(created_at=F("created_at") - timedelta(minutes=2))
        documents.update(created_at=F("created_at") - timedelta(minutes=2))
        # Fault 2: two sweeps run back to back (as when beat fires while the previous sweep's tasks are queued):
        # every row is queued twice.
        queued = [sweep() for sweep in SWEEPS.values() for _round in range(2)]
        assert sum(queued) == 2 * (notifications.count() + documents.count())

        _wait_until(
            lambda: (
                not notifications.filter(email_status="pending").exists()
                and not documents.filter(status="pending").exists()
            ),
            worker_on,
            "the swept notifications and documents",
        )
        # Let the duplicate tasks run too before counting: every queued task ends, none fails.
        _wait_until(lambda: worker_on.log().count(" succeeded in ") == sum(queued), worker_on, "the duplicate tasks")
        assert " raised unexpected" not in worker_on.log()

    # Each e-mail sent exactly once, to its recipient, with its text; nothing sent by this process.
    assert set(notifications.values_list("email_status", "email_attempts")) == {("sent", 1)}
    assert not notifications.filter(sent_at=None).exists()
    expected = Counter(
        (n.recipient.email, " ".join(f"[Tandem] {n.text}".split())[:200])
        for n in notifications.select_related("recipient")
    )
    assert _sent_emails(maildir) == expected
    assert mailoutbox == []

    # Each document rendered once: one file per version, one "document_rendered" event, attempts 1.
    assert set(documents.values_list("status", "attempts")) == {("rendered", 1)}
    new_files = sorted(set(_stored_pdfs(shared_storage)) - set(files_before))
    assert new_files == sorted(Path(d.file.name) for d in documents)
    for document in documents:
        events = CaseEvent.objects.filter(contract=document.contract_id, verb="document_rendered")
        assert events.filter(comment__startswith=f"v{document.version} ").count() == 1
    assert redis_server.kills == 1
