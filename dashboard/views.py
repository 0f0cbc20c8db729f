"""The director's dashboard (read-only for every member), its exports and its printable version. Thin."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.decorators import member_required
from contracts import rendering
from dashboard import exports, selectors


def _context(request) -> dict:
    context = selectors.dashboard_for(user=request.user)
    context["refresh_seconds"] = settings.DASHBOARD_REFRESH_SECONDS
    context["paused"] = request.GET.get("pause") == "1"
    return context


@member_required
def index(request):
    """Where everything stands; the figures refresh themselves (htmx polling) unless the user pauses."""
    context = _context(request)
    if request.htmx and request.GET.get("part") == "figures":
        return render(request, "dashboard/index.html#figures", context)
    return render(request, "dashboard/index.html", context)


@member_required
def export(request, fmt):
    """The dashboard's figures as a table (section, figure, value), in CSV or Excel."""
    if fmt not in exports.FORMATS:
        raise Http404
    rows = exports.figure_rows(selectors.dashboard_for(user=request.user))
    stamp = timezone.localtime().strftime("%Y-%m-%d-%H%M")
    return exports.FORMATS[fmt](rows, f"tableau-de-bord-{stamp}")


@member_required
def pdf(request):
    """The dashboard on paper: the same figures, rendered by WeasyPrint."""
    context = selectors.dashboard_for(user=request.user)
    context["organisation"] = request.user.organisation
    context["static_base"] = rendering.STATIC_SCHEME
    html = render_to_string("pdf/dashboard.html", context, request=request)
    response = HttpResponse(rendering.render_pdf(html), content_type="application/pdf")
    stamp = timezone.localtime(context["now"]).strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="tableau-de-bord-{stamp}.pdf"'
    return response
