from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/lue/", views.mark_read, name="mark_read"),
    path("tout-lu/", views.mark_all_read, name="mark_all_read"),
]
