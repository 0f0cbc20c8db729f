"""The case list's rendered rows kept between requests, until what they show changes.

A page is kept under the list's version (a PostgreSQL sequence that every change to the cases, their lines,
offers, suppliers, buyers or flags advances: migration 0011), the minute (the time in stage and the overdue
badges follow the clock), the stage targets, the user (what they may see and do), the language and the query
string. Nothing has
to be invalidated: a change advances the version, and pages of older versions are never asked for again and
expire. Where the database has no version (the SQLite demo), every request renders the list.

The triggers advance the version when a change is made and again when its transaction commits: a page rendered
meanwhile (without the change, not yet committed) is kept under a version no request asks for after the commit.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone, translation

SEQUENCE = "procurement_case_list_version"


def version() -> int | None:
    """The list's current version; None where it is not kept (not PostgreSQL) or the cache is off."""
    if connection.vendor != "postgresql" or not settings.CASE_LIST_CACHE_SECONDS:
        return None
    with connection.cursor() as cursor:
        # Before its first nextval a sequence shows the value that call will return: 0 until then.
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SEQUENCE}")  # noqa: S608  # nosec B608
        return cursor.fetchone()[0]


def rendered(request, render) -> str:
    """The list's HTML for this request: kept, or `render()`'s result (then kept)."""
    current = version()
    if current is None:
        return render()
    query = hashlib.sha256(request.GET.urlencode().encode()).hexdigest()[:32]
    minute = int(timezone.now().timestamp() // 60)
    targets = hashlib.sha256(repr(sorted(settings.STAGE_TARGET_HOURS.items())).encode()).hexdigest()[:8]
    key = f"case-list:{current}:{minute}:{targets}:{request.user.pk}:{translation.get_language()}:{query}"
    html = cache.get(key)
    if html is None:
        html = render()
        cache.set(key, html, settings.CASE_LIST_CACHE_SECONDS)
    return html
