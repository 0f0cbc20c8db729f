import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY


class FrenchFirstMiddleware:
    """French unless the user picked another language with the switch (cookie): the browser's
    Accept-Language is ignored, so an English-configured laptop in a French council still gets French."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class IdleSessionMiddleware:
    """Pushes a logged-in session's idle deadline (SESSION_COOKIE_AGE from its last save) back on activity, at
    most once every SESSION_REFRESH_SECONDS: the session row is written when the deadline is due to move, not on
    every request. A login starts the clock (`mark_login`); a session saved for another reason (a message…)
    counts as refreshed."""

    REFRESHED_AT = "_refreshed_at"

    @classmethod
    def mark_login(cls, sender, request, user, **kwargs) -> None:
        """user_logged_in receiver: the login saves the session, its deadline set from now."""
        request.session[cls.REFRESHED_AT] = int(time.time())

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:  # anonymous: nothing to keep alive
            return response
        now = int(time.time())
        if session.modified or now - session.get(self.REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS:
            session[self.REFRESHED_AT] = now  # saved by SessionMiddleware, with a new expiry
        return response
