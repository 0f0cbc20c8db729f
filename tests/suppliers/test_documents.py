"""Supplier documents: expiry per kind, validity badges, private storage and download, who verified them, renewal
reminders (sent by procurement, which knows the purchasing teams)."""

import hashlib
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import formats, timezone, translation

from contracts import services as contract_services
from notifications.models import Notification
from procurement import services as procurement_services
from procurement import tasks
from suppliers import documents, selectors, services
from suppliers.models import SupplierDocument
from tests import factories
from tests.factories import add_offer, make_case

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
Kind = SupplierDocument.Kind


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def supplier(buyer):
    return factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer, name="Transit Sud SAS")


def add_document(supplier, actor, *, kind=Kind.URSSAF, issued_on=None, expires_on=None, content=PDF_BYTES):
    upload = SimpleUploadedFile("attestation.pdf", content, content_type="application/pdf")
    return services.supplier_document_add(
        supplier=supplier,
        actor=actor,
        kind=kind,
        issued_on=issued_on or timezone.localdate() - timedelta(days=10),
        uploaded=upload,
        expires_on=expires_on,
    )


def document_expiring_in(supplier, actor, days: int, *, kind=Kind.URSSAF, today=None) -> SupplierDocument:
    today = today or timezone.localdate()
    expires_on = today + timedelta(days=days)
    # Issued so that the expiry date is not after the one computed for the kind (which would be refused).
    issued_on = date(expires_on.year, 1, 1) if kind == Kind.TAX else expires_on - timedelta(days=20)
    return add_document(supplier, actor, kind=kind, issued_on=issued_on, expires_on=expires_on)


# --- expiry per kind and the badge ----------------------------------------------------------------------
ISSUED = date(2020, 3, 2)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Kind.URSSAF, date(2020, 9, 2)),  # D8222-5: 6 months
        (Kind.KBIS, date(2020, 6, 2)),  # buyer practice: 3 months (setting)
        (Kind.TAX, date(2021, 1, 1)),  # attests the situation at 31 December 2019: valid through 2020
        (Kind.SWORN_STATEMENT, None),
        (Kind.RIB, None),
        (Kind.FOREIGN, None),
        (Kind.OTHER, None),
    ],
)
def test_expiry_is_computed_per_kind(kind, expected):
    assert SupplierDocument.computed_expiry(kind, ISSUED) == expected


@pytest.mark.parametrize("issued", [date(2026, 1, 2), date(2026, 6, 30), date(2026, 11, 30)])
def test_a_tax_certificate_expires_at_the_end_of_its_issue_year(issued):
    expiry = SupplierDocument.computed_expiry(Kind.TAX, issued)
    assert expiry == date(2027, 1, 1)
    document = SupplierDocument(kind=Kind.TAX, issued_on=issued, expires_on=expiry)
    assert document.is_valid_on(date(2026, 12, 31))
    assert not document.is_valid_on(date(2027, 1, 1))


def test_kbis_validity_follows_the_setting(settings):
    settings.SUPPLIER_DOCUMENT_VALIDITY_MONTHS = {**settings.SUPPLIER_DOCUMENT_VALIDITY_MONTHS, "kbis": 1}
    assert SupplierDocument.computed_expiry(Kind.KBIS, ISSUED) == date(2020, 4, 2)


def test_uploaded_document_gets_its_computed_expiry_unless_an_earlier_one_is_given(buyer, supplier):
    issued = timezone.localdate() - timedelta(days=20)
    urssaf = add_document(supplier, buyer, kind=Kind.URSSAF, issued_on=issued)
    assert urssaf.expires_on == issued + relativedelta(months=6)
    given = issued + timedelta(days=30)
    kbis = add_document(supplier, buyer, kind=Kind.KBIS, issued_on=issued, expires_on=given)
    assert kbis.expires_on == given
    sworn = add_document(
        supplier, buyer, kind=Kind.SWORN_STATEMENT, issued_on=issued, expires_on=issued + timedelta(days=900)
    )
    assert sworn.expires_on == issued + timedelta(days=900)  # no fixed validity: any later date


@pytest.mark.parametrize(
    ("kind", "issued", "typed"),
    [
        (Kind.URSSAF, date(2026, 6, 2), date(2026, 12, 3)),  # one day more than 6 months
        (Kind.KBIS, date(2026, 9, 1), date(2027, 9, 1)),
        (Kind.TAX, date(2026, 4, 15), date(2027, 4, 15)),  # 12 months, the former rule
    ],
)
def test_an_expiry_date_after_the_computed_one_is_refused(buyer, supplier, private_storage, kind, issued, typed):
    with pytest.raises(ValidationError) as refused:
        add_document(supplier, buyer, kind=kind, issued_on=issued, expires_on=typed)
    assert refused.value.code == "after_validity"
    assert not SupplierDocument.objects.exists()
    assert stored_files(private_storage) == []


def test_the_upload_page_refuses_a_later_expiry_date_in_french(client, buyer, supplier, private_storage):
    client.force_login(buyer)
    issued = timezone.localdate() - timedelta(days=10)
    response = client.post(
        reverse("suppliers:document_add", args=[supplier.pk]),
        {
            "kind": Kind.URSSAF,
            "issued_on": issued.isoformat(),
            "expires_on": (issued + relativedelta(months=7)).isoformat(),
            "file": SimpleUploadedFile("urssaf.pdf", PDF_BYTES, content_type="application/pdf"),
        },
    )
    assert response.status_code == 422
    latest = formats.date_format(issued + relativedelta(months=6), "SHORT_DATE_FORMAT")
    assert response.context["form"].errors["expires_on"] == [
        f"La date d'expiration ne peut pas être postérieure au {latest}, fin de validité de ce type de document "
        f"délivré le {formats.date_format(issued, 'SHORT_DATE_FORMAT')}."
    ]
    assert not SupplierDocument.objects.exists()
    assert stored_files(private_storage) == []


TODAY = date(2026, 5, 4)


@pytest.mark.parametrize(
    ("expires_on", "code"),
    [
        (TODAY + timedelta(days=200), documents.VALID),
        (TODAY + timedelta(days=16), documents.VALID),
        (TODAY + timedelta(days=15), documents.EXPIRING),
        (TODAY + timedelta(days=1), documents.EXPIRING),
        (TODAY, documents.EXPIRED),  # valid up to the day before its expiry date (SupplierDocument.is_valid_on)
        (TODAY - timedelta(days=1), documents.EXPIRED),
        (None, documents.NO_EXPIRY),
    ],
)
def test_badge_status_boundaries(expires_on, code):
    document = SupplierDocument(kind=Kind.URSSAF, issued_on=TODAY - timedelta(days=180), expires_on=expires_on)
    status, label = documents.document_status(document, TODAY)
    assert status == code
    assert label == documents.STATUS_LABELS[code]


def test_expiring_window_follows_the_reminder_setting(settings):
    settings.DOCUMENT_REMINDER_DAYS = 30
    document = SupplierDocument(kind=Kind.URSSAF, issued_on=TODAY, expires_on=TODAY + timedelta(days=30))
    assert documents.document_status(document, TODAY)[0] == documents.EXPIRING


def test_badge_labels_are_translatable():
    with translation.override("fr"):
        labels = {code: str(label) for code, label in documents.STATUS_LABELS.items()}
    assert labels[documents.VALID] == "Valide"
    assert labels[documents.EXPIRED] == "Expiré"


# --- storage: checked by the service itself (the only write path), private, hashed ------------------------
@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        pytest.param("certificate.pdf", ELF_BYTES, "bad_type", id="executable-renamed-pdf"),
        pytest.param("certificate.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "bad_type", id="exe-renamed-pdf"),
        pytest.param("certificate.pdf", b"", "empty", id="empty"),
        pytest.param("certificate.pdf", PDF_BYTES + b"%" + b"x" * 2048, "too_large", id="over-the-limit"),
    ],
)
def test_service_refuses_bad_files_and_stores_nothing(buyer, supplier, private_storage, settings, name, content, code):
    settings.UPLOAD_MAX_BYTES = 1024
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    with pytest.raises(ValidationError) as refused:
        services.supplier_document_add(
            supplier=supplier, actor=buyer, kind=Kind.URSSAF, issued_on=timezone.localdate(), uploaded=upload
        )
    assert refused.value.code == code
    assert not SupplierDocument.objects.exists()
    assert stored_files(private_storage) == []


def test_path_traversal_name_given_to_the_service_is_never_used_on_disk(buyer, supplier, private_storage):
    upload = SimpleUploadedFile("x.pdf", PDF_BYTES, content_type="application/pdf")
    upload.name = "../../etc/passwd.pdf"  # as a caller other than the browser form could pass it
    document = services.supplier_document_add(
        supplier=supplier, actor=buyer, kind=Kind.URSSAF, issued_on=timezone.localdate(), uploaded=upload
    )
    assert "passwd" not in document.file.name
    assert ".." not in document.file.name
    (path,) = stored_files(private_storage)
    assert path.resolve().is_relative_to(private_storage.resolve())
    assert path.read_bytes() == PDF_BYTES


def test_sha256_recorded_is_the_stored_files(buyer, supplier, private_storage):
    content = PDF_BYTES + b"% URSSAF attestation de vigilance\n"
    document = add_document(supplier, buyer, content=content)
    (path,) = stored_files(private_storage)
    assert document.sha256 == hashlib.sha256(content).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert document.size == len(content)
    assert document.content_type == "application/pdf"


def test_supplier_page_links_to_the_checked_view_only(client, buyer, supplier, private_storage):
    document = add_document(supplier, buyer)
    path = Path(document.file.path).resolve()
    assert path.is_relative_to(private_storage.resolve())
    assert not path.is_relative_to(Path(django_settings.BASE_DIR, "static").resolve())
    client.force_login(buyer)
    page = client.get(supplier.get_absolute_url()).content.decode()
    assert f'href="{document.get_download_url()}"' in page
    assert document.file.name not in page  # the generated name on disk is never shown


@pytest.fixture
def stored_document(buyer, supplier):
    return add_document(supplier, buyer, content=PDF_BYTES + b"% secret\n")


def test_member_downloads_the_document_as_an_attachment(client, jurist, stored_document):
    client.force_login(jurist)
    response = client.get(stored_document.get_download_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES + b"% secret\n"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_other_organisation_gets_404_on_the_download(client, outsider, stored_document):
    client.force_login(outsider)
    assert client.get(stored_document.get_download_url()).status_code == 404


def test_user_without_role_gets_403_on_the_download(client, norole, stored_document):
    client.force_login(norole)
    assert client.get(stored_document.get_download_url()).status_code == 403


def test_anonymous_is_sent_to_the_login_page(client, stored_document):
    url = stored_document.get_download_url()
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=" in response["Location"]


def test_stored_file_is_not_served_under_media_or_static(client, buyer, stored_document):
    client.force_login(buyer)
    name = stored_document.file.name
    for prefix in ("/media/", django_settings.STATIC_URL, "/"):
        assert client.get(f"{prefix}{name}").status_code == 404, prefix


# --- renewal reminders ------------------------------------------------------------------------------------
def reminders(verb="document_expiring"):
    return Notification.objects.filter(verb=verb)


def recipients_of(queryset) -> list[str]:
    return sorted(queryset.values_list("recipient__username", flat=True))


@pytest.fixture
def org_buyers(buyer, buyer2, jurist, outsider):
    """Buyers acheteur and acheteuse2, a jurist, and a buyer of another organisation."""
    inactive = factories.UserFactory(username="ancien", organisation=buyer.organisation, roles=["buyer"])
    inactive.is_active = False
    inactive.save()
    return buyer, buyer2


def test_document_expiring_within_15_days_is_reminded_once_to_the_buyers(org_buyers, buyer, supplier):
    document = document_expiring_in(supplier, buyer, 15)
    assert procurement_services.documents_remind_expiring() == 2
    assert recipients_of(reminders()) == ["acheteur", "acheteuse2"]
    notification = reminders().first()
    with translation.override("fr"):
        kind = str(Kind.URSSAF.label)
        expiry = formats.date_format(document.expires_on, "SHORT_DATE_FORMAT")
    assert supplier.name in notification.text
    assert kind in notification.text
    assert expiry in notification.text
    assert notification.url == supplier.get_absolute_url()
    document.refresh_from_db()
    assert document.expiry_reminded_at is not None
    # The same day again (and the next day): nothing new.
    assert procurement_services.documents_remind_expiring() == 0
    assert procurement_services.documents_remind_expiring(now=timezone.now() + timedelta(days=1)) == 0
    assert reminders().count() == 2


def test_document_expiring_tomorrow_is_reminded(org_buyers, buyer, supplier):
    document_expiring_in(supplier, buyer, 1)
    assert procurement_services.documents_remind_expiring() == 2


@pytest.mark.parametrize(
    "days",
    [16, 60, 0, -1, -30],
    # A document is expired on its expiry date (the badge says "Expired"): too late for a reminder.
    ids=["16-days", "60-days", "expires-today", "expired-yesterday", "expired"],
)
def test_document_outside_the_window_is_not_reminded(org_buyers, buyer, supplier, days):
    document_expiring_in(supplier, buyer, days)
    assert procurement_services.documents_remind_expiring() == 0
    assert not reminders().exists()


def test_document_without_expiry_is_not_reminded(org_buyers, buyer, supplier):
    add_document(supplier, buyer, kind=Kind.SWORN_STATEMENT)
    assert procurement_services.documents_remind_expiring() == 0


def test_document_reaching_the_window_later_is_reminded_then(org_buyers, buyer, supplier):
    document_expiring_in(supplier, buyer, 16)
    assert procurement_services.documents_remind_expiring() == 0
    assert procurement_services.documents_remind_expiring(now=timezone.now() + timedelta(days=1)) == 2


def test_document_renewed_by_a_later_one_is_not_reminded(org_buyers, buyer, supplier):
    document_expiring_in(supplier, buyer, 10)
    renewal = add_document(supplier, buyer, kind=Kind.URSSAF, issued_on=timezone.localdate())
    assert renewal.expires_on > timezone.localdate() + timedelta(days=15)
    assert procurement_services.documents_remind_expiring() == 0
    assert not reminders().exists()


def test_document_of_another_kind_does_not_count_as_a_renewal(org_buyers, buyer, supplier):
    document_expiring_in(supplier, buyer, 10, kind=Kind.KBIS)
    add_document(supplier, buyer, kind=Kind.URSSAF, issued_on=timezone.localdate())
    assert procurement_services.documents_remind_expiring() == 2


def test_recipients_are_the_purchasing_team_of_the_open_cases_with_an_offer(org_buyers, buyer, buyer2, supplier):
    third = factories.UserFactory(username="acheteur3", organisation=buyer.organisation, roles=["buyer"])
    case = make_case(third, "vetting", suppliers=0)
    case.buyers.add(buyer2)
    add_offer(case, third, supplier=supplier)
    document_expiring_in(supplier, buyer, 5)
    assert procurement_services.documents_remind_expiring() == 2
    assert recipients_of(reminders()) == ["acheteur3", "acheteuse2"]


def test_offers_in_closed_or_cancelled_cases_fall_back_to_every_buyer(org_buyers, buyer, jurist, supplier):
    third = factories.UserFactory(username="acheteur3", organisation=buyer.organisation, roles=["buyer"])
    case = make_case(third, "vetting", suppliers=0)
    add_offer(case, third, supplier=supplier)
    contract_services.case_cancel(case=case, actor=jurist, comment="Besoin couvert par l'État.")
    document_expiring_in(supplier, buyer, 5)
    assert procurement_services.documents_remind_expiring() == 3
    assert recipients_of(reminders()) == ["acheteur", "acheteur3", "acheteuse2"]


def test_the_reminder_window_agrees_with_the_badge(org_buyers, buyer, supplier):
    today = timezone.localdate()
    # One kind each: a later document of the same kind would be a renewal.
    for days, kind in zip((-1, 0, 1, 15, 16), (Kind.URSSAF, Kind.KBIS, Kind.TAX, Kind.RIB, Kind.OTHER), strict=True):
        document_expiring_in(supplier, buyer, days, kind=kind)
    due = selectors.documents_expiring_unreminded(today=today)
    badges = {document.pk: documents.document_status(document, today)[0] for document in supplier.documents.all()}
    assert {document.pk for document in due} == {pk for pk, badge in badges.items() if badge == documents.EXPIRING}
    assert len(due) == 2


def test_a_reminder_is_claimed_once(buyer, supplier):
    document = document_expiring_in(supplier, buyer, 5)
    now = timezone.now()
    assert services.document_claim_expiry_reminder(document=document, now=now)
    assert not services.document_claim_expiry_reminder(document=document, now=now + timedelta(hours=1))
    document.refresh_from_db()
    assert document.expiry_reminded_at == now
    assert not selectors.documents_expiring_unreminded(today=timezone.localdate()).exists()


def test_suppliers_do_not_import_the_apps_above_them():
    """DESIGN.md §2: accounts ← suppliers ← procurement ← contracts ← execution ← dashboard."""
    import ast

    root = Path(django_settings.BASE_DIR, "suppliers")
    above = {"procurement", "contracts", "execution", "dashboard"}
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(root)}: {name}" for name in names if name.split(".")[0] in above]
    assert offenders == []


def test_task_is_the_one_the_beat_schedule_runs(org_buyers, buyer, supplier, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["expiring-supplier-documents"]
    assert entry["task"] == tasks.remind_expiring_documents.name
    document_expiring_in(supplier, buyer, 3)
    assert tasks.remind_expiring_documents.delay().get() == 2
    assert tasks.remind_expiring_documents.delay().get() == 0
    assert reminders().count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_notify_once(buyer, buyer2, supplier):
    for days, kind in ((1, Kind.URSSAF), (7, Kind.KBIS), (15, Kind.TAX)):
        document_expiring_in(supplier, buyer, days, kind=kind)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(procurement_services.documents_remind_expiring())
        except BaseException as error:  # shown by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(results) == 6  # 3 documents × 2 buyers, whichever run took each
    assert reminders().count() == 6
    for user in (buyer, buyer2):
        assert reminders().filter(recipient=user).count() == 3
