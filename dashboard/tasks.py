from celery import shared_task

from dashboard import services


@shared_task
def send_director_digest() -> int:
    """Daily at 07:30 Europe/Paris (beat): the figures of the morning to each director."""
    return services.digest_send()


@shared_task
def compact_figures() -> bool:
    """Every minute (beat): fold the dashboard's figures kept by triggers (dashboard.models)."""
    return services.compact_figures()
