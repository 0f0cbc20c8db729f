from celery import shared_task

from execution import services


@shared_task
def record_tacit_admissions() -> int:
    """Daily (beat "tacit-admissions"): receptions without decision past 15 days are deemed admitted, and the
    late-penalty proposals of lots still late grow by a day. Idempotent."""
    count = services.receptions_admit_tacitly()
    services.penalties_refresh_open()
    return count


@shared_task
def remind_vigilance_renewals() -> int:
    """Daily (beat "vigilance-renewals"): URSSAF certificates due for renewal on contracts in execution."""
    return services.vigilance_remind()
