# Tandem — `make run` (demo on http://127.0.0.1:8000) and `make test` (the whole suite).
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BOOTSTRAP_PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3)
MANAGE := $(PY) manage.py
LOCAL := DJANGO_SETTINGS_MODULE=config.settings.local
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/tandem)
# Dummy secrets, only for `check --deploy` in `make lint`.
LINT_PRODUCTION_ENV := DJANGO_SETTINGS_MODULE=config.settings.production \
	DJANGO_SECRET_KEY=jscEKkOR-ySTNA_B8P4bGqxyL5ItGgI4UiFUHocoTNzz0tmutblr93DnvT2MSycT \
	DJANGO_ALLOWED_HOSTS=tandem.example DATABASE_URL=sqlite:////tmp/tandem-deploy-check.sqlite3

.PHONY: run test lint audit backup restore install migrate seed worker beat bench

$(PY):
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(LOCAL) $(MANAGE) migrate --noinput

seed: migrate
	$(LOCAL) $(MANAGE) seed_demo

# Embedded defaults: SQLite file, Celery tasks in-process, e-mails to the console and the inbox.
run: seed
	$(LOCAL) $(MANAGE) runserver 127.0.0.1:8000

# PostgreSQL and Redis when reachable, else SQLite with the service-bound tests skipped.
# TANDEM_REQUIRE_SERVICES=1 (from the environment) turns an unreachable service into a failure.
# One pytest process per core (up to 4; TEST_WORKERS=0 for one process), each with its own test database and
# Celery queue. `--dist load` hands the tests out in collection order, where pytest-django puts the transactional
# ones (which empty the database) last: each process runs its transactional tests after all its others.
TEST_WORKERS ?= auto
test: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=$(TEST_DATABASE_URL) \
		TANDEM_REQUIRE_SERVICES=$${TANDEM_REQUIRE_SERVICES:-0} \
		$(VENV)/bin/pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist load $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates --check
	$(LOCAL) $(MANAGE) makemigrations --check --dry-run
	$(LINT_PRODUCTION_ENV) $(MANAGE) check --deploy --fail-level WARNING
	$(LOCAL) $(MANAGE) workflow_diagram --check README.md

# Static security analysis: bandit (no medium/high finding), then pip-audit --strict against PyPI's vulnerability
# data, probed first with a package that is surely there (pip-audit alone reports "no known vulnerabilities"
# when it cannot reach it).
BANDIT_EXCLUDE := ./.venv,./tests,./node_modules,./staticfiles,./var,./backups
PIP_AUDIT_PROBE := import importlib.metadata as m, urllib.request as u; \
	u.urlopen("https://pypi.org/pypi/django/" + m.version("django") + "/json", timeout=10)
audit: $(STAMP)
	$(VENV)/bin/bandit -q -r . -x $(BANDIT_EXCLUDE) --severity-level medium --confidence-level medium
	@if $(PY) -c '$(PIP_AUDIT_PROBE)' 2>/dev/null; then \
		echo "$(VENV)/bin/pip-audit --strict --skip-editable"; \
		$(VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off; \
	else \
		echo "pip-audit skipped: the vulnerability database is unreachable"; \
	fi

# Backup and restore (README "Backup and restore"): PostgreSQL at DATABASE_URL and PRIVATE_STORAGE_ROOT.
# Settings: DJANGO_SETTINGS_MODULE from the environment (production), else the local ones.
BACKUP_SETTINGS := DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local}
backup: $(STAMP)
	$(BACKUP_SETTINGS) $(MANAGE) backup $(if $(BACKUP_DIR),--output-dir $(BACKUP_DIR))

restore: $(STAMP)
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/<timestamp> [DATABASE_URL=postgres://...]"; exit 2; }
	$(BACKUP_SETTINGS) $(MANAGE) restore $(BACKUP) $(RESTORE_ARGS)

# The production shape: a Celery worker and the (single) beat scheduler against Redis.
# Settings come from DJANGO_SETTINGS_MODULE (default: local, whose tasks run in-process unless
# CELERY_TASK_ALWAYS_EAGER=false).
worker: $(STAMP)
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: $(STAMP)
	$(VENV)/bin/celery -A config beat --loglevel=INFO

# Performance budgets (DESIGN.md §8), each against a baseline measured in the same run, on PostgreSQL and
# Redis: 10 000 generated cases in the database tandem_bench (created if missing; DATABASE_URL overrides it),
# a real Celery worker and gunicorn. Table and JSON in benchmarks/results/. Exit 1 only if a benchmark crashed.
# BENCH_ARGS="--cases 100000" (or 1000000) for the sizes the budgets are judged at; "--only dashboard" to pick.
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)
