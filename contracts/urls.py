from django.urls import path

from contracts import views

app_name = "contracts"
urlpatterns = [
    path("", views.contract_list, name="list"),
    path("<int:pk>/", views.contract_detail, name="detail"),
    path("<int:pk>/decp.json", views.decp_export, name="decp_export"),
    path("decp.json", views.decp_export_period, name="decp_export_period"),
    path("<int:pk>/<str:action>/", views.contract_transition, name="transition"),
    path("documents/<int:pk>/pdf/", views.document_download, name="document_download"),
    path("signes/<int:pk>/pdf/", views.signed_download, name="signed_download"),
    path("dossier/<int:pk>/attribution/", views.case_award, name="case_award"),
    path("dossier/<int:pk>/reouvrir/", views.case_reopen, name="case_reopen"),
    path("dossier/<int:pk>/cloturer/", views.case_close, name="case_close"),
    path("dossier/<int:pk>/annuler/", views.case_cancel, name="case_cancel"),
    path("dossier/<int:pk>/auditeurs.zip", views.case_audit_zip, name="case_audit_zip"),
]
