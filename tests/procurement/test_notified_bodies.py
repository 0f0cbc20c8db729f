"""The notified-bodies reference and the norms catalogue's admin (issue 4, points 1–2).

What a buyer and a jurist rely on: the reference says which bodies are notified for PPE and which are not (the
issuers of "voluntary certificates" included, ECM found by its acronym); the administrator refreshes it from a
CSV file without ever half-importing a bad one; the catalogue is edited in the admin by Tandem's administrators
only; evidence files never enter through the admin.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from procurement import notified_bodies, services
from procurement.models import (
    ConformityCheck,
    ConformityEvidence,
    EvidenceKind,
    Legislation,
    Norm,
    NormClass,
    NotifiedBody,
)
from tests import factories

FIXTURE = Path(__file__).resolve().parents[2] / "procurement" / "fixtures" / "notified_bodies.csv"
HEADER = "number,name,country,legislations,aliases,note\n"
# The issuers of worthless "voluntary certificates" DOMAIN.md §4 names.
NON_NOTIFIED = ["ECM", "ICR Polska", "CELAB", "ISET", "Amtre Veritas", "STS", "VIC"]


def find(name: str) -> NotifiedBody:
    """The body a certificate names, by its name or one of its other names (how a buyer looks it up)."""
    found = [
        body
        for body in NotifiedBody.objects.filter(Q(name__icontains=name) | Q(aliases__icontains=name))
        if name.casefold() in body.name.casefold() or name.casefold() in [alias.casefold() for alias in body.aliases]
    ]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


@pytest.fixture
def english():
    """Messages compared word for word: in their English source, whatever the French catalogue says."""
    with translation.override("en"):
        yield


def csv_text(*rows: str) -> str:
    return HEADER + "".join(f"{row}\n" for row in rows)


def snapshot() -> list[tuple]:
    return list(NotifiedBody.objects.order_by("pk").values_list("number", "name", "legislations", "aliases", "note"))


# --- the seeded sample -----------------------------------------------------------------------------------
def test_the_seeded_sample_knows_bodies_notified_for_ppe(db):
    for number in ["0161", "0598", "2163", "2797"]:
        body = NotifiedBody.objects.get(number=number)
        assert body.is_notified
        assert body.notified_for(Legislation.PPE)
    assert NotifiedBody.objects.get(number="0598").name == "SGS Fimko Oy"
    assert NotifiedBody.objects.get(number="2163").country == "TR"


def test_the_seeded_sample_knows_bodies_notified_only_under_other_legislation(db):
    gmed = NotifiedBody.objects.get(number="0459")
    assert gmed.is_notified
    assert gmed.notified_for(Legislation.MEDICAL_DEVICES)
    assert not gmed.notified_for(Legislation.PPE)
    assert not NotifiedBody.objects.get(number="0318").notified_for(Legislation.PPE)
    # "CE 1282" on a mask: a real notified body, but for machinery and the like, never for PPE.
    ecm = NotifiedBody.objects.get(number="1282")
    assert ecm.name.startswith("Ente Certificazione Macchine")
    assert ecm.notified_for(Legislation.OTHER)
    assert not ecm.notified_for(Legislation.PPE)


@pytest.mark.parametrize("issuer", NON_NOTIFIED)
def test_the_issuers_of_voluntary_certificates_are_not_notified_for_ppe(db, issuer):
    body = find(issuer)
    assert not body.notified_for(Legislation.PPE)
    assert body.note, "the note tells the jurist why"


def test_the_non_notified_issuers_have_no_number(db):
    issuers = NotifiedBody.objects.filter(number="")
    assert issuers.count() == 6
    assert not any(body.is_notified for body in issuers)
    assert find("ECM").number == "1282"  # the acronym of Ente Certificazione Macchine, notified for other things


def test_the_seeded_notified_rows_say_the_sample_must_be_refreshed_from_nando(db):
    assert all("NANDO" in body.note for body in NotifiedBody.objects.exclude(number=""))


def test_the_migration_loaded_exactly_the_fixture(db):
    rows = notified_bodies.parse_csv(FIXTURE.read_text(encoding="utf-8"))
    stored = {(body.number, body.name): body for body in NotifiedBody.objects.all()}
    assert len(stored) == len(rows) == 18
    for row in rows:
        body = stored[(row["number"], row["name"])]
        assert (body.country, body.legislations, body.aliases, body.note) == (
            row["country"],
            row["legislations"],
            row["aliases"],
            row["note"],
        )
    # Importing the fixture over the seeded data changes nothing.
    assert services.notified_bodies_import(text=FIXTURE.read_text(encoding="utf-8")) == (0, 0)


# --- the parser ------------------------------------------------------------------------------------------
def test_the_parser_reads_a_row_into_the_models_fields():
    text = "\ufeff" + csv_text('0123,"Organisme, notifié",fr,PPE; md ;;ppe,Alias A; alias a;Alias B, note ')
    assert notified_bodies.parse_csv(text) == [
        {
            "number": "0123",
            "name": "Organisme, notifié",
            "country": "FR",
            "legislations": ["ppe", "md"],
            "aliases": ["Alias A", "Alias B"],
            "note": "note",
        }
    ]


def test_the_parser_skips_blank_lines_and_accepts_windows_line_endings():
    text = (HEADER + "0123,Organisme,FR,ppe,,\n,,,,,\n\n,Émetteur,,,,\n").replace("\n", "\r\n")
    assert [body["name"] for body in notified_bodies.parse_csv(text)] == ["Organisme", "Émetteur"]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("123,Organisme,FR,ppe,,", "Line 2: the number “123” is not the 4 digits that follow the CE mark."),
        ("01234,Organisme,FR,ppe,,", "Line 2: the number “01234” is not the 4 digits that follow the CE mark."),
        ("12a4,Organisme,FR,ppe,,", "Line 2: the number “12a4” is not the 4 digits that follow the CE mark."),
        ("0123,,FR,ppe,,", "Line 2: the name is missing."),
        ("0123,Organisme,FR,ppe;gas,,", "Line 2: unknown legislation “gas” (expected ppe, md or other)."),
        ("0123,Organisme,FR,none,,", "Line 2: unknown legislation “none” (expected ppe, md or other)."),
        ("0123,Organisme,France,ppe,,", "Line 2: the country “France” is not a two-letter code (FR, DE…)."),
        (",Émetteur,IT,ppe,,", "Line 2: a body without a number cannot be notified for a legislation."),
        ("0123,Organisme,FR,ppe,,note,de trop", "Line 2: more values than columns"),
        (f"0123,Organisme,FR,ppe,,{'x' * 301}", "Line 2: the note is longer than 300 characters."),
        (f"0123,{'x' * 201},FR,ppe,,", "Line 2: the name is longer than 200 characters."),
    ],
)
def test_the_parser_rejects_a_bad_row_with_its_line_and_reason(row, message):
    with pytest.raises(ValidationError) as refused:
        notified_bodies.parse_csv(csv_text(row))
    assert any(text.startswith(message) for text in refused.value.messages), refused.value.messages


@pytest.mark.usefixtures("english")
def test_the_parser_reports_every_bad_row_at_once():
    text = csv_text("0123,Bon,FR,ppe,,", "12,Mauvais numéro,FR,ppe,,", "0456,,FR,ppe,,", "0789,Autre,FR,gas,,")
    with pytest.raises(ValidationError) as refused:
        notified_bodies.parse_csv(text)
    assert [message.split(":")[0] for message in refused.value.messages] == [f"Line {line}" for line in (3, 4, 5)]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    "rows",
    [
        ("0123,Organisme,FR,ppe,,", "0123,Autre nom,DE,md,,"),
        (",Émetteur volontaire,IT,,,", ",ÉMETTEUR VOLONTAIRE,IT,,,"),
    ],
)
def test_the_parser_refuses_a_body_listed_twice(rows):
    with pytest.raises(ValidationError, match="already appears on line 2"):
        notified_bodies.parse_csv(csv_text(*rows))


@pytest.mark.parametrize(
    "text",
    ["", "nom;numéro\nECM;1282\n", "number,name,country\n0123,Organisme,FR\n", HEADER, HEADER + ",,,,,\n"],
)
def test_the_parser_refuses_a_file_without_the_header_or_without_rows(text):
    with pytest.raises(ValidationError):
        notified_bodies.parse_csv(text)


@pytest.mark.usefixtures("english")
def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(ValidationError, match="UTF-8"):
        notified_bodies.decode(csv_text("0123,Société,FR,ppe,,").encode("latin-1"))
    assert notified_bodies.decode(b"\xef\xbb\xbf" + HEADER.encode()) == HEADER


# --- the import ------------------------------------------------------------------------------------------
def test_importing_creates_then_changes_nothing_then_updates_changed_rows(db):
    before = NotifiedBody.objects.count()
    first = csv_text(
        "9901,Organisme d'essai,FR,ppe,OE,",
        ",Certificateur volontaire,CN,,CV,Non notifié.",
    )
    assert services.notified_bodies_import(text=first) == (2, 0)
    assert NotifiedBody.objects.count() == before + 2
    assert services.notified_bodies_import(text=first) == (0, 0)

    changed = csv_text(
        "9901,Organisme d'essai,FR,ppe;md,OE;Organisme,Notifié aussi pour les DM.",
        ",certificateur volontaire,CN,,CV,Non notifié.",  # found by its name whatever the case, and renamed
    )
    assert services.notified_bodies_import(text=changed) == (0, 2)
    body = NotifiedBody.objects.get(number="9901")
    assert body.legislations == ["ppe", "md"]
    assert body.aliases == ["OE", "Organisme"]
    assert body.note == "Notifié aussi pour les DM."
    assert NotifiedBody.objects.get(number="", name="certificateur volontaire").country == "CN"
    assert NotifiedBody.objects.count() == before + 2


def test_a_body_first_listed_without_number_gets_its_number(db):
    services.notified_bodies_import(text=csv_text(",Laboratoire Exemple,IT,,,"))
    body = NotifiedBody.objects.get(name="Laboratoire Exemple")
    assert services.notified_bodies_import(text=csv_text("9902,Laboratoire Exemple,IT,other,,")) == (0, 1)
    body.refresh_from_db()
    assert body.number == "9902"
    assert body.notified_for(Legislation.OTHER)
    assert not body.notified_for(Legislation.PPE)


def test_a_withdrawn_notification_is_recorded_by_emptying_its_legislations(db):
    assert services.notified_bodies_import(
        text=csv_text("2163,Universal Certification,TR,,,Notification retirée.")
    ) == (
        0,
        1,
    )
    universal = NotifiedBody.objects.get(number="2163")
    assert not universal.is_notified
    assert not universal.notified_for(Legislation.PPE)


def test_bodies_absent_from_the_file_are_kept(db):
    before = snapshot()
    services.notified_bodies_import(text=csv_text("9903,Nouvel organisme,FR,ppe,,"))
    assert snapshot()[: len(before)] == before


def test_a_bad_file_changes_nothing(db):
    before = snapshot()
    text = csv_text(
        "9904,Organisme valable,FR,ppe,,",  # a good row first: it must not be imported either
        "0598,SGS Fimko Oy,FI,md,,Changement qui ne doit pas passer.",
        "12,Numéro à 2 chiffres,FR,ppe,,",
    )
    with pytest.raises(ValidationError):
        services.notified_bodies_import(text=text)
    assert snapshot() == before
    assert not NotifiedBody.objects.filter(number="9904").exists()


# --- the command -----------------------------------------------------------------------------------------
def test_the_command_imports_a_file_and_says_what_it_did(db, tmp_path, capsys):
    path = tmp_path / "organismes.csv"
    path.write_text("\ufeff" + csv_text("9905,Organisme en ligne de commande,FR,ppe,,"), encoding="utf-8")
    call_command("import_notified_bodies", str(path))
    assert (
        gettext("Notified bodies: %(created)s created, %(updated)s updated.")
        % {
            "created": 1,
            "updated": 0,
        }
        in capsys.readouterr().out
    )
    assert NotifiedBody.objects.get(number="9905").notified_for(Legislation.PPE)
    call_command("import_notified_bodies", str(path))
    assert (
        gettext("Notified bodies: %(created)s created, %(updated)s updated.")
        % {
            "created": 0,
            "updated": 0,
        }
        in capsys.readouterr().out
    )


def test_the_command_imports_the_shipped_fixture(db, capsys):
    call_command("import_notified_bodies", str(FIXTURE))
    assert NotifiedBody.objects.count() == 18


@pytest.mark.usefixtures("english")
def test_the_command_refuses_a_bad_file_and_changes_nothing(db, tmp_path):
    before = snapshot()
    bad = tmp_path / "organismes.csv"
    bad.write_text(csv_text("9906,Organisme,FR,ppe,,", "9907,Organisme bis,FR,gas,,"), encoding="utf-8")
    with pytest.raises(CommandError, match="gas"):
        call_command("import_notified_bodies", str(bad))
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(csv_text("9908,Société,FR,ppe,,").encode("latin-1"))
    with pytest.raises(CommandError, match="UTF-8"):
        call_command("import_notified_bodies", str(latin))
    with pytest.raises(CommandError):
        call_command("import_notified_bodies", str(tmp_path / "absent.csv"))
    assert snapshot() == before


# --- the admin -------------------------------------------------------------------------------------------
@pytest.fixture
def staff_admin(admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    return admin_user


@pytest.fixture
def admin_client(client, staff_admin):
    client.force_login(staff_admin)
    return client


IMPORT_URL = "admin:procurement_notifiedbody_import"


def test_an_administrator_imports_a_csv_file_in_the_admin(admin_client):
    changelist = admin_client.get(reverse("admin:procurement_notifiedbody_changelist"))
    assert changelist.status_code == 200
    assert reverse(IMPORT_URL) in changelist.content.decode()  # the button on the list
    assert admin_client.get(reverse(IMPORT_URL)).status_code == 200

    data = csv_text("9909,Organisme importé,BE,ppe,OI,", "0598,SGS Fimko Oy,FI,ppe;md,SGS Fimko,Note revue.")
    response = admin_client.post(reverse(IMPORT_URL), {"file": SimpleUploadedFile("organismes.csv", data.encode())})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:procurement_notifiedbody_changelist")
    assert NotifiedBody.objects.get(number="9909").notified_for(Legislation.PPE)
    fimko = NotifiedBody.objects.get(number="0598")
    assert (fimko.aliases, fimko.note) == (["SGS Fimko"], "Note revue.")
    page = admin_client.get(response["Location"]).content.decode()
    assert gettext("Notified bodies: %(created)s created, %(updated)s updated.") % {"created": 1, "updated": 1} in page


def test_the_admin_import_refuses_a_bad_file_and_says_why(admin_client):
    before = snapshot()
    data = csv_text("9910,Organisme,FR,ppe,,", "123,Numéro court,FR,ppe,,")
    response = admin_client.post(reverse(IMPORT_URL), {"file": SimpleUploadedFile("organismes.csv", data.encode())})
    assert response.status_code == 422
    assert "123" in response.content.decode()
    response = admin_client.post(
        reverse(IMPORT_URL), {"file": SimpleUploadedFile("organismes.csv", "Société".encode("latin-1"))}
    )
    assert response.status_code == 422
    assert snapshot() == before


def test_only_administrators_import_and_edit_the_reference(client, buyer):
    buyer.is_staff = True
    buyer.save(update_fields=["is_staff"])
    client.force_login(buyer)
    data = csv_text("9911,Organisme,FR,ppe,,").encode()
    assert client.post(reverse(IMPORT_URL), {"file": SimpleUploadedFile("o.csv", data)}).status_code == 403
    assert client.get(reverse("admin:procurement_notifiedbody_changelist")).status_code == 403
    assert client.get(reverse("admin:procurement_norm_changelist")).status_code == 403
    assert not NotifiedBody.objects.filter(number="9911").exists()


def test_an_administrator_finds_ecm_by_its_acronym_and_filters_by_legislation(admin_client):
    url = reverse("admin:procurement_notifiedbody_changelist")
    found = admin_client.get(url, {"q": "ECM"}).context["cl"].result_list
    assert [body.number for body in found] == ["1282"]
    ppe = {body.number for body in admin_client.get(url, {"notified_for": "ppe"}).context["cl"].result_list}
    assert {"0161", "0598", "2163", "2797"} <= ppe
    assert not ppe & {"1282", "0459", "0318", ""}
    not_notified = admin_client.get(url, {"notified_for": "none"}).context["cl"].result_list
    assert {body.name for body in not_notified} >= {"ICR Polska", "CELAB", "Amtre Veritas"}
    assert all(not body.is_notified for body in not_notified)


def test_an_administrator_edits_a_body_with_checkboxes_and_a_line_of_aliases(admin_client):
    ecm = NotifiedBody.objects.get(number="1282")
    url = reverse("admin:procurement_notifiedbody_change", args=[ecm.pk])
    page = admin_client.get(url).content.decode()
    assert "ECM; Ente Certificazione Macchine" in page
    form = {"number": "1282", "name": ecm.name, "country": "it", "aliases": "ECM ; ; Ente CM", "note": ecm.note}
    response = admin_client.post(url, {**form, "legislations": ["other"]})
    assert response.status_code == 302
    ecm.refresh_from_db()
    assert (ecm.legislations, ecm.aliases, ecm.country) == (["other"], ["ECM", "Ente CM"], "IT")
    # A 3-digit number, a notified issuer without number, a number already taken: refused.
    for bad in ({"number": "128"}, {"number": ""}, {"number": "0598"}):
        assert admin_client.post(url, {**form, "legislations": ["ppe"], **bad}).status_code == 200
    ecm.refresh_from_db()
    assert ecm.number == "1282"
    assert not ecm.notified_for(Legislation.PPE)


def test_an_administrator_reads_and_edits_the_norms_catalogue(admin_client):
    assert admin_client.get(reverse("admin:procurement_norm_changelist")).status_code == 200
    en149 = Norm.objects.get(code="EN 149:2001+A1:2009")
    page = admin_client.get(reverse("admin:procurement_norm_change", args=[en149.pk])).content.decode()
    assert "FFP2" in page
    classes = admin_client.get(reverse("admin:procurement_normclass_changelist"), {"q": "FFP2"})
    ffp2 = next(row for row in classes.context["cl"].result_list if row.label == "FFP2")
    admin = classes.context["cl"].model_admin
    with translation.override("en"):
        assert admin.thresholds(ffp2) == "filtration ≥ 94 %; inward leakage ≤ 11 %"
        assert admin.thresholds(NormClass.objects.get(label="Type IIR")) == (
            "bacterial filtration ≥ 98 %; breathing resistance < 60 Pa/cm²; splash resistance ≥ 16 kPa"
        )
    assert admin.thresholds(NormClass.objects.get(label="Performance standard")) == "—"
    assert admin.is_derogation(NormClass.objects.get(label="KN95"))
    assert not admin.is_derogation(ffp2)

    url = reverse("admin:procurement_normclass_change", args=[ffp2.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    requirements = list(ffp2.requirements.order_by("pk"))
    data = {
        "norm": en149.pk,
        "label": "FFP2",
        "product": ffp2.product,
        "note": "",
        "filtration_min": "95",
        "inward_leakage_max": "11",
        "derogation_reference": "",
        "requirements-TOTAL_FORMS": len(requirements),
        "requirements-INITIAL_FORMS": len(requirements),
        "requirements-MIN_NUM_FORMS": 0,
        "requirements-MAX_NUM_FORMS": 1000,
    }
    for index, requirement in enumerate(requirements):
        data |= {
            f"requirements-{index}-id": requirement.pk,
            f"requirements-{index}-norm_class": ffp2.pk,
            f"requirements-{index}-kind": requirement.kind,
        }
    data[f"requirements-{len(requirements) - 1}-DELETE"] = "on"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    ffp2.refresh_from_db()
    assert str(ffp2.filtration_min) == "95.00"
    assert ffp2.requirements.count() == len(requirements) - 1


def test_conformity_evidence_never_enters_through_the_admin(client, org, buyer):
    superuser = factories.UserFactory(organisation=org, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    assert client.get(reverse("admin:procurement_conformityevidence_add")).status_code == 403
    case = factories.make_case(buyer, "norm_check")
    offer = factories.add_offer(case, buyer)
    check = ConformityCheck.objects.create(
        offer=offer,
        standard="EN 149",
        verdict=ConformityCheck.Verdict.NON_CONFORM,
        checked_by=buyer,
        checked_at=timezone.now(),
    )
    evidence = ConformityEvidence.objects.create(
        conformity_check=check,
        kind=EvidenceKind.OTHER_CERTIFICATE,
        issuer="ECM",
        notified_body=NotifiedBody.objects.get(number="1282"),
        expires_on=timezone.localdate() + timedelta(days=30),
    )
    assert client.get(reverse("admin:procurement_conformityevidence_changelist")).status_code == 200
    change = reverse("admin:procurement_conformityevidence_change", args=[evidence.pk])
    assert client.get(change).status_code == 200  # read-only view
    assert client.post(change, {"issuer": "Autre"}).status_code == 403
    assert client.post(reverse("admin:procurement_conformityevidence_delete", args=[evidence.pk])).status_code == 403
    evidence.refresh_from_db()
    assert evidence.issuer == "ECM"
    # A body that evidence points to cannot be deleted from the reference.
    response = client.post(
        reverse("admin:procurement_notifiedbody_delete", args=[evidence.notified_body_id]), {"post": "yes"}
    )
    assert response.status_code == 200  # the "cannot delete: protected" page
    assert NotifiedBody.objects.filter(number="1282").exists()
