from django.urls import path

from execution import views

app_name = "execution"
urlpatterns = [
    path("contrats/<int:pk>/", views.contract_execution, name="contract"),
    path("contrats/<int:pk>/repartition.csv", views.allocation_export, name="allocation_export"),
    path("contrats/<int:pk>/<str:action>/", views.execution_action, name="action"),
]
