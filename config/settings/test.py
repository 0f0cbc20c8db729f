"""Test settings: the real PostgreSQL and Redis when reachable, SQLite otherwise (service-bound tests skip).

With TANDEM_REQUIRE_SERVICES=1 (CI) an unreachable service is an error, not a skip.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import environ

from .base import *  # noqa: F403
from .base import BASE_DIR, env, without_jit


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    try:
        with socket.create_connection((host, parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


REQUIRE_SERVICES = env.bool("TANDEM_REQUIRE_SERVICES", default=False)
_database_url = env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tandem")
POSTGRES_AVAILABLE = _database_url.startswith("postgres") and _reachable(_database_url, 5432)
REDIS_AVAILABLE = _reachable(env("REDIS_URL", default="redis://127.0.0.1:6379/0"), 6379)

if REQUIRE_SERVICES and not (POSTGRES_AVAILABLE and REDIS_AVAILABLE):
    raise RuntimeError(
        "TANDEM_REQUIRE_SERVICES=1 but "
        + ", ".join(n for n, ok in (("PostgreSQL", POSTGRES_AVAILABLE), ("Redis", REDIS_AVAILABLE)) if not ok)
        + " unreachable"
    )

if POSTGRES_AVAILABLE:
    DATABASES = {"default": without_jit(environ.Env.db_url_config(_database_url))}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "var" / "test.sqlite3")}}

# Unit tests run tasks in-process; the worker tests switch this off (TANDEM_TEST_EAGER=0 for the worker
# subprocess, app.conf in the test process) and start a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("TANDEM_TEST_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# One queue per pytest-xdist worker (gw0, gw1…), so that a worker test's Celery worker takes only its own tasks.
# The worker subprocesses the tests start get their queue in TANDEM_TEST_QUEUE, without PYTEST_XDIST_WORKER.
CELERY_TASK_DEFAULT_QUEUE = "-".join(
    filter(None, [os.environ.get("TANDEM_TEST_QUEUE", "tandem-test"), os.environ.get("PYTEST_XDIST_WORKER")])
)
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 30}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The worker tests hand the test's temporary storage root to the worker subprocess.
PRIVATE_STORAGE_ROOT = Path(env("TANDEM_TEST_PRIVATE_ROOT", default=str(BASE_DIR / "var" / "test-private")))
STORAGES = {
    **STORAGES,  # noqa: F405
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT), "base_url": None},
    },
}
AXES_ENABLED = True
DEBUG = False

# Serve static files from the finders (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
