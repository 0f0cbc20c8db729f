from django.urls import path

from suppliers import views

app_name = "suppliers"
urlpatterns = [
    path("", views.supplier_list, name="list"),
    path("nouveau/", views.supplier_create, name="create"),
    path("<int:pk>/", views.supplier_detail, name="detail"),
    path("<int:pk>/modifier/", views.supplier_edit, name="edit"),
    path("<int:pk>/etablissements/ajouter/", views.establishment_add, name="establishment_add"),
    path("<int:pk>/documents/ajouter/", views.document_add, name="document_add"),
    path("documents/<int:pk>/verifier/", views.document_verify, name="document_verify"),
    path("documents/<int:pk>/telecharger/", views.document_download, name="document_download"),
    path("<int:pk>/controle-sanctions/", views.supplier_screen, name="screen"),
    path("controles-sanctions/<int:pk>/examiner/", views.screening_review, name="screening_review"),
]
