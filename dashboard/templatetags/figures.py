"""Display of the dashboard's figures: durations in days and hours, shares in per cent."""

from datetime import timedelta

from django import template
from django.utils.translation import gettext, ngettext

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """'3 days 4 h', '5 h 20 min', '12 min'; an em dash when there is nothing to measure."""
    if value is None:
        return "—"
    minutes = max(0, int(value.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        text = ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
        return f"{text} {hours} h" if hours else text
    if hours:
        return gettext("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    return gettext("%(m)d min") % {"m": minutes}


@register.filter
def percent(value: float | None) -> str:
    """A share between 0 and 1 as a whole percentage ('42 %')."""
    if value is None:
        return "—"
    return f"{round(value * 100)}\N{NO-BREAK SPACE}%"
