"""The case list's kept pages (procurement.list_cache): a page is kept while nothing it shows changes, is never
shown to another user, and every change made through the services shows on the next load.

Each change test loads the list twice first (the second load must come from the cache: no query on the cases),
then makes the change as the application does, then loads the same URL again.
"""

import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from procurement import list_cache, services
from procurement.models import NeedLine, PurchaseCase
from suppliers import services as supplier_services
from suppliers.models import SanctionsList, SanctionsScreening
from tests import factories
from tests.factories import make_case

pytestmark = pytest.mark.postgres  # the list's version is a PostgreSQL sequence advanced by triggers

LIST_URL = reverse("procurement:case_list")
CASES_TABLE = "procurement_purchasecase"
COLUMNS = ["title", "stage", "lead_buyer", "amount", "time_in_stage", "created_on"]
OVERDUE_BADGE = "badge text-bg-danger"


@pytest.fixture(autouse=True)
def kept_pages(settings, monkeypatch):
    """Every test starts with no kept page and the cache on (whatever the environment says), and its clock
    stands still unless the test moves it: two loads must not fall on both sides of a minute."""
    settings.CASE_LIST_CACHE_SECONDS = 120
    moment = timezone.now()
    monkeypatch.setattr(list_cache.timezone, "now", lambda: moment)
    cache.clear()
    yield
    cache.clear()


@dataclass
class Page:
    body: str
    rendered: bool  # the list was rendered (its cases read), not taken from the cache
    queries: int

    @property
    def references(self) -> set[str]:
        return set(re.findall(r'<th scope="row">\s*<a href="[^"]+">([^<]+)</a>', self.body))

    def row(self, case) -> dict[str, str]:
        """The cells of the case's row, by column, as the page shows them."""
        row = next(row for row in self.body.split('<th scope="row">')[1:] if f">{case.reference}</a>" in row)
        row = row.split("</tr>")[0]
        # Only ASCII white space is folded: the amounts' no-break spaces are part of what is shown.
        cells = [
            re.sub(r"[ \t\r\n]+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        return dict(zip(COLUMNS, cells, strict=True))


def load(client, params=None) -> Page:
    with CaptureQueriesContext(connection) as context:
        response = client.get(LIST_URL, params or {})
    assert response.status_code == 200
    rendered = any(CASES_TABLE in query["sql"] for query in context.captured_queries)
    return Page(response.content.decode(), rendered, len(context.captured_queries))


def load_kept(client, params=None) -> Page:
    """Load the list so that its page is kept, and check that it is: the same load again reads no case."""
    page = load(client, params)
    assert page.rendered
    assert not load(client, params).rendered, "the page was not kept: the test would prove nothing"
    return page


def english(client):
    client.cookies["django_language"] = "en"


# --- every change shows at once ------------------------------------------------------------------
def test_a_new_case_shows_at_once(client, buyer):
    existing = make_case(buyer, "need")
    english(client)
    client.force_login(buyer)
    assert load_kept(client).references == {existing.reference}

    created = services.case_create(
        actor=buyer,
        title="Surblouses jetables",
        need_lines=[factories.need_line_data()],
        justification=factories.justification_data(),
    )

    page = load(client)
    assert page.rendered
    assert page.references == {existing.reference, created.reference}
    assert page.row(created)["title"] == "Surblouses jetables"


def test_a_stage_change_shows_at_once(client, buyer):
    case = make_case(buyer, "need")
    english(client)
    client.force_login(buyer)
    assert load_kept(client).row(case)["stage"] == "Need"

    services.case_submit(case=case, actor=buyer)

    assert load(client).row(case)["stage"] == "Supplier vetting"


def test_without_the_trigger_the_kept_page_would_be_stale(client, buyer):
    """The mechanism: the same change as above, with the trigger on the cases dropped (the test's transaction
    puts it back), leaves the version where it was, and the kept page is served with the old stage."""
    case = make_case(buyer, "need")
    english(client)
    client.force_login(buyer)
    assert load_kept(client).row(case)["stage"] == "Need"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {CASES_TABLE}_case_list_changed ON {CASES_TABLE}")
    version = list_cache.version()

    services.case_submit(case=case, actor=buyer)

    assert list_cache.version() == version
    page = load(client)
    assert not page.rendered
    assert page.row(case)["stage"] == "Need"  # stale
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"


def _retitle(case, buyer, title):
    services.case_update_need(
        case=case, actor=buyer, title=title, need_line=None, justification=factories.justification_data()
    )


def test_a_title_edit_and_a_need_line_price_change_show_at_once(client, buyer):
    case = make_case(buyer, "need")  # 100 000 units estimated at 0,90 €
    client.force_login(buyer)  # French: the amount as the buyers read it
    before = load_kept(client).row(case)
    assert before["title"] == "Masques de protection — COVID-19"
    assert before["amount"] == "90\xa0000,00"

    _retitle(case, buyer, "Masques FFP2 pour les lycées")
    assert load(client).row(case)["title"] == "Masques FFP2 pour les lycées"

    # No service changes an estimate once the line exists (only the data fixes do): the ORM, as they do.
    NeedLine.objects.filter(case=case).update(estimated_unit_price=Decimal("1.25"))
    assert load(client).row(case)["amount"] == "125\xa0000,00"


def test_a_renamed_supplier_is_found_by_its_new_name_at_once(client, buyer):
    case = make_case(buyer, "vetting")
    supplier = case.offers.get().supplier
    client.force_login(buyer)
    search = {"q": "quokka"}
    assert load_kept(client, search).references == set()

    supplier_services.supplier_update(supplier=supplier, actor=buyer, name="Quokka Santé SAS")

    assert load(client, search).references == {case.reference}


def test_a_supplier_rejected_in_vetting_is_flagged_at_once(client, buyer):
    case = make_case(buyer, "vetting")  # its supplier approved
    flagged = {"signale": "1"}
    client.force_login(buyer)
    assert load_kept(client, flagged).references == set()

    factories.vet(case, case.offers.get(), buyer, decision="rejected")

    assert load(client, flagged).references == {case.reference}


def test_a_pending_sanctions_screening_flags_at_once_and_a_newer_list_unflags(client, buyer):
    case = make_case(buyer, "vetting")
    supplier = case.offers.get().supplier
    now = timezone.now()
    register = SanctionsList.objects.create(
        source=SanctionsList.Source.FR, version="v1", imported_at=now - timedelta(days=1), sha256="1" * 64
    )
    flagged = {"signale": "1"}
    client.force_login(buyer)
    assert load_kept(client, flagged).references == set()

    # As suppliers.services writes a possible match awaiting a jurist.
    SanctionsScreening.objects.create(
        supplier=supplier,
        sanctions_list=register,
        screened_at=now,
        result=SanctionsScreening.Result.POSSIBLE_MATCH,
        review=SanctionsScreening.Review.PENDING,
        matches=[{"name": "Homonyme", "score": 90}],
    )
    assert load_kept(client, flagged).references == {case.reference}

    # A newer version of the register: the screening against the old one is no longer current.
    SanctionsList.objects.create(source=SanctionsList.Source.FR, version="v2", imported_at=now, sha256="2" * 64)
    assert load(client, flagged).references == set()


def test_an_assigned_buyer_and_a_renamed_lead_buyer_show_at_once(client, buyer, buyer2):
    case = make_case(buyer, "need")
    by_buyer2 = {"buyer": buyer2.pk}
    english(client)
    client.force_login(buyer)
    assert load_kept(client, by_buyer2).references == set()

    services.case_assign_buyer(case=case, actor=buyer, buyer=buyer2)
    assert load(client, by_buyer2).references == {case.reference}

    assert load_kept(client).row(case)["lead_buyer"] == str(buyer)
    # No service renames a user: the admin saves the row, as here.
    buyer.first_name, buyer.last_name = "Dominique", "Renaud"
    buyer.save(update_fields=["first_name", "last_name"])
    assert load(client).row(case)["lead_buyer"] == "Dominique Renaud"


def test_a_buyer_who_loses_the_role_loses_the_new_case_button_at_once(client, buyer):
    make_case(buyer, "need")
    buyer.groups.add(Group.objects.get_or_create(name=roles.JURIST)[0])  # still a member once no longer a buyer
    english(client)
    client.force_login(buyer)
    assert "New case" in load_kept(client).body

    buyer.groups.remove(Group.objects.get(name=roles.BUYER))

    assert "New case" not in load(client).body


# --- what is kept, and for whom ------------------------------------------------------------------
def test_a_second_load_with_nothing_changed_reads_no_case(client, buyer):
    make_case(buyer, "need")
    english(client)
    client.force_login(buyer)
    load(client)  # session, user and the like cached on the first request of the client
    cache.clear()
    first = load(client)
    second = load(client)
    assert first.rendered
    assert not second.rendered
    assert second.queries < first.queries
    assert second.references == first.references


def test_a_kept_page_is_never_shown_to_another_user(buyer, jurist, director, outsider):
    ours = make_case(buyer, "need")
    theirs = make_case(outsider, "need")
    # Everyone logs in first: a login is itself a change (last_login), and only the user must differ here.
    clients = {}
    for user in (buyer, jurist, director, outsider):
        clients[user] = Client()
        english(clients[user])
        clients[user].force_login(user)
    page = load_kept(clients[buyer])
    assert "New case" in page.body
    assert page.references == {ours.reference}
    version = list_cache.version()

    for colleague in (jurist, director):
        page = load(clients[colleague])
        assert page.rendered
        assert "New case" not in page.body
        assert page.references == {ours.reference}

    page = load(clients[outsider])
    assert page.rendered
    assert page.references == {theirs.reference}
    assert list_cache.version() == version


def test_switching_the_language_shows_the_list_in_the_new_one(client, buyer):
    case = make_case(buyer, "need")
    client.force_login(buyer)
    page = load_kept(client)  # French by default
    assert "Nouveau dossier" in page.body
    assert page.row(case)["stage"] == "Besoin"

    response = client.post(reverse("set_language"), {"language": "en", "next": LIST_URL})
    assert response.status_code == 302

    page = load(client)
    assert page.rendered
    assert "New case" in page.body
    assert page.row(case)["stage"] == "Need"


def test_the_overdue_badge_follows_the_clock(client, buyer, monkeypatch):
    """The time in stage and the overdue badge change with the minute, with no data change. (No time-machine
    or freezegun here: the clock list_cache and PurchaseCase.is_overdue read is moved. The `timesince` text
    reads datetime.now itself, so only the badge is checked.)"""
    start = timezone.now()
    case = make_case(buyer, "need")  # target: 4 hours
    deadline = start + timedelta(minutes=1)
    PurchaseCase.objects.filter(pk=case.pk).update(stage_entered_at=deadline - timedelta(hours=4))
    client.force_login(buyer)
    monkeypatch.setattr(list_cache.timezone, "now", lambda: start)
    assert OVERDUE_BADGE not in load_kept(client).row(case)["time_in_stage"]

    monkeypatch.setattr(list_cache.timezone, "now", lambda: start + timedelta(minutes=2))

    page = load(client)
    assert page.rendered
    assert OVERDUE_BADGE in page.row(case)["time_in_stage"]


def test_a_new_stage_target_shows_the_overdue_badge_without_any_data_change(client, buyer, settings):
    case = make_case(buyer, "need")
    PurchaseCase.objects.filter(pk=case.pk).update(stage_entered_at=timezone.now() - timedelta(hours=2))
    client.force_login(buyer)
    assert OVERDUE_BADGE not in load_kept(client).row(case)["time_in_stage"]  # target 4 hours

    settings.STAGE_TARGET_HOURS = {**settings.STAGE_TARGET_HOURS, "need": 1}

    page = load(client)
    assert page.rendered
    assert OVERDUE_BADGE in page.row(case)["time_in_stage"]


def test_with_the_cache_off_every_load_reads_the_cases(client, buyer, settings):
    settings.CASE_LIST_CACHE_SECONDS = 0
    make_case(buyer, "need")
    client.force_login(buyer)
    assert list_cache.version() is None
    assert load(client).rendered
    assert load(client).rendered


def test_the_first_change_after_the_sequence_is_created_shows(client, buyer):
    """A fresh sequence (right after migration 0011) shows last_value 1 with is_called false, and its first
    nextval returns 1 again: read as is, the version would not move on the first change."""
    case = make_case(buyer, "need")
    english(client)
    client.force_login(buyer)  # itself a change (last_login)
    with connection.cursor() as cursor:
        # The state right after the migration (RESTART is rolled back with the test's transaction).
        cursor.execute(f"ALTER SEQUENCE {list_cache.SEQUENCE} RESTART")
    assert load_kept(client).row(case)["title"] == "Masques de protection — COVID-19"

    # One statement on a watched table (the case's title), so exactly one nextval, which returns 1.
    _retitle(case, buyer, "Masques FFP2 pour les lycées")

    assert load(client).row(case)["title"] == "Masques FFP2 pour les lycées"


# --- a change not yet committed ----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_load_between_a_change_and_its_commit_does_not_keep_the_old_state(client, buyer):
    case = make_case(buyer, "need")
    english(client)
    client.force_login(buyer)
    changed, release = threading.Event(), threading.Event()

    def submit():
        try:
            with transaction.atomic():
                services.case_submit(case=case, actor=buyer)
                changed.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        assert changed.wait(10)
        assert load(client).row(case)["stage"] == "Need"  # not committed yet
    finally:
        release.set()
        thread.join(10)

    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"
    assert load(client).row(case)["stage"] == "Supplier vetting"
