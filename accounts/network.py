from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the X-Forwarded-For client only when the request came through a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if remote and forwarded and remote in settings.TRUSTED_PROXIES:
        # The right-most address not belonging to a trusted proxy is the client.
        for candidate in reversed([part.strip() for part in forwarded.split(",")]):
            if candidate and candidate not in settings.TRUSTED_PROXIES:
                try:
                    return str(ip_address(candidate))
                except ValueError:
                    return remote
    return remote
