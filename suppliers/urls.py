from django.urls import path

from suppliers import views

app_name = "suppliers"
urlpatterns = [
    path("", views.supplier_list, name="list"),
    path("nouveau/", views.supplier_create, name="create"),
    path("<int:pk>/", views.supplier_detail, name="detail"),
    path("<int:pk>/documents/ajouter/", views.document_add, name="document_add"),
    path("documents/<int:pk>/telecharger/", views.document_download, name="document_download"),
]
