"""Benchmarks with real processes: a Celery worker (notification latency) and gunicorn (throughput).

Both processes get the harness's environment (benchmarks.settings, the bench database, its own queue), and are
stopped by their process id when the benchmark ends, whatever happens.
"""

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import redis
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benchmarks.report import Measure, Result, percentile
from notifications.models import Notification
from notifications.services import notification_deliver, notify

ROOT = Path(__file__).resolve().parents[1]
NOTIFICATION_P95_MS = 100.0  # DESIGN.md §8
LIST_VS_TRIVIAL = 0.5
CLIENTS = 8
START_TIMEOUT = 60


@contextmanager
def _process(command: list[str], *, ready, name: str, env: dict | None = None):
    """Start `command` (output to a temporary log), wait until `ready(log_text)` holds, stop it at the end."""
    with tempfile.NamedTemporaryFile(prefix=f"tandem-bench-{name}-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        # The servers' own warnings (e.g. Celery's about running as root) are theirs to log, not errors here.
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"} | (env or {})
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready(log_path.read_text(errors="replace")):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}): {log_path.read_text(errors='replace')[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log_path.unlink(missing_ok=True)


# --- notification: commit → delivered by a running worker ---------------------------------------
def _purge(queue: str) -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # kombu's Redis transport keeps one list per priority step next to the queue's own.
    client.delete(queue, *(f"{queue}\x06\x16{p}" for p in range(1, 10)))
    client.close()


def notification(subjects, *, count: int) -> Result:
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    recipient = subjects.director
    _purge(queue)
    worker = [
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
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]

    def delivered(pk: int, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent_at = Notification.objects.filter(pk=pk).values_list("sent_at", flat=True).first()
            if sent_at is not None:
                return sent_at
            time.sleep(0.001)
        raise RuntimeError(f"notification {pk} not delivered within {timeout:.0f} s")

    def through_worker() -> float:
        committed = []
        with transaction.atomic():
            # Registered first, so it runs right after COMMIT, before the publication to the broker.
            transaction.on_commit(lambda: committed.append(timezone.now()))
            (row,) = notify(recipients=[recipient], verb="benchmark", text="Benchmark notification")
        return (delivered(row.pk) - committed[0]).total_seconds()

    def in_process() -> float:
        row = Notification.objects.create(
            recipient=recipient, verb="benchmark", text="Benchmark notification", created_at=timezone.now()
        )
        committed = timezone.now()
        notification_deliver(notification_id=row.pk)
        return (Notification.objects.get(pk=row.pk).sent_at - committed).total_seconds()

    with _process(worker, ready=lambda log: " ready." in log, name="worker", env={"LOG_LEVEL": "INFO"}):
        through_worker()  # warm-up: the worker's first task opens its connections
        latencies, baseline = [], []
        for index in range(count):
            latencies.append(through_worker())
            baseline.append(in_process())
            time.sleep(0.005 * (index % 3))  # not in lockstep with the worker's polling of Redis
    result = Result(
        "notification",
        "Notification commit → delivered (real worker)",
        Measure.of("through Redis and a Celery worker", latencies),
        Measure.of("notification_deliver in-process", baseline),
        extra={"count": count, "p50_ms": percentile(latencies, 0.5) * 1000},
    )
    result.judge(result.subject.p95_ms, at_most=NOTIFICATION_P95_MS, unit="ms")
    result.figure_text = f"p95 {result.figure:.1f} ms"
    return result


# --- throughput: gunicorn under 8 concurrent clients --------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_cookies(user, count: int) -> list[dict]:
    """One logged-in session per client, as real users have (a session is saved when its idle deadline moves:
    one shared row would serialise the clients on its lock then)."""
    cookies = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        cookies.append({settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value})
    return cookies


def _hammer(port: int, path: str, cookies: list[dict], seconds: float) -> tuple[int, int, list[float], float]:
    """CLIENTS threads GET `path` in a loop (keep-alive, cookies kept like a browser's) for `seconds`.
    Returns (answers 200, other answers, latencies, elapsed)."""
    lock = threading.Lock()
    totals = {"ok": 0, "errors": 0, "latencies": []}
    start = threading.Barrier(len(cookies) + 1)

    def client(jar: dict) -> None:
        ok = errors = 0
        latencies = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies.append(time.perf_counter() - began)
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    jar[name] = morsel.value
            if response.status == 200:
                ok += 1
            else:
                errors += 1
        connection.close()
        with lock:
            totals["ok"] += ok
            totals["errors"] += errors
            totals["latencies"] += latencies

    threads = [threading.Thread(target=client, args=(dict(jar),)) for jar in cookies]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return totals["ok"], totals["errors"], totals["latencies"], time.perf_counter() - began


def throughput(subjects, *, duration: float, workers: int = 2, threads: int = 4) -> Result:
    """gunicorn (`-w 2 --threads 4`, gthread) serving the case list to 8 clients, then /sante/ to the same
    clients with the same sessions, alternated twice; requests per second of each and their ratio. Then the list
    again from a server that renders it on every request (reported beside the ratio)."""
    port = _free_port()
    server = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "info",
    ]
    cookies = _session_cookies(subjects.buyer, CLIENTS)
    paths = {"list": reverse("procurement:case_list"), "trivial": reverse("health")}
    figures = {name: {"ok": 0, "errors": 0, "latencies": [], "seconds": 0.0} for name in paths}

    def booted(log: str) -> bool:
        return log.count("Booting worker") >= workers and _answers(port, paths["trivial"])

    with _process(server, ready=booted, name="gunicorn"):
        _hammer(port, paths["list"], cookies, min(1.0, duration / 4))  # warm-up: imports, connections, templates
        for _round in range(2):
            for name, path in paths.items():
                ok, errors, latencies, seconds = _hammer(port, path, cookies, duration / 2)
                figure = figures[name]
                figure["ok"] += ok
                figure["errors"] += errors
                figure["latencies"] += latencies
                figure["seconds"] += seconds

    # The list rendered on every request (no kept pages), against the same trivial figure.
    with _process(server, ready=booted, name="gunicorn-uncached", env={"CASE_LIST_CACHE_SECONDS": "0"}):
        _hammer(port, paths["list"], cookies, min(1.0, duration / 4))
        ok, _errors, _latencies, seconds = _hammer(port, paths["list"], cookies, duration / 2)
    rendered_per_s = ok / seconds

    measures = {}
    for name, label in (("list", "case list, first page (kept page)"), ("trivial", "/sante/, same sessions")):
        figure = figures[name]
        if not figure["ok"] or figure["errors"] > 0.01 * (figure["ok"] + figure["errors"]):
            raise RuntimeError(f"{label}: {figure['ok']} answers 200 and {figure['errors']} errors")
        measure = Measure.of(label, figure["latencies"], errors=figure["errors"], elapsed_s=figure["seconds"])
        measure.requests_per_s = figure["ok"] / figure["seconds"]
        measures[name] = measure
    result = Result(
        "throughput",
        f"Throughput, {CLIENTS} clients, gunicorn -w {workers} --threads {threads}",
        measures["list"],
        measures["trivial"],
        extra={
            "clients": CLIENTS,
            "workers": workers,
            "threads": threads,
            "duration_s": duration,
            "rendered_every_time_requests_per_s": rendered_per_s,
        },
    )
    result.judge(measures["list"].requests_per_s / measures["trivial"].requests_per_s, at_least=LIST_VS_TRIVIAL)
    result.notes.append("Result: case list requests/s ÷ trivial view requests/s")
    result.notes.append(
        f"the case list rendered on every request (CASE_LIST_CACHE_SECONDS=0): {rendered_per_s:.1f} req/s, "
        f"{rendered_per_s / measures['trivial'].requests_per_s:.2f}× the trivial view's"
    )
    return result


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
