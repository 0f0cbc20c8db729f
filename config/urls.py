from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="procurement:case_list", permanent=False), name="home"),
    path("comptes/", include("accounts.urls")),
    path("dossiers/", include("procurement.urls")),
    path("fournisseurs/", include("suppliers.urls")),
    path("contrats/", include("contracts.urls")),
    path("notifications/", include("notifications.urls")),
    path("tableau-de-bord/", include("dashboard.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
