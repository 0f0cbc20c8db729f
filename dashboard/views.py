from django.shortcuts import render

from accounts.decorators import member_required
from dashboard import selectors


@member_required
def index(request):
    """Read-only overview of the organisation: stages, overdue cases, amounts committed and estimated."""
    return render(request, "dashboard/index.html", selectors.dashboard_for(user=request.user))
