from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView
from django.views.i18n import set_language


@login_not_required
@require_safe
def health(request):
    """Liveness check for a load balancer, and the trivial view `make bench` compares pages with: no login,
    no database query, no template."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("sante/", health, name="health"),
    path("", RedirectView.as_view(pattern_name="procurement:case_list", permanent=False), name="home"),
    path("comptes/", include("accounts.urls")),
    path("dossiers/", include("procurement.urls")),
    path("fournisseurs/", include("suppliers.urls")),
    path("contrats/", include("contracts.urls")),
    path("execution/", include("execution.urls")),
    path("notifications/", include("notifications.urls")),
    path("tableau-de-bord/", include("dashboard.urls")),
    # The language switch is in every page's footer, the login page included.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]
