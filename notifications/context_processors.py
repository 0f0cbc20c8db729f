from notifications.models import Notification


def inbox(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    return {"unread_notifications": Notification.objects.for_user(user).unread().count()}
