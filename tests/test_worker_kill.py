"""A worker SIGKILLed in the middle of a contract render: the retry stores exactly one PDF for that version.

The worker subprocess runs in its own process group; rendering in it is slowed down (tests/slow_render_worker.py)
so the kill lands after the PDF was produced in memory and before anything was stored. Two roads bring the
render back: Redis redelivers the unacknowledged task (acks_late) once its visibility timeout expires, and the
periodic sweep re-queues a document still pending. Either alone, or both one after the other, must end with
one file, one "document_rendered" event and a SHA-256 that matches the bytes on disk.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import F

from config.celery import app
from contracts import tasks as contract_tasks
from contracts.models import ContractDocument
from procurement.models import CaseEvent
from tests.factories import make_case
from tests.slow_render_worker import unacked_keys

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 60
RENDER_TASK = "contracts.tasks.render_contract_document"
# Short enough for the test, long enough that the recovery worker never redelivers its own in-flight task.
REDELIVERY_VISIBILITY = "5"


def _broker_keys(queue: str) -> list[str]:
    # kombu's Redis transport: one list per priority step, the exchange bindings, and (tests/slow_render_worker.py)
    # this test's own keys for unacknowledged messages.
    return [
        queue,
        *(f"{queue}\x06\x16{p}" for p in range(1, 10)),
        f"_kombu.binding.{queue}",
        f"_kombu.binding_permanent.{queue}",
        *unacked_keys(queue).values(),
    ]


def _database_url() -> str:
    db = connection.settings_dict
    assert db["NAME"].startswith("test_"), db["NAME"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield client
    client.close()


@pytest.fixture
def kill_queue(broker):
    """A queue of its own, so the main worker test's worker and queue are never involved; emptied both ways."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE + "-kill"
    previous = (app.conf.task_default_queue, app.conf.task_always_eager)
    broker.delete(*_broker_keys(queue))
    # This process publishes to the broker (not inline) and routes to that queue.
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield queue
    app.conf.task_default_queue, app.conf.task_always_eager = previous
    broker.delete(*_broker_keys(queue))


@pytest.fixture
def private_storage(settings, tmp_path):
    """The test process and the workers share one storage root (overrides the conftest one)."""
    root = tmp_path / "worker-private"
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


class Worker:
    def __init__(self, process: subprocess.Popen, log_path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sigkill(self) -> None:
        """The whole process group dies at once, as when the machine or container is killed: no cleanup runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), falling back to SIGKILL."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.sigkill()


@pytest.fixture
def start_worker(kill_queue, private_storage, tmp_path):
    """Starts a worker on the kill queue (see tests/slow_render_worker.py for the extra env); all stopped at the end."""
    database_url = _database_url()
    workers: list[Worker] = []

    def start(label: str, **extra_env: str) -> Worker:
        log_path = tmp_path / f"worker-{label}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("TANDEM_KILL_")}
        env.pop("CELERY_BROKER_URL", None)
        env.pop("PYTEST_XDIST_WORKER", None)  # the kill queue already is this pytest worker's
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=database_url,
            TANDEM_TEST_QUEUE=kill_queue,
            TANDEM_TEST_EAGER="0",
            TANDEM_TEST_PRIVATE_ROOT=str(private_storage),
            PYTHONUNBUFFERED="1",
            **extra_env,
        )
        command = [
            sys.executable,
            "-m",
            "tests.slow_render_worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            kill_queue,
            "--loglevel=INFO",
            "-n",
            f"{kill_queue}-{label}@%h",
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
                start_new_session=True,  # its own process group: killpg reaches every process it started
            )
        worker = Worker(process, log_path)
        workers.append(worker)
        _wait_until(lambda: " ready." in worker.log() or process.poll() is not None, worker, f"worker {label}")
        if process.poll() is not None:
            pytest.fail(f"worker {label} exited ({process.returncode}):\n{worker.log()}")
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


def _wait_until(predicate, worker: Worker, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{worker.log()[-4000:]}")


def _queued_render_task_ids(broker, queue: str) -> list[str]:
    headers = [json.loads(raw)["headers"] for raw in broker.lrange(queue, 0, -1)]
    return [header["id"] for header in headers if header["task"] == RENDER_TASK]


def _unacked_task_ids(broker, queue: str) -> list[str]:
    """Tasks a worker received and never acknowledged (what Redis redelivers after the visibility timeout)."""
    # Each entry is [message, exchange, routing key].
    return [json.loads(raw)[0]["headers"]["id"] for raw in broker.hvals(unacked_keys(queue)["unacked_key"])]


def _succeeded(worker: Worker, task_id: str) -> bool:
    return f"{RENDER_TASK}[{task_id}] succeeded" in worker.log()


def _stored_files(root) -> list:
    """Every file under the contracts' storage directory, half-written ones included."""
    directory = root / "contracts"
    return (
        sorted(path.relative_to(root) for path in directory.rglob("*") if path.is_file()) if directory.exists() else []
    )


def _rendered_events(document: ContractDocument) -> int:
    return CaseEvent.objects.filter(contract=document.contract_id, verb="document_rendered").count()


def _kill_mid_render(buyer, start_worker, broker, queue: str, root, tmp_path) -> tuple[ContractDocument, str]:
    """Award a contract, SIGKILL the worker while it renders version 1; returns the document and the lost task's id."""
    marker = tmp_path / "rendering"
    slow = start_worker("slow", TANDEM_KILL_MARKER=str(marker))
    contract = make_case(buyer, "contract", render=False).contracts.get()  # the award queues version 1
    _wait_until(marker.exists, slow, "the slow worker to be in the middle of the render")
    slow.sigkill()

    document = contract.documents.get()
    assert (document.version, document.status, document.attempts) == (1, ContractDocument.Status.PENDING, 1)
    assert (document.file.name, document.sha256, document.rendered_at) == ("", "", None)
    assert _stored_files(root) == []  # no half file
    assert _rendered_events(document) == 0
    # The task is not lost: the broker still holds it, received but never acknowledged.
    lost = _unacked_task_ids(broker, queue)
    assert len(lost) == 1, lost
    assert _queued_render_task_ids(broker, queue) == []
    return document, lost[0]


def _assert_one_file(document: ContractDocument, root) -> None:
    document.refresh_from_db()
    assert document.status == ContractDocument.Status.RENDERED
    assert document.attempts == 2  # the killed attempt, then the one that stored the PDF; a duplicate claims nothing
    assert _stored_files(root) == [Path(document.file.name)]
    assert document.file.name.endswith(f"-v{document.version}.pdf")
    content = (root / document.file.name).read_bytes()
    assert content.startswith(b"%PDF-")
    assert (document.sha256, document.size) == (hashlib.sha256(content).hexdigest(), len(content))
    assert _rendered_events(document) == 1


def test_redelivered_task_stores_exactly_one_pdf(buyer, start_worker, broker, kill_queue, private_storage, tmp_path):
    document, lost_task = _kill_mid_render(buyer, start_worker, broker, kill_queue, private_storage, tmp_path)

    worker = start_worker("redelivery", TANDEM_KILL_VISIBILITY=REDELIVERY_VISIBILITY)
    _wait_until(lambda: _succeeded(worker, lost_task), worker, "the redelivered render")
    _wait_until(lambda: not _unacked_task_ids(broker, kill_queue), worker, "the acknowledgement")

    _assert_one_file(document, private_storage)
    assert broker.llen(kill_queue) == 0


def test_sweep_then_redelivery_store_exactly_one_pdf(
    buyer, start_worker, broker, kill_queue, private_storage, tmp_path
):
    document, lost_task = _kill_mid_render(buyer, start_worker, broker, kill_queue, private_storage, tmp_path)

    # The periodic sweep re-queues a document still pending after 60 s: a second task for the same version.
    ContractDocument.objects.filter(pk=document.pk).update(created_at=F("created_at") - timedelta(seconds=61))
    assert contract_tasks.sweep_pending_documents() == 1
    (swept_task,) = _queued_render_task_ids(broker, kill_queue)
    assert swept_task != lost_task

    # A worker with the production visibility timeout (600 s): only the swept task runs, the lost one stays
    # unacknowledged.
    worker = start_worker("sweep")
    _wait_until(lambda: _succeeded(worker, swept_task), worker, "the swept render")
    worker.stop()
    _assert_one_file(document, private_storage)
    assert _unacked_task_ids(broker, kill_queue) == [lost_task]
    stored = (private_storage / document.file.name).stat()

    # Then Redis redelivers the lost task: it finds version 1 rendered and leaves the file and the trail alone.
    worker = start_worker("redelivery", TANDEM_KILL_VISIBILITY=REDELIVERY_VISIBILITY)
    _wait_until(lambda: _succeeded(worker, lost_task), worker, "the redelivered task")
    _wait_until(lambda: not _unacked_task_ids(broker, kill_queue), worker, "the acknowledgement")

    rendered_at = document.rendered_at
    _assert_one_file(document, private_storage)
    assert document.rendered_at == rendered_at
    assert (private_storage / document.file.name).stat().st_mtime_ns == stored.st_mtime_ns  # not rewritten
    assert broker.llen(kill_queue) == 0
