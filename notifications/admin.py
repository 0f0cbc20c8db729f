from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "verb", "text", "email_status", "read_at")
    list_filter = ("email_status", "verb")
    readonly_fields = [f.name for f in Notification._meta.fields]
