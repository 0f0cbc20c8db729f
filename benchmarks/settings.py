"""Settings of `make bench`: the production shape (PostgreSQL, Redis, a real worker, DEBUG off, persistent
database connections) without what needs a real deployment (HTTPS redirect, SMTP server, secrets).

The harness sets DATABASE_URL (the dedicated `tandem_bench` database unless overridden), PRIVATE_STORAGE_ROOT
(a temporary directory) and BENCH_QUEUE before Django reads this module; the gunicorn and Celery processes it
starts get the same environment.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import env, without_jit

DEBUG = False
DATABASES = {"default": without_jit(env.db("DATABASE_URL"))}
# As in production: a connection kept per thread, so a request does not pay for a new one.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# "testserver": the harness's in-process django.test.Client.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# No collectstatic for a benchmark: static files (never requested by it) would come from the finders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

CELERY_TASK_ALWAYS_EAGER = False
# Its own queue, so a bench worker never takes another process's tasks (nor the reverse).
CELERY_TASK_DEFAULT_QUEUE = env("BENCH_QUEUE", default="tandem-bench")
# No SMTP server here: delivery stops at Django's mail API (the time to an SMTP relay is not the budget's).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
