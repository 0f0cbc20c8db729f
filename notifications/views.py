from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import member_required
from notifications import selectors, services


@member_required
def inbox(request):
    return render(request, "notifications/inbox.html", {"notifications": selectors.inbox_for(user=request.user)})


def _inbox_updated(request, **focus):
    """After marking read: posted by htmx, the inbox alone, its message in the page's live region and the focus
    where the user was (`focus`: which element takes it); without JavaScript, back to the inbox page."""
    if not request.htmx:
        return redirect("notifications:inbox")
    context = {"notifications": selectors.inbox_for(user=request.user), **focus}
    return render(request, "notifications/inbox.html#inbox_updated", context)


@require_POST
@member_required
def mark_read(request, pk):
    if services.notification_mark_read(user=request.user, notification_id=pk):
        messages.success(request, _("Notification marked as read."))
    return _inbox_updated(request, focus_notification=pk)


@require_POST
@member_required
def mark_all_read(request):
    count = services.notification_mark_read(user=request.user)
    messages.success(request, _("%(count)d notification(s) marked as read.") % {"count": count})
    return _inbox_updated(request, focus_heading=True)
