"""URLs of the accessibility fixture page, registered only by tests/e2e/test_axe_fixture.py."""

from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

TEMPLATE = engines["django"].from_string((Path(__file__).parent / "axe_fixture.html").read_text(encoding="utf-8"))
DEFECTS = ("", "label", "contrast")


@login_not_required
def axe_fixture(request):
    """The same small page, whole (?defect= absent) or with one deliberate defect (?defect=label|contrast)."""
    defect = request.GET.get("defect", "")
    return HttpResponse(TEMPLATE.render({"defect": defect if defect in DEFECTS else ""}, request))


urlpatterns = [path("temoin-axe/", axe_fixture)]
