"""The supplier page and its edit, establishment and verification pages, as a buyer, a jurist, an outsider."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.html import escape
from django.utils.text import capfirst
from django.utils.translation import gettext
from stdnum import luhn
from stdnum.iso7064 import mod_11_10

from suppliers import documents, selectors, services
from suppliers.models import Establishment, Supplier, SupplierDocument
from tests import factories

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SIREN = "73282932" + luhn.calc_check_digit("73282932")
OTHER_SIREN = "55210055" + luhn.calc_check_digit("55210055")


def siret_of(nic: str) -> str:
    return SIREN + nic + luhn.calc_check_digit(SIREN + nic)


MAIN_SIRET = siret_of("0001")
DE_VAT = "DE13669597" + mod_11_10.calc_check_digit("13669597")
Kind = SupplierDocument.Kind


def shown(message, **params) -> str:
    with translation.override(None):
        source = str(message)
    with translation.override("fr"):
        text = gettext(source)
    return escape(text % params if params else text)


def fr_date(day) -> str:
    with translation.override("fr"):
        return formats.date_format(day, "SHORT_DATE_FORMAT")


def fr_vat_of(siren: str) -> str:
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


@pytest.fixture
def supplier(buyer):
    return services.supplier_create(
        actor=buyer,
        name="Transit Sud SAS",
        country="FR",
        siret=MAIN_SIRET,
        address="1 quai de la Joliette, Marseille",
        email="contact@transit-sud.fr",
        activity_code="52.29B",
    )


def add_document(supplier, actor, *, kind=Kind.URSSAF, issued_on=None, expires_on=None):
    return services.supplier_document_add(
        supplier=supplier,
        actor=actor,
        kind=kind,
        issued_on=issued_on or timezone.localdate() - timedelta(days=10),
        uploaded=SimpleUploadedFile("attestation.pdf", PDF_BYTES, content_type="application/pdf"),
        expires_on=expires_on,
    )


def edit_data(supplier, **overrides) -> dict:
    data = {
        "name": supplier.name,
        "vat_number": supplier.vat_number,
        "address": supplier.address,
        "email": supplier.email,
        "website": supplier.website,
        "founded_on": supplier.founded_on.isoformat() if supplier.founded_on else "",
        "activity_code": supplier.activity_code,
    }
    data.update(overrides)
    return data


# --- edit and history ----------------------------------------------------------------------------------
def test_edit_page_shows_the_identifiers_read_only(client, buyer, supplier):
    client.force_login(buyer)
    response = client.get(reverse("suppliers:edit", args=[supplier.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert MAIN_SIRET in content
    assert SIREN in content
    assert 'name="siret"' not in content
    assert 'name="registration_number"' not in content
    assert 'name="name"' in content


def test_edit_records_history_with_the_actor_and_the_page_shows_old_and_new(client, buyer2, supplier):
    client.force_login(buyer2)
    founded = timezone.localdate() - timedelta(days=90)
    response = client.post(
        reverse("suppliers:edit", args=[supplier.pk]),
        edit_data(
            supplier,
            name="Transit Sud Logistique SAS",
            email="achats@transit-sud.fr",
            founded_on=founded.isoformat(),
            vat_number=fr_vat_of(SIREN),
            siret="12345678900011",  # not an editable field: ignored
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == supplier.get_absolute_url()
    supplier.refresh_from_db()
    assert supplier.name == "Transit Sud Logistique SAS"
    assert supplier.siret == MAIN_SIRET
    latest = supplier.history.latest()
    assert latest.history_user == buyer2
    assert latest.history_type == "~"

    (row,) = selectors.supplier_history(supplier=supplier)
    assert row["user"] == str(buyer2)
    changes = {str(change["field"]): (change["old"], change["new"]) for change in row["changes"]}
    with translation.override("fr"):
        labels = {name: str(capfirst(Supplier._meta.get_field(name).verbose_name)) for name in ("name", "email")}
    assert changes[labels["name"]] == ("Transit Sud SAS", "Transit Sud Logistique SAS")
    assert changes[labels["email"]] == ("contact@transit-sud.fr", "achats@transit-sud.fr")
    assert len(changes) == 4  # name, e-mail, VAT number, founding date; nothing else

    page = client.get(supplier.get_absolute_url()).content.decode()
    assert "Transit Sud SAS → Transit Sud Logistique SAS" in page
    assert f"— → {fr_date(founded)}" in page
    assert str(buyer2) in page


def test_service_records_the_actor_outside_a_request(buyer, buyer2, supplier):
    services.supplier_update(supplier=supplier, actor=buyer2, activity_code="5229b")
    supplier.refresh_from_db()
    assert supplier.activity_code == "52.29B"  # unchanged value once normalised: no history row
    assert supplier.history.count() == 1
    services.supplier_update(supplier=supplier, actor=buyer2, address="2 quai d'Arenc, Marseille")
    assert supplier.history.count() == 2
    assert supplier.history.latest().history_user == buyer2


def test_identifiers_cannot_be_changed_by_the_service(buyer, supplier):
    with pytest.raises(TypeError):
        services.supplier_update(supplier=supplier, actor=buyer, siret="12345678900011")


def test_only_a_buyer_of_the_organisation_edits(jurist, outsider, supplier):
    for actor in (jurist, outsider):
        with pytest.raises(PermissionDenied):
            services.supplier_update(supplier=supplier, actor=actor, name="Autre nom")
    supplier.refresh_from_db()
    assert supplier.name == "Transit Sud SAS"


def test_fresh_supplier_has_no_change_in_its_history(client, buyer, supplier):
    client.force_login(buyer)
    page = client.get(supplier.get_absolute_url()).content.decode()
    assert shown("No change since it was created.") in page


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"vat_number": fr_vat_of(OTHER_SIREN)}, "vat_siren"),
        ({"activity_code": "52.2"}, "Enter the NAF/APE code as four digits and a letter, e.g. 32.50B."),
        ({"name": ""}, None),
        ({"founded_on": "2999-01-01"}, "The founding date cannot be in the future."),
    ],
    ids=["vat-of-another-company", "activity-code", "empty-name", "future-founding"],
)
def test_invalid_edit_is_refused_and_nothing_recorded(client, buyer, supplier, overrides, field_message):
    client.force_login(buyer)
    response = client.post(reverse("suppliers:edit", args=[supplier.pk]), edit_data(supplier, **overrides))
    assert response.status_code == 422
    if field_message == "vat_siren":
        message = shown(
            "This VAT number belongs to the company with SIREN %(vat_siren)s, not to this SIRET's company "
            "(SIREN %(siren)s).",
            vat_siren=OTHER_SIREN,
            siren=SIREN,
        )
        assert message in response.content.decode()
    elif field_message:
        assert shown(field_message) in response.content.decode()
    assert supplier.history.count() == 1


def test_eu_supplier_keeps_a_vat_number(client, buyer):
    vat = DE_VAT
    supplier = services.supplier_create(actor=buyer, name="Schutzmasken GmbH", country="DE", vat_number=vat)
    client.force_login(buyer)
    response = client.post(reverse("suppliers:edit", args=[supplier.pk]), edit_data(supplier, vat_number=""))
    assert response.status_code == 422
    supplier.refresh_from_db()
    assert supplier.vat_number == vat


def test_unchanged_edit_writes_nothing(client, buyer, supplier):
    client.force_login(buyer)
    response = client.post(reverse("suppliers:edit", args=[supplier.pk]), edit_data(supplier))
    assert response.status_code == 302
    assert supplier.history.count() == 1


@pytest.mark.parametrize(
    ("url_name", "method"),
    [("suppliers:edit", "get"), ("suppliers:edit", "post"), ("suppliers:establishment_add", "get")],
)
def test_new_pages_are_for_buyers_of_the_organisation(client, jurist, outsider, norole, supplier, url_name, method):
    url = reverse(url_name, args=[supplier.pk])
    anonymous = getattr(client, method)(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    for user, status in ((jurist, 403), (norole, 403), (outsider, 404)):
        client.force_login(user)
        assert getattr(client, method)(url).status_code == status, user
    supplier.refresh_from_db()
    assert supplier.history.count() == 1
    assert not Establishment.objects.exists()


# --- the supplier page ----------------------------------------------------------------------------------
def test_supplier_page_shows_identity_establishments_badges_and_sizes(client, buyer, jurist, supplier):
    today = timezone.localdate()
    valid = add_document(supplier, buyer, kind=Kind.URSSAF, issued_on=today - timedelta(days=30))
    expiring = add_document(supplier, buyer, kind=Kind.URSSAF, expires_on=today + timedelta(days=15))
    expired = add_document(supplier, buyer, kind=Kind.KBIS, issued_on=today - timedelta(days=200))
    services.document_mark_verified(document=valid, actor=buyer, verified_on=today - timedelta(days=1))
    client.force_login(jurist)
    page = client.get(supplier.get_absolute_url()).content.decode()
    assert "52.29B" in page
    assert shown("No other establishment recorded.") in page
    for code in (documents.VALID, documents.EXPIRING, documents.EXPIRED):
        badge = f'<span class="badge {documents.STATUS_BADGES[code]}">{shown(documents.STATUS_LABELS[code])}</span>'
        assert badge in page, code
    assert fr_date(expiring.expires_on) in page
    assert fr_date(expired.expires_on) in page
    assert fr_date(today - timedelta(days=1)) in page  # verification date
    assert 'name="verified_on"' not in page  # a jurist cannot mark documents verified


def test_buyer_sees_a_verify_form_on_each_unverified_document(client, buyer, supplier):
    first = add_document(supplier, buyer)
    second = add_document(supplier, buyer, kind=Kind.KBIS)
    services.document_mark_verified(document=second, actor=buyer, verified_on=timezone.localdate())
    client.force_login(buyer)
    page = client.get(supplier.get_absolute_url()).content.decode()
    assert reverse("suppliers:document_verify", args=[first.pk]) in page
    assert reverse("suppliers:document_verify", args=[second.pk]) not in page
    assert f'id="id_verify_{first.pk}_verified_on"' in page
    # Worded so that it agrees with every kind of document, masculine ("extrait Kbis") or feminine.
    assert "Confirmer la vérification auprès de l'émetteur" in page
    assert "vérifiée" not in page


def test_the_verification_page_agrees_with_a_masculine_kind(client, buyer, supplier):
    kbis = add_document(supplier, buyer, kind=Kind.KBIS)
    client.force_login(buyer)
    response = client.post(reverse("suppliers:document_verify", args=[kbis.pk]), {"verified_on": "bad"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Extrait Kbis / inscription au RNE de Transit Sud SAS : vérification auprès de l'émetteur" in page
    assert f"Date de délivrance : {fr_date(kbis.issued_on)}." in page
    assert "vérifiée" not in page
    assert "Délivrée" not in page


def test_supplier_page_query_count_does_not_grow(client, buyer, supplier, django_assert_max_num_queries):
    client.force_login(buyer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(supplier.get_absolute_url()).status_code == 200
        return len(captured)

    add_document(supplier, buyer)
    services.establishment_add(supplier=supplier, actor=buyer, siret=siret_of("0002"))
    services.supplier_update(supplier=supplier, actor=buyer, name="Transit Sud 1")
    few = queries()
    for n in range(2, 8):
        add_document(supplier, buyer, kind=Kind.KBIS)
        nic = f"{n + 1:04d}"
        services.establishment_add(supplier=supplier, actor=buyer, siret=siret_of(nic))
        services.supplier_update(supplier=supplier, actor=buyer, name=f"Transit Sud {n}")
    with django_assert_max_num_queries(few):
        assert client.get(supplier.get_absolute_url()).status_code == 200


# --- verified with the issuer ------------------------------------------------------------------------------
@pytest.fixture
def document(buyer, supplier):
    return add_document(supplier, buyer, issued_on=timezone.localdate() - timedelta(days=5))


def verify(client, document, day):
    return client.post(reverse("suppliers:document_verify", args=[document.pk]), {"verified_on": day.isoformat()})


def test_buyer_marks_a_document_verified_with_its_issuer(client, buyer2, document):
    client.force_login(buyer2)
    day = timezone.localdate() - timedelta(days=1)
    response = verify(client, document, day)
    assert response.status_code == 302
    assert response["Location"] == document.supplier.get_absolute_url()
    document.refresh_from_db()
    assert document.verified_with_issuer
    assert document.verified_on == day
    assert document.verified_by == buyer2
    # The supplier page says who checked it with the issuer, and when.
    page = client.get(response["Location"]).content.decode()
    assert fr_date(day) in page
    assert shown("by %(user)s", user=str(buyer2)) in page


def test_a_document_uploaded_as_verified_names_its_uploader_as_verifier(client, buyer2, supplier):
    client.force_login(buyer2)
    issued = timezone.localdate() - timedelta(days=3)
    response = client.post(
        reverse("suppliers:document_add", args=[supplier.pk]),
        {
            "kind": Kind.KBIS,
            "issued_on": issued.isoformat(),
            "file": SimpleUploadedFile("kbis.pdf", PDF_BYTES, content_type="application/pdf"),
            "verified_with_issuer": "on",
            "verified_on": issued.isoformat(),
        },
    )
    assert response.status_code == 302
    document = supplier.documents.get()
    assert (document.verified_with_issuer, document.verified_on, document.verified_by) == (True, issued, buyer2)
    unverified = add_document(supplier, buyer2)
    assert unverified.verified_by is None


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (timedelta(days=1), "The verification date cannot be in the future."),
        (timedelta(days=-6), "The verification date cannot be before the issue date."),
    ],
    ids=["future", "before-issue"],
)
def test_verification_date_out_of_range_is_refused(client, buyer, document, offset, message):
    client.force_login(buyer)
    response = verify(client, document, timezone.localdate() + offset)
    assert response.status_code == 422
    assert shown(message) in response.content.decode()
    document.refresh_from_db()
    assert not document.verified_with_issuer
    assert document.verified_on is None


def test_second_verification_keeps_the_first(client, buyer, document):
    first_day = timezone.localdate() - timedelta(days=2)
    services.document_mark_verified(document=document, actor=buyer, verified_on=first_day)
    client.force_login(buyer)
    response = verify(client, document, timezone.localdate())
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert shown("This document was already marked as verified with its issuer.") in page
    document.refresh_from_db()
    assert document.verified_on == first_day


def test_only_buyers_of_the_organisation_mark_documents_verified(client, jurist, norole, outsider, document):
    url = reverse("suppliers:document_verify", args=[document.pk])
    payload = {"verified_on": timezone.localdate().isoformat()}
    anonymous = client.post(url, payload)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    for user, status in ((jurist, 403), (norole, 403), (outsider, 404)):
        client.force_login(user)
        assert client.post(url, payload).status_code == status, user
    document.refresh_from_db()
    assert not document.verified_with_issuer


def test_verification_is_post_only(client, buyer, document):
    client.force_login(buyer)
    assert client.get(reverse("suppliers:document_verify", args=[document.pk])).status_code == 405


def test_establishment_page_of_another_organisation_is_not_found(client, outsider, supplier):
    client.force_login(outsider)
    siret = siret_of("0002")
    response = client.post(reverse("suppliers:establishment_add", args=[supplier.pk]), {"siret": siret})
    assert response.status_code == 404
    assert not Establishment.objects.exists()


def test_factory_suppliers_render(client, buyer):
    """A supplier made by the shared factory (no founding date, no activity code) renders without error."""
    supplier = factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer)
    client.force_login(buyer)
    assert client.get(supplier.get_absolute_url()).status_code == 200
