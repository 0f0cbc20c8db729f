from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import member_required
from notifications import selectors, services


@member_required
def inbox(request):
    return render(request, "notifications/inbox.html", {"notifications": selectors.inbox_for(user=request.user)})


@require_POST
@member_required
def mark_read(request, pk):
    services.notification_mark_read(user=request.user, notification_id=pk)
    return redirect("notifications:inbox")


@require_POST
@member_required
def mark_all_read(request):
    count = services.notification_mark_read(user=request.user)
    messages.success(request, _("%(count)d notification(s) marked as read.") % {"count": count})
    return redirect("notifications:inbox")
