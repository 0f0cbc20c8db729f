from celery import shared_task

from procurement import services


@shared_task
def notify_overdue_cases() -> int:
    return services.notify_overdue()
