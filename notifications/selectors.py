from notifications.models import Notification


def inbox_for(*, user, limit: int = 100):
    return Notification.objects.for_user(user)[:limit]
