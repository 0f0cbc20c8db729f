# Tandem web, worker and beat image (production shape).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PYTHONPATH=/app

# WeasyPrint (Pango, HarfBuzz subsetting, a font with French typography) and upload sniffing.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core libmagic1 gettext \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 tandem
WORKDIR /app
# Dependencies first (cached while pyproject.toml is unchanged), then the code, run from /app.
COPY pyproject.toml README.md ./
RUN pip install .
COPY . .
RUN mkdir -p /srv/tandem/private && chown -R tandem:tandem /srv/tandem

# collectstatic needs settings but no real secret or database.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret-0123456789-abcdefghijklmnopqrstuvwxyz \
    DJANGO_ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput

USER tandem
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
