"""Settings shared by every environment. One environment variable per integration (twelve-factor)."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-please-0123456789")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_filters",
    "simple_history",
    "axes",
    "csp",
    "accounts",
    "notifications",
    "suppliers",
    "procurement",
    "contracts",
    "execution",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.FrenchFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.IdleSessionMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "notifications.context_processors.inbox",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]


def without_jit(database: dict) -> dict:
    """PostgreSQL compiles a query with JIT when its estimated cost is high, which the kept-figures queries' can be
    while they read a few hundred rows: half a second of compilation for milliseconds of work. Short queries are
    all this application runs, so JIT is off for its connections."""
    if "postgresql" in database["ENGINE"]:
        options = database.setdefault("OPTIONS", {})
        options["options"] = " ".join(filter(None, [options.get("options", ""), "-c jit=off"]))
    return database


DATABASES = {"default": without_jit(env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.RolesWithUserBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "procurement:case_list"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes: lock an account from one IP after repeated failures, for a while, never forever.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
# The same client address as the audit trail: X-Forwarded-For only from TRUSTED_PROXIES, so a forged header
# cannot give an attacker a fresh address (and fresh attempts) at each try.
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_ip"

SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# Activity pushes the idle deadline back, the session row written at most once a minute (IdleSessionMiddleware).
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded evidence and rendered contracts live outside any public URL; views check permissions.
PRIVATE_STORAGE_ROOT = Path(env("PRIVATE_STORAGE_ROOT", default=str(BASE_DIR / "var" / "private")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# PAdES seal of signed contracts: a PKCS#12 file (key + certificate) provided by the deployment; "" = no seal.
TANDEM_SIGNING_PKCS12 = env("TANDEM_SIGNING_PKCS12", default="")
TANDEM_SIGNING_PASSPHRASE = env("TANDEM_SIGNING_PASSPHRASE", default="")

# Proxies whose X-Forwarded-For we believe (addresses). Empty: REMOTE_ADDR only.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tandem <tandem@localhost>")

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
# Redis redelivers an unacknowledged task only after this delay; keep ETAs shorter than it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A publish to an unreachable broker fails at once instead of retrying for ~6 s: it runs in the request,
    # after commit, once per side effect (the sweeps re-queue). The worker's reconnection loop is not affected.
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# None: a worker that lost Redis keeps reconnecting (with 1 it exited two seconds into an outage, and the
# outbox waited for someone to restart it — tests/test_faults.py). Publishing is not affected: it fails fast
# (TASK_PUBLISH_RETRY off) and the sweeps re-queue.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = "Europe/Paris"
CELERY_BEAT_SCHEDULE = {
    "sweep-notifications": {"task": "notifications.tasks.sweep_pending", "schedule": 60.0},
    "sweep-contract-documents": {"task": "contracts.tasks.sweep_pending_documents", "schedule": 60.0},
    "overdue-cases": {"task": "procurement.tasks.notify_overdue_cases", "schedule": crontab(minute=5)},
    "expiring-supplier-documents": {
        "task": "procurement.tasks.remind_expiring_documents",
        "schedule": crontab(hour=7, minute=0),
    },
    "director-digest": {"task": "dashboard.tasks.send_director_digest", "schedule": crontab(hour=7, minute=30)},
    "compact-dashboard-figures": {"task": "dashboard.tasks.compact_figures", "schedule": 60.0},
    "tacit-admissions": {"task": "execution.tasks.record_tacit_admissions", "schedule": crontab(hour=6, minute=0)},
    "vigilance-renewals": {"task": "execution.tasks.remind_vigilance_renewals", "schedule": crontab(hour=7, minute=10)},
}

# --- Tandem ---------------------------------------------------------------------------------
# Target duration of each stage of a case (hours); a case past it is "overdue".
STAGE_TARGET_HOURS = {
    "need": env.int("TARGET_HOURS_NEED", default=4),
    "vetting": env.int("TARGET_HOURS_VETTING", default=12),
    "norm_check": env.int("TARGET_HOURS_NORM_CHECK", default=12),
    "negotiation": env.int("TARGET_HOURS_NEGOTIATION", default=24),
    "contract": env.int("TARGET_HOURS_CONTRACT", default=24),
}
# The urgency weakens with time: warn past this many days since the triggering event.
URGENCY_WARNING_DAYS = env.int("URGENCY_WARNING_DAYS", default=90)
DEFAULT_VAT_RATE = Decimal(env("DEFAULT_VAT_RATE", default="0.20"))
# Execution (DOMAIN.md §5, §2): admission deemed after this many days without a decision; payment period of
# local authorities; late-payment interest (ECB main refinancing rate + 8 points, to confirm: 2.15 % + 8) and
# the fixed recovery fee (D2192-35).
TACIT_ADMISSION_DAYS = env.int("TACIT_ADMISSION_DAYS", default=15)
PAYMENT_PERIOD_DAYS = env.int("PAYMENT_PERIOD_DAYS", default=30)
LATE_PAYMENT_RATE = Decimal(env("LATE_PAYMENT_RATE", default="0.1015"))
LATE_PAYMENT_FIXED_FEE = Decimal(env("LATE_PAYMENT_FIXED_FEE", default="40.00"))
# Supplier vetting (DOMAIN.md §3).
# Months a document stays valid after its issue date, by kind (URSSAF: 6 months, D8222-5). The tax certificate
# expires on 31 December of its issue year (SupplierDocument.computed_expiry).
SUPPLIER_DOCUMENT_VALIDITY_MONTHS = {
    "urssaf": 6,
    "kbis": env.int("KBIS_VALIDITY_MONTHS", default=3),
}
# The purchasing team is reminded of documents expiring within this many days.
DOCUMENT_REMINDER_DAYS = env.int("DOCUMENT_REMINDER_DAYS", default=15)
# A sanctions screening older than this is re-run before a vetting decision.
SANCTIONS_SCREENING_MAX_AGE_DAYS = env.int("SANCTIONS_SCREENING_MAX_AGE_DAYS", default=7)
# Similarity (0-100, accents, case and word order ignored) from which a name is a possible match.
SANCTIONS_MATCH_THRESHOLD = env.int("SANCTIONS_MATCH_THRESHOLD", default=88)
# Red flags: a company younger than this is "recently created"; a unit price above this multiple
# of the reference price is flagged.
RED_FLAG_RECENT_COMPANY_MONTHS = env.int("RED_FLAG_RECENT_COMPANY_MONTHS", default=12)
RED_FLAG_PRICE_RATIO = Decimal(env("RED_FLAG_PRICE_RATIO", default="3"))
# Size of the director's overview lists.
DASHBOARD_LIST_SIZE = 10
# A rendered page of the case list is kept (per process) until the cases change, the minute turns, or this many
# seconds pass (procurement.list_cache); 0 renders it on every request. PostgreSQL only.
CASE_LIST_CACHE_SECONDS = env.int("CASE_LIST_CACHE_SECONDS", default=120)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 1000},  # kept case-list pages, about 60 KB each
    }
}
# Seconds between two refreshes of the dashboard (htmx polling, pausable by the user).
DASHBOARD_REFRESH_SECONDS = env.int("DASHBOARD_REFRESH_SECONDS", default=60)
# The dashboard lists the obligations overdue or due within this many days.
DASHBOARD_OBLIGATION_DAYS = env.int("DASHBOARD_OBLIGATION_DAYS", default=30)
# Décret 2020-281: imports of masks above this many units per quarter and per legal person could be
# requisitioned by the State, from 20 March to 31 May 2020 (DOMAIN.md §1).
REQUISITION_UNITS_PER_QUARTER = 5_000_000
REQUISITION_PERIOD = (date(2020, 3, 20), date(2020, 5, 31))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Security headers (CSP without unsafe-inline) --------------------------------------------
from csp.constants import NONCE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": ["'none'"],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
AXES_VERBOSE = False
