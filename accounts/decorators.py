from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The user belongs to an organisation and holds at least one role; otherwise only the profile is open."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated or not request.user.has_any_role:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def role_required(*role_names: str) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @member_required
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not any(request.user.has_role(r) for r in role_names):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
