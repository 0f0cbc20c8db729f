"""Sanctions screening (issue 3, point 4): matching, the two list formats, import, screening, a jurist's review.

What a buyer and a jurist rely on: a listed company is found however its name is written, an unrelated company
sharing a common word is not; every screening is kept with the list version it used; a possible match blocks
until a jurist clears or confirms it with a reason, and a cleared false positive stays cleared while nothing
changed.
"""

import io
import json
import random
import string
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from notifications.models import Notification
from suppliers import sanctions, selectors, services
from suppliers.models import SanctionsEntry, SanctionsList, SanctionsScreening
from tests import factories

FIXTURES = Path(__file__).resolve().parents[2] / "suppliers" / "fixtures" / "sanctions"
FR_FILE = FIXTURES / "registre-national-gels-echantillon.json"
EU_FILE = FIXTURES / "eu-consolidated-echantillon.xml"
FR_DATA = FR_FILE.read_bytes()
EU_DATA = EU_FILE.read_bytes()

# Suppliers of the demo data: the samples must flag none of them (Atlas Négoce International apart).
DEMO_SUPPLIERS = [
    "Transit Sud Logistique",
    "Méditerranée Hygiène Distribution",
    "Shenzhen Yikang Medical Protective Products Co., Ltd.",
    "Guangzhou Hengda Safety Equipment Co., Ltd.",
    "Var Équipements Santé",
    "Hubei Xinda Medical Products Co., Ltd.",
    "CEVA Logistics",
]
Review = SanctionsScreening.Review


def in_french(message: str, **params) -> str:
    with translation.override("fr"):
        text = gettext(message)
    return text % params if params else text


def matcher_of(data: bytes) -> sanctions.SanctionsMatcher:
    parsed = sanctions.parse(data)
    return sanctions.SanctionsMatcher(
        sanctions.ListedEntry(pk=number, reference=entry.reference, names=entry.names)
        for number, entry in enumerate(parsed.entries, start=1)
    )


FR_MATCHER = matcher_of(FR_DATA)
EU_MATCHER = matcher_of(EU_DATA)


# --- matching ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("screened", "matcher", "listed"),
    [
        # accents, case, apostrophe and hyphen
        ("Comptoir Méditerranéen d'Import-Export", FR_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
        ("Comptoir Méditerranéen d'Import-Export", EU_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
        # with a legal form and a typo
        ("Comptoir Mediteraneen d'Import Export SARL", FR_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
        # an alias
        ("CMIE Trading", FR_MATCHER, "CMIE TRADING"),
        ("Atlas Trading Intl.", FR_MATCHER, "ATLAS TRADING INTL"),
        # a reordered person name, both ways round
        ("Dmytro Ivanovych KOVALENKO", FR_MATCHER, "KOVALENKO Dmytro Ivanovych"),
        ("KOVALENKO Dmytro Ivanovych", EU_MATCHER, "Dmytro Ivanovych KOVALENKO"),
        ("Kovalenko, Dmitri Ivanovitch", FR_MATCHER, "KOVALENKO Dmitri Ivanovitch"),
        # the demo's trader, written as a French buyer would
        ("Atlas Négoce International SAS", FR_MATCHER, "ATLAS NEGOCE INTERNATIONAL"),
        # an acronym with dots, an extra country word
        ("C.M.I.E. Trading", FR_MATCHER, "CMIE TRADING"),
        ("Atlas Négoce International France", FR_MATCHER, "ATLAS NEGOCE INTERNATIONAL"),
        # a listed name inside a longer one: extra words do not hide it
        ("Comptoir Méditerranéen d Import-Export Marseille Sud", FR_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
        ("Comptoir Méditerranéen d Import-Export Marseille Sud", EU_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
        ("Atlas Négoce International Trading Group", FR_MATCHER, "ATLAS NEGOCE INTERNATIONAL"),
        ("CMIE Trading Hong Kong Limited", FR_MATCHER, "CMIE TRADING"),
        ("CMIE Trading Hong Kong Limited", EU_MATCHER, "CMIE TRADING"),
        ("Groupe Nordstar Maritime Services", FR_MATCHER, "NORDSTAR MARITIME"),
        ("Comptoir Mediteraneen Import Export Marseille", FR_MATCHER, "COMPTOIR MEDITERRANEEN D IMPORT EXPORT"),
    ],
)
def test_a_listed_name_is_found_however_it_is_written(screened, matcher, listed):
    matches = matcher.search(screened)
    assert [m.name for m in matches] == [listed]
    assert matches[0].score >= 88


@pytest.mark.parametrize(
    "screened",
    [
        "Comptoir Lyonnais du Textile",  # shares "Comptoir"
        "Méditerranée Hygiène Distribution",  # shares "Méditerranée"
        "Comptoir Méditerranéen",  # half of the listed name
        "Atlas Logistique",  # shares "Atlas"
        "International Trading Company",  # only common words
        "Kovalenko Olena",  # same surname, another person
        "Baltic Shipping Services",
        "Orionis Consulting Group",  # a one-word listed name ("ORIONIS") is not looked for inside longer names
        "Atlas Trading International Logistics",  # "INTL" is not "International"
        *DEMO_SUPPLIERS,
    ],
)
def test_an_unrelated_name_sharing_a_common_word_is_not_a_match(screened):
    assert FR_MATCHER.search(screened) == []
    assert EU_MATCHER.search(screened) == []


def test_each_entry_is_reported_once_with_its_best_listed_name():
    matches = EU_MATCHER.search("Comptoir Méditerranéen d'Import-Export")
    assert len(matches) == 1
    assert matches[0].reference == "EU.9901.01"
    assert matches[0].score == 100


def test_a_contained_name_must_be_as_close_as_a_whole_name():
    matcher = sanctions.SanctionsMatcher([sanctions.ListedEntry(pk=1, reference="X.1", names=["ORION MEDIKAL SUPPLY"])])
    # Each word agrees to a typo, and the listed words compared with their counterparts score 95.
    assert [m.score for m in matcher.search("Orion Medical Supply Europe")] == [95]
    assert matcher.search("Orion Medical Supply Europe", threshold=99) == []


def test_the_demo_trader_is_flagged_by_the_french_sample_only():
    assert [m.reference for m in FR_MATCHER.search("Atlas Négoce International")] == ["90002"]
    assert EU_MATCHER.search("Atlas Négoce International") == []


def test_every_disguised_listed_name_is_found_among_20000_entries():
    """Quality at full size; the timings are `make bench`'s business, not a unit test's."""
    from benchmarks.sanctions import run

    figures = run(entries=20_000, names=40, out=io.StringIO())
    assert figures["hits_found"] == figures["hits"]


# --- normalisation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Comptoir Méditerranéen d'Import-Export SARL", "comptoir export import mediterraneen"),
        ("COMPTOIR MEDITERRANEEN D IMPORT EXPORT", "comptoir export import mediterraneen"),
        ("Shenzhen Yikang Medical Protective Products Co., Ltd.", "medical products protective shenzhen yikang"),
        ("Œuvres & Cie", "cie oeuvres"),
        ("Straße der Einheit GmbH", "der einheit strasse"),
        ("S.A.", "sa"),  # nothing but a legal form: kept rather than matching everything
        ("C.M.I.E. Trading", "cmie trading"),  # initials with dots are one word
        ("Dmytro I. Kovalenko", "dmytro kovalenko"),
        ("M & S Trading", "ms trading"),
        ("M and S Trading", "ms trading"),
        ("", ""),
    ],
)
def test_normalise(name, key):
    assert sanctions.normalise(name) == key


WORDS = st.lists(
    st.text(alphabet=string.ascii_letters + "éèêàâçîïôöüÉÈÀÇÔ", min_size=2, max_size=12), min_size=1, max_size=6
)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(words=WORDS, seed=st.integers())
def test_word_order_never_changes_the_key(words, seed):
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    assert sanctions.normalise(" ".join(shuffled)) == sanctions.normalise(" ".join(words))


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(words=WORDS, separator=st.sampled_from([" ", "-", "'", ", ", " & ", ".  "]))
def test_case_accents_and_punctuation_never_change_the_key(words, separator):
    name = " ".join(words)
    key = sanctions.normalise(name)
    assert sanctions.normalise(name.upper()) == key
    assert sanctions.normalise(name.lower()) == key
    assert sanctions.normalise(strip_accents(name)) == key
    assert sanctions.normalise(separator.join(words)) == key


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(name=st.text(max_size=60))
def test_normalising_a_key_again_changes_nothing(name):
    key = sanctions.normalise(name)
    assert sanctions.normalise(key) == key


# --- the two list formats ---------------------------------------------------------------------------
def test_the_french_register_sample_is_parsed():
    parsed = sanctions.parse_fr_register(FR_DATA)
    assert parsed.source == sanctions.FR_DGT
    assert parsed.version == "2026-11-27T17:42:08.117"
    assert timezone.localtime(parsed.published_at).strftime("%d/%m/%Y %H:%M") == "27/11/2026 17:42"
    assert 10 <= len(parsed.entries) <= 20
    by_reference = {entry.reference: entry for entry in parsed.entries}
    comptoir = by_reference["90001"]
    assert comptoir.kind == sanctions.ENTITY
    assert comptoir.names[:2] == ["COMPTOIR MEDITERRANEEN D IMPORT EXPORT", "CMIE TRADING"]
    assert "269/2014" in comptoir.programme
    assert "Motifs" in comptoir.details
    kovalenko = by_reference["90003"]
    assert kovalenko.kind == sanctions.PERSON
    assert kovalenko.names[0] == "KOVALENKO Dmytro Ivanovych"  # surname (Nom) then first names (PRENOM)
    assert "14/03/1971" in kovalenko.details
    assert by_reference["90006"].kind == sanctions.OTHER  # a ship
    assert by_reference["90002"].names == ["ATLAS NEGOCE INTERNATIONAL", "ATLAS TRADING INTL"]


def test_the_eu_consolidated_sample_is_parsed():
    parsed = sanctions.parse_eu_consolidated(EU_DATA)
    assert parsed.source == sanctions.EU_FSF
    assert parsed.version.startswith("2026-11-28T10:15:42.512+01:00")
    assert parsed.published_at.isoformat() == "2026-11-28T10:15:42.512000+01:00"
    assert 10 <= len(parsed.entries) <= 20
    by_reference = {entry.reference: entry for entry in parsed.entries}
    kovalenko = by_reference["EU.9901.02"]
    assert kovalenko.kind == sanctions.PERSON
    assert kovalenko.names == [
        "Dmytro Ivanovych KOVALENKO",
        "Dmitriy Ivanovich KOVALENKO",
        "Дмитро Іванович КОВАЛЕНКО",
    ]
    assert kovalenko.programme == "UKR"
    assert "1971-03-14" in kovalenko.details
    assert by_reference["EU.9901.01"].kind == sanctions.ENTITY
    assert "CMIE TRADING" in by_reference["EU.9901.01"].names


def test_the_format_is_detected():
    assert sanctions.detect_format(FR_DATA) == sanctions.FR_DGT
    assert sanctions.detect_format(b"\xef\xbb\xbf  " + EU_DATA) == sanctions.EU_FSF


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-01-01">&lol2;</export>"""
EU_EMPTY = b'<?xml version="1.0"?><export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-01-01"/>'
EU_NO_NAME = (
    b'<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-01-01">'
    b'<sanctionEntity logicalId="1"><subjectType code="person"/></sanctionEntity></export>'
)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unknown_format"),
        (b"%PDF-1.4 not a list", "unknown_format"),
        (b"<html><body>Registre</body></html>", "unknown_format"),
        (FR_DATA[: len(FR_DATA) // 2], "unknown_format"),  # truncated download
        (EU_DATA[: len(EU_DATA) // 2], "unknown_format"),
        (b'{"Publications": {"DatePublication": "2026-01-01"}}', "not_fr_register"),
        (b'{"Publications": {"PublicationDetail": [{"Nom": "X"}]}}', "not_fr_register"),
        (b'{"Publications": {"PublicationDetail": []}}', "empty"),
        (b'{"Publications": {"PublicationDetail": [{"IdRegistre": 1, "Nature": "Personne morale"}]}}', "no_name"),
        (b'<other xmlns="http://eu.europa.ec/fpi/fsd/export"/>', "not_eu_list"),
        (EU_EMPTY, "empty"),
        (EU_NO_NAME, "no_name"),
        (BILLION_LAUGHS, "xml_unsafe"),
    ],
)
def test_a_bad_file_is_refused_with_a_reason(data, code):
    with pytest.raises(ValidationError) as refused:
        sanctions.parse(data)
    assert refused.value.code == code
    assert refused.value.messages[0]


def test_a_file_of_the_other_source_is_refused():
    with pytest.raises(ValidationError) as refused:
        sanctions.parse(FR_DATA, source=sanctions.EU_FSF)
    assert refused.value.code == "wrong_source"


# --- import -----------------------------------------------------------------------------------------
@pytest.fixture
def fr_list(db):
    return services.sanctions_import(data=FR_DATA, original_name=FR_FILE.name)


@pytest.fixture
def eu_list(db):
    return services.sanctions_import(data=EU_DATA, original_name=EU_FILE.name)


def fr_data_of(version: str, *, drop: str | None = None) -> bytes:
    """The French sample as another publication (another version), optionally without one entry."""
    document = json.loads(FR_DATA)
    document["Publications"]["DatePublication"] = version
    details = document["Publications"]["PublicationDetail"]
    document["Publications"]["PublicationDetail"] = [d for d in details if d["Nom"] != drop]
    return json.dumps(document, ensure_ascii=False).encode()


def test_importing_a_list_stores_its_entries_with_their_keys(fr_list, admin_user):
    assert fr_list.newly_imported
    assert fr_list.source == SanctionsList.Source.FR
    assert fr_list.version == "2026-11-27T17:42:08.117"
    assert fr_list.entry_count == fr_list.entries.count() == 12
    assert fr_list.original_name == FR_FILE.name
    entry = fr_list.entries.get(reference="90001")
    assert entry.keys == [sanctions.normalise(name) for name in entry.names]
    assert entry.keys[0] == "comptoir export import mediterraneen"


def test_importing_the_same_file_again_changes_nothing(fr_list):
    again = services.sanctions_import(data=FR_DATA, original_name="copie.json")
    assert again.pk == fr_list.pk
    assert not again.newly_imported
    assert SanctionsList.objects.count() == 1
    assert SanctionsEntry.objects.count() == 12


def test_a_bad_file_stores_nothing(db):
    with pytest.raises(ValidationError):
        services.sanctions_import(data=b'{"Publications": {}}')
    with pytest.raises(ValidationError):
        services.sanctions_import(data=EU_DATA, source=SanctionsList.Source.FR)
    assert not SanctionsList.objects.exists()


def eu_xml_of(entries) -> bytes:
    from xml.sax.saxutils import quoteattr

    rows = [
        f'<sanctionEntity euReferenceNumber="{e.reference}" logicalId="{e.pk}">'
        f'<regulation programme="RUS" numberTitle="2026/1"/>'
        f'<subjectType code="enterprise" classificationCode="E"/>'
        + "".join(f"<nameAlias wholeName={quoteattr(name)}/>" for name in e.names)
        + "</sanctionEntity>"
        for e in entries
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-11-30T08:00:00.000+01:00">'
        + "".join(rows)
        + "</export>"
    ).encode()


@pytest.mark.slow
def test_a_20000_entry_list_imports_whole(db):
    from benchmarks.sanctions import synthetic_list

    data = eu_xml_of(synthetic_list(20_000, seed=3))
    imported = services.sanctions_import(data=data)
    assert imported.entry_count == SanctionsEntry.objects.filter(sanctions_list=imported).count() == 20_000


def test_the_command_imports_a_list_once(db, capsys):
    call_command("import_sanctions", str(EU_FILE))
    assert "Liste importée" in capsys.readouterr().out
    call_command("import_sanctions", str(EU_FILE), "--source", "eu_fsf")
    output = capsys.readouterr().out
    assert "déjà importée" in output
    assert "12 entrées" in output
    assert SanctionsList.objects.get().source == SanctionsList.Source.EU


def test_the_command_refuses_a_bad_file(db, tmp_path):
    bad = tmp_path / "liste.json"
    bad.write_bytes(b'{"Publications": []}')
    with pytest.raises(CommandError):
        call_command("import_sanctions", str(bad))
    with pytest.raises(CommandError):
        call_command("import_sanctions", str(FR_FILE), "--source", "eu_fsf")
    with pytest.raises(CommandError):
        call_command("import_sanctions", str(tmp_path / "absent.json"))
    assert not SanctionsList.objects.exists()


def test_the_command_explains_itself_in_french():
    from suppliers.management.commands.import_sanctions import Command

    with translation.override("fr"):
        usage = Command().create_parser("manage.py", "import_sanctions").format_help()
    assert "Importe une liste de gel des avoirs" in usage
    assert "Fichier de la liste (JSON ou XML)." in usage


def test_the_command_speaks_the_sites_language(db, capsys, settings):
    settings.LANGUAGE_CODE = "en"
    call_command("import_sanctions", str(EU_FILE))
    output = capsys.readouterr().out
    assert "List imported: EU consolidated financial sanctions list, version " in output
    assert "12 entries" in output


def test_entry_details_are_stored_in_the_sites_language_whoever_imports(db, settings):
    with translation.override("en"):  # an administrator browsing in English
        fr_list = services.sanctions_import(data=FR_DATA)
    details = fr_list.entries.get(reference="90003").details
    assert "Date de naissance : 14/03/1971" in details
    assert "Date of birth" not in details
    settings.LANGUAGE_CODE = "en"  # a site in English stores English labels
    with translation.override("fr"):
        eu_list = services.sanctions_import(data=EU_DATA)
    details = eu_list.entries.get(reference="EU.9901.02").details
    assert "Date of birth: 1971-03-14" in details
    assert "Date de naissance" not in details


# --- list versions: the latest is the latest published ----------------------------------------------
def test_the_latest_list_is_the_latest_published_not_the_latest_imported(fr_list, transit, buyer):
    newer = services.sanctions_import(
        data=fr_data_of("2026-11-29T17:00:00"), now=fr_list.imported_at - timedelta(hours=1)
    )
    assert newer.imported_at < fr_list.imported_at  # imported "earlier" (another server's clock)
    assert selectors.latest_lists() == [newer]
    [screening] = services.supplier_screen(supplier=transit, actor=buyer)
    assert screening.sanctions_list == newer
    assert selectors.current_screenings(transit) == [screening]
    assert selectors.current_screenings_by_supplier([transit.pk]) == {transit.pk: [screening]}


def test_a_list_published_before_the_one_in_use_is_refused(db):
    current = services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00"))
    with pytest.raises(ValidationError) as refused:
        services.sanctions_import(data=FR_DATA)  # published on 27/11/2026
    assert refused.value.code == "older"
    with translation.override("fr"):
        assert refused.value.messages == [
            "Ce fichier a été publié le 27/11/2026 17:42, avant la liste en vigueur (publiée le 29/11/2026 17:00) : "
            "importez la dernière publication."
        ]
    assert list(SanctionsList.objects.all()) == [current]
    assert SanctionsEntry.objects.count() == current.entry_count
    # The same file again is still "already imported", and a newer one is welcome.
    assert not services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00")).newly_imported
    assert services.sanctions_import(data=fr_data_of("2026-11-30T08:00:00")).newly_imported


def test_an_undated_list_after_a_dated_one_is_refused(fr_list):
    with pytest.raises(ValidationError) as refused:
        services.sanctions_import(data=fr_data_of("publication du jour"))
    assert refused.value.code == "undated"
    assert list(SanctionsList.objects.all()) == [fr_list]


def test_the_command_and_the_admin_refuse_an_older_list(db, client, admin_user):
    services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00"))
    with pytest.raises(CommandError, match="avant la liste en vigueur"):
        call_command("import_sanctions", str(FR_FILE))
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:suppliers_sanctionslist_add"), {"file": SimpleUploadedFile(FR_FILE.name, FR_DATA), "source": ""}
    )
    assert response.status_code == 422
    assert "avant la liste en vigueur" in response.content.decode()
    assert SanctionsList.objects.count() == 1


# --- admin upload -----------------------------------------------------------------------------------
@pytest.fixture
def staff_admin(admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    return admin_user


def test_an_administrator_uploads_a_list_in_the_admin(client, staff_admin):
    client.force_login(staff_admin)
    add_url = reverse("admin:suppliers_sanctionslist_add")
    assert client.get(add_url).status_code == 200
    response = client.post(add_url, {"file": SimpleUploadedFile(FR_FILE.name, FR_DATA), "source": ""})
    imported = SanctionsList.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:suppliers_sanctionslist_change", args=[imported.pk])
    assert imported.imported_by == staff_admin
    assert imported.entry_count == 12
    # Uploading it again changes nothing; the list is read-only and cannot be deleted.
    client.post(add_url, {"file": SimpleUploadedFile("encore.json", FR_DATA), "source": ""})
    assert SanctionsList.objects.count() == 1
    assert client.get(reverse("admin:suppliers_sanctionslist_change", args=[imported.pk])).status_code == 200
    assert client.post(reverse("admin:suppliers_sanctionslist_delete", args=[imported.pk])).status_code == 403
    assert client.get(reverse("admin:suppliers_sanctionsscreening_changelist")).status_code == 200
    assert client.get(reverse("admin:suppliers_sanctionsscreening_add")).status_code == 403


def test_the_admin_upload_refuses_a_bad_file(client, staff_admin):
    client.force_login(staff_admin)
    response = client.post(
        reverse("admin:suppliers_sanctionslist_add"),
        {"file": SimpleUploadedFile("liste.xml", b"<html></html>"), "source": ""},
    )
    assert response.status_code == 422
    assert not SanctionsList.objects.exists()


def test_only_administrators_upload_lists(client, buyer):
    buyer.is_staff = True
    buyer.save(update_fields=["is_staff"])
    client.force_login(buyer)
    response = client.post(
        reverse("admin:suppliers_sanctionslist_add"), {"file": SimpleUploadedFile(FR_FILE.name, FR_DATA)}
    )
    assert response.status_code == 403
    assert not SanctionsList.objects.exists()


# --- screening --------------------------------------------------------------------------------------
@pytest.fixture
def lists(fr_list, eu_list):
    return {"fr": fr_list, "eu": eu_list}


@pytest.fixture
def atlas(org, buyer):
    return factories.SupplierFactory(organisation=org, created_by=buyer, name="Atlas Négoce International")


@pytest.fixture
def transit(org, buyer):
    return factories.SupplierFactory(organisation=org, created_by=buyer, name="Transit Sud Logistique")


def by_source(screenings) -> dict:
    return {screening.sanctions_list.source: screening for screening in screenings}


def test_no_screening_without_an_imported_list(transit, buyer):
    assert services.supplier_screen(supplier=transit, actor=buyer) == []
    assert services.supplier_screen_if_stale(supplier=transit, actor=buyer) == []
    assert not SanctionsScreening.objects.exists()


def test_a_clear_screening_is_kept_with_the_list_version(lists, transit, buyer):
    screenings = services.supplier_screen(supplier=transit, actor=buyer)
    assert len(screenings) == 2
    for screening in screenings:
        screening.refresh_from_db()
        assert screening.result == SanctionsScreening.Result.CLEAR
        assert screening.review == Review.NONE
        assert screening.matches == []
        assert screening.names_screened == ["Transit Sud Logistique"]
        assert screening.screened_by == buyer
        assert not screening.blocks_approval
    assert {s.sanctions_list.version for s in screenings} == {lists["fr"].version, lists["eu"].version}


def test_a_possible_match_awaits_a_jurist_who_is_notified(lists, atlas, buyer, jurist, outsider):
    other_jurist = factories.UserFactory(organisation=outsider.organisation, roles=["jurist"])
    screenings = by_source(services.supplier_screen(supplier=atlas, actor=buyer))
    fr = screenings[SanctionsList.Source.FR]
    assert fr.result == SanctionsScreening.Result.POSSIBLE_MATCH
    assert fr.review == Review.PENDING
    assert fr.blocks_approval
    [match] = fr.matches
    assert match["name"] == "ATLAS NEGOCE INTERNATIONAL"
    assert match["reference"] == "90002"
    assert match["screened"] == "Atlas Négoce International"
    assert match["score"] == 100
    assert match["entry"] == lists["fr"].entries.get(reference="90002").pk
    assert screenings[SanctionsList.Source.EU].result == SanctionsScreening.Result.CLEAR
    [notification] = Notification.objects.filter(verb="sanctions_match")
    assert notification.recipient == jurist
    assert notification.url == atlas.get_absolute_url()
    assert "Atlas Négoce International" in notification.text
    assert not Notification.objects.filter(recipient__in=[buyer, other_jurist]).exists()


def test_every_screening_is_kept(lists, transit, buyer):
    services.supplier_screen(supplier=transit, actor=buyer)
    services.supplier_screen(supplier=transit, actor=buyer)
    assert transit.screenings.count() == 4
    assert len(list(selectors.screening_history(transit))) == 4
    assert len(selectors.current_screenings(transit)) == 2


def test_a_screening_is_rerun_once_older_than_seven_days(lists, transit, buyer, settings):
    assert settings.SANCTIONS_SCREENING_MAX_AGE_DAYS == 7
    start = timezone.now() - timedelta(days=30)
    first = services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=start)
    assert len(first) == 2
    again = services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=start + timedelta(days=6))
    assert {s.pk for s in again} == {s.pk for s in first}
    later = services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=start + timedelta(days=8))
    assert not {s.pk for s in later} & {s.pk for s in first}
    assert transit.screenings.count() == 4


def test_a_new_list_version_reruns_the_screening_against_it(lists, transit, buyer):
    now = timezone.now()
    first = by_source(services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=now))
    newer = services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00"), now=now + timedelta(hours=1))
    assert selectors.latest_lists() == [newer, lists["eu"]]  # French register first
    current = by_source(services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=now + timedelta(hours=2)))
    assert current[SanctionsList.Source.FR].sanctions_list == newer
    assert current[SanctionsList.Source.EU].pk == first[SanctionsList.Source.EU].pk  # still fresh, not re-run
    assert {s.pk for s in selectors.current_screenings(transit)} == {s.pk for s in current.values()}


def test_renaming_a_supplier_screens_its_new_name_at_once(lists, transit, buyer, buyer2, jurist):
    services.supplier_screen(supplier=transit, actor=buyer)  # clear
    services.supplier_update(supplier=transit, actor=buyer2, name="Atlas Négoce International")
    current = by_source(selectors.current_screenings(transit))
    fr = current[SanctionsList.Source.FR]
    assert fr.names_screened == ["Atlas Négoce International"]
    assert fr.screened_by == buyer2
    assert fr.review == Review.PENDING
    assert fr.blocks_approval
    assert current[SanctionsList.Source.EU].names_screened == ["Atlas Négoce International"]
    assert Notification.objects.filter(verb="sanctions_match", recipient=jurist).count() == 1
    # Other changes do not screen again.
    services.supplier_update(supplier=transit, actor=buyer2, address="2 quai d'Arenc, Marseille")
    assert transit.screenings.count() == 4


def test_renaming_from_the_edit_page_screens_the_new_name(client, lists, transit, buyer):
    services.supplier_screen(supplier=transit, actor=buyer)
    client.force_login(buyer)
    response = client.post(
        reverse("suppliers:edit", args=[transit.pk]),
        {"name": "CMIE Trading Hong Kong Limited", "vat_number": "", "address": "", "email": "", "website": ""},
    )
    assert response.status_code == 302
    assert {s.review for s in selectors.current_screenings(transit)} == {Review.PENDING}


def test_renaming_without_any_list_screens_nothing(transit, buyer):
    services.supplier_update(supplier=transit, actor=buyer, name="Atlas Négoce International")
    assert not SanctionsScreening.objects.exists()


def test_a_fresh_screening_of_a_former_name_is_stale(lists, transit, buyer):
    now = timezone.now()
    [first, _eu] = services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=now)
    # Renamed without the service (as before the rename was screened): the next vetting decision screens again.
    type(transit).objects.filter(pk=transit.pk).update(name="Atlas Négoce International")
    transit.refresh_from_db()
    fr = by_source(services.supplier_screen_if_stale(supplier=transit, actor=buyer, now=now + timedelta(hours=1)))[
        SanctionsList.Source.FR
    ]
    assert fr.pk != first.pk
    assert fr.names_screened == ["Atlas Négoce International"]
    assert fr.review == Review.PENDING


# --- review -----------------------------------------------------------------------------------------
@pytest.fixture
def pending(lists, atlas, buyer):
    return by_source(services.supplier_screen(supplier=atlas, actor=buyer))[SanctionsList.Source.FR]


def test_a_jurist_clears_a_false_positive_with_a_reason(pending, jurist):
    reviewed = services.screening_review(
        screening=pending, actor=jurist, review="cleared", reason="Homonyme : SIREN français, créé en 1998."
    )
    reviewed.refresh_from_db()
    assert reviewed.review == Review.CLEARED
    assert reviewed.reviewed_by == jurist
    assert reviewed.reviewed_at is not None
    assert reviewed.review_reason == "Homonyme : SIREN français, créé en 1998."
    assert not reviewed.blocks_approval


def test_a_confirmed_match_keeps_blocking(pending, jurist):
    reviewed = services.screening_review(screening=pending, actor=jurist, review="confirmed", reason="Même adresse.")
    assert reviewed.blocks_approval


@pytest.mark.parametrize("who", ["buyer", "director", "other_jurist"])
def test_only_a_jurist_of_the_organisation_reviews(pending, request, who, outsider):
    actor = (
        factories.UserFactory(organisation=outsider.organisation, roles=["jurist"])
        if who == "other_jurist"
        else request.getfixturevalue(who)
    )
    with pytest.raises(PermissionDenied):
        services.screening_review(screening=pending, actor=actor, review="cleared", reason="Homonyme.")
    pending.refresh_from_db()
    assert pending.review == Review.PENDING


@pytest.mark.parametrize(("review", "reason", "field"), [("cleared", "  ", "reason"), ("maybe", "Vu.", "review")])
def test_a_review_needs_a_decision_and_a_reason(pending, jurist, review, reason, field):
    with pytest.raises(ValidationError) as refused:
        services.screening_review(screening=pending, actor=jurist, review=review, reason=reason)
    assert field in refused.value.message_dict
    pending.refresh_from_db()
    assert pending.review == Review.PENDING


def test_a_screening_is_reviewed_once(pending, jurist):
    services.screening_review(screening=pending, actor=jurist, review="cleared", reason="Homonyme.")
    with pytest.raises(ValidationError) as refused:
        services.screening_review(screening=pending, actor=jurist, review="confirmed", reason="Finalement si.")
    assert refused.value.code == "already_reviewed"
    pending.refresh_from_db()
    assert pending.review == Review.CLEARED


def test_a_clear_screening_has_nothing_to_review(lists, transit, buyer, jurist):
    clear = services.supplier_screen(supplier=transit, actor=buyer)[0]
    with pytest.raises(ValidationError):
        services.screening_review(screening=clear, actor=jurist, review="cleared", reason="Rien.")


def test_a_cleared_false_positive_stays_cleared_while_list_and_matches_are_the_same(pending, atlas, buyer, jurist):
    reviewed_at = timezone.now()
    services.screening_review(screening=pending, actor=jurist, review="cleared", reason="Homonyme.", now=reviewed_at)
    notified = Notification.objects.count()
    for days in (8, 16):
        rerun = services.supplier_screen_if_stale(supplier=atlas, actor=buyer, now=reviewed_at + timedelta(days=days))
        fr = by_source(rerun)[SanctionsList.Source.FR]
        assert fr.pk != pending.pk
        assert fr.result == SanctionsScreening.Result.POSSIBLE_MATCH
        assert fr.review == Review.CLEARED
        assert fr.reviewed_by == jurist
        assert fr.reviewed_at == reviewed_at
        assert fr.review_reason.endswith("Homonyme.")
        assert fr.review_reason != "Homonyme."  # says it was carried over
        assert fr.review_reason.count("Homonyme.") == 1  # once, however many times carried
        assert not fr.blocks_approval
    assert Notification.objects.count() == notified


def test_a_new_list_version_needs_a_new_review(pending, atlas, buyer, jurist):
    services.screening_review(screening=pending, actor=jurist, review="cleared", reason="Homonyme.")
    services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00"))
    fr = by_source(services.supplier_screen_if_stale(supplier=atlas, actor=buyer))[SanctionsList.Source.FR]
    assert fr.review == Review.PENDING
    assert fr.blocks_approval


def test_a_renamed_supplier_needs_a_new_review(pending, atlas, buyer, jurist):
    services.screening_review(screening=pending, actor=jurist, review="cleared", reason="Homonyme.")
    atlas.name = "ATLAS NEGOCE INTERNATIONAL SARL"  # the same listed entry matches, but the name screened changed
    atlas.save()
    rerun = by_source(services.supplier_screen(supplier=atlas, actor=buyer))[SanctionsList.Source.FR]
    assert [match["reference"] for match in rerun.matches] == ["90002"]
    assert rerun.review == Review.PENDING


def test_a_different_match_set_needs_a_new_review(db, org, buyer, jurist, settings):
    listed = [
        sanctions.ListedEntry(pk=1, reference="EU.1", names=["ORION MEDICAL SUPPLY"]),
        sanctions.ListedEntry(pk=2, reference="EU.2", names=["ORION MEDIKAL SUPPLY"]),
    ]
    services.sanctions_import(data=eu_xml_of(listed))
    orion = factories.SupplierFactory(organisation=org, created_by=buyer, name="Orion Medical Supply")
    [first] = services.supplier_screen(supplier=orion, actor=buyer)
    assert sorted(match["reference"] for match in first.matches) == ["EU.1", "EU.2"]
    services.screening_review(screening=first, actor=jurist, review="cleared", reason="Homonymes.")
    settings.SANCTIONS_MATCH_THRESHOLD = 99  # same list, same name, fewer matches
    [second] = services.supplier_screen(supplier=orion, actor=buyer)
    assert [match["reference"] for match in second.matches] == ["EU.1"]
    assert second.review == Review.PENDING


def jurist_notifications():
    return Notification.objects.filter(verb="sanctions_match")


def test_weekly_reruns_of_an_unreviewed_match_do_not_pile_up(client, jurist, pending, atlas, buyer):
    assert jurist_notifications().count() == 1
    reruns = []
    for days in (8, 16):
        screenings = services.supplier_screen_if_stale(
            supplier=atlas, actor=None, now=pending.screened_at + timedelta(days=days)
        )
        reruns.append(by_source(screenings)[SanctionsList.Source.FR])
    older, newest = [pending, reruns[0]], reruns[1]
    # Every screening is kept; only the newest awaits a jurist, who was told once.
    assert atlas.screenings.filter(sanctions_list__source=SanctionsList.Source.FR).count() == 3
    for screening in older:
        screening.refresh_from_db()
        assert screening.review == Review.SUPERSEDED
        assert not screening.blocks_approval
    assert newest.review == Review.PENDING
    assert jurist_notifications().count() == 1
    # The supplier page offers to review the newest only.
    client.force_login(jurist)
    page = client.get(atlas.get_absolute_url()).content.decode()
    assert reverse("suppliers:screening_review", args=[newest.pk]) in page
    for screening in older:
        assert reverse("suppliers:screening_review", args=[screening.pk]) not in page
    assert page.count(in_french("Replaced by a more recent screening")) == 2
    # An older one cannot be reviewed any more; reviewing the newest unblocks the supplier.
    assert client.get(reverse("suppliers:screening_review", args=[pending.pk])).status_code == 302
    with pytest.raises(ValidationError) as refused:
        services.screening_review(screening=pending, actor=jurist, review="cleared", reason="Homonyme.")
    assert refused.value.code == "superseded"
    response = client.post(
        reverse("suppliers:screening_review", args=[newest.pk]), {"review": "cleared", "reason": "Homonyme."}
    )
    assert response.status_code == 302
    assert not any(s.blocks_approval for s in selectors.current_screenings(atlas))
    assert not any(s.blocks_approval for s in selectors.current_screenings_by_supplier([atlas.pk])[atlas.pk])


def test_a_rerun_against_a_new_list_version_is_notified_again(jurist, pending, atlas, buyer):
    newer = services.sanctions_import(data=fr_data_of("2026-11-29T17:00:00"))
    fr = by_source(services.supplier_screen(supplier=atlas, actor=buyer))[SanctionsList.Source.FR]
    assert fr.sanctions_list == newer
    assert fr.review == Review.PENDING
    assert jurist_notifications().count() == 2  # a new list version needs its own review
    pending.refresh_from_db()
    assert pending.review == Review.SUPERSEDED


def test_a_rerun_finding_other_matches_is_notified_again(db, org, buyer, jurist, settings):
    listed = [
        sanctions.ListedEntry(pk=1, reference="EU.1", names=["ORION MEDICAL SUPPLY"]),
        sanctions.ListedEntry(pk=2, reference="EU.2", names=["ORION MEDIKAL SUPPLY"]),
    ]
    services.sanctions_import(data=eu_xml_of(listed))
    orion = factories.SupplierFactory(organisation=org, created_by=buyer, name="Orion Medical Supply")
    [first] = services.supplier_screen(supplier=orion, actor=buyer)
    settings.SANCTIONS_MATCH_THRESHOLD = 99
    [second] = services.supplier_screen(supplier=orion, actor=buyer)
    assert [match["reference"] for match in second.matches] == ["EU.1"]
    assert second.review == Review.PENDING
    assert jurist_notifications().count() == 2
    first.refresh_from_db()
    assert first.review == Review.SUPERSEDED


def test_a_clear_rerun_supersedes_the_match_still_awaiting(pending, atlas, buyer):
    services.supplier_update(supplier=atlas, actor=buyer, name="Transit Sud Logistique")
    pending.refresh_from_db()
    assert pending.review == Review.SUPERSEDED
    assert not any(s.blocks_approval for s in selectors.current_screenings(atlas))


# --- pages ------------------------------------------------------------------------------------------
def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_a_buyer_screens_a_supplier_from_its_page(client, lists, transit, buyer):
    client.force_login(buyer)
    url = reverse("suppliers:screen", args=[transit.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(transit.get_absolute_url(), 302)]
    assert messages_of(response) == [in_french("Screening done: no match.")]
    assert transit.screenings.count() == 2
    assert lists["fr"].version_label in response.content.decode()


def test_a_possible_match_is_announced_and_shown(client, lists, atlas, jurist):
    client.force_login(jurist)
    response = client.post(reverse("suppliers:screen", args=[atlas.pk]), follow=True)
    [message] = messages_of(response)
    assert "ATLAS NEGOCE INTERNATIONAL" in message
    screening = atlas.screenings.get(result=SanctionsScreening.Result.POSSIBLE_MATCH)
    page = response.content.decode()
    assert reverse("suppliers:screening_review", args=[screening.pk]) in page


def test_screening_without_a_list_says_an_administrator_must_import_one(client, transit, buyer):
    client.force_login(buyer)
    response = client.post(reverse("suppliers:screen", args=[transit.pk]), follow=True)
    assert messages_of(response) == [
        in_french("No sanctions list has been imported yet: an administrator must import one first.")
    ]


@pytest.mark.parametrize(("who", "status"), [("director", 403), ("outsider", 404), ("norole", 403)])
def test_who_may_screen(client, lists, transit, request, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.post(reverse("suppliers:screen", args=[transit.pk])).status_code == status
    assert not transit.screenings.exists()


def test_a_jurist_reviews_a_possible_match_from_its_page(client, pending, jurist):
    client.force_login(jurist)
    url = reverse("suppliers:screening_review", args=[pending.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "ATLAS NEGOCE INTERNATIONAL" in page.content.decode()
    assert "ATLAS TRADING INTL" in page.content.decode()  # the listed entry's aliases, to compare
    refused = client.post(url, {"review": "cleared", "reason": ""})
    assert refused.status_code == 422
    pending.refresh_from_db()
    assert pending.review == Review.PENDING
    done = client.post(url, {"review": "cleared", "reason": "Homonyme : société française depuis 1998."})
    assert done.status_code == 302
    assert done["Location"] == pending.supplier.get_absolute_url()
    pending.refresh_from_db()
    assert pending.review == Review.CLEARED
    assert pending.reviewed_by == jurist
    # Reviewed: the page sends back to the supplier.
    assert client.get(url).status_code == 302


@pytest.mark.parametrize(("who", "status"), [("buyer", 403), ("director", 403), ("outsider", 404)])
def test_only_the_organisations_jurists_open_the_review(client, pending, request, who, status):
    user = request.getfixturevalue(who)
    if who == "outsider":
        user = factories.UserFactory(organisation=user.organisation, roles=["jurist"])
    client.force_login(user)
    url = reverse("suppliers:screening_review", args=[pending.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"review": "cleared", "reason": "Homonyme."}).status_code == status
    pending.refresh_from_db()
    assert pending.review == Review.PENDING


def test_the_supplier_page_shows_every_screening_in_constant_queries(client, lists, atlas, buyer, jurist):
    client.force_login(jurist)
    services.supplier_screen(supplier=atlas, actor=buyer)
    with CaptureQueriesContext(connection) as few:
        assert client.get(atlas.get_absolute_url()).status_code == 200
    for _ in range(4):
        services.supplier_screen(supplier=atlas, actor=jurist)
    with CaptureQueriesContext(connection) as many:
        response = client.get(atlas.get_absolute_url())
    assert len(many) == len(few)
    # Five screenings matched it: one row each in the history, plus the red flag of the current one.
    history = response.content.decode().split('id="screening-history', 1)[-1]
    assert history.count("ATLAS NEGOCE INTERNATIONAL") == 5
    assert len(response.context["screenings"]["history"]) == 10


def test_the_supplier_page_says_when_no_list_was_imported(client, transit, buyer):
    client.force_login(buyer)
    response = client.get(transit.get_absolute_url())
    assert response.context["screenings"] == {"current": [], "history": [], "lists_imported": False}
    assert reverse("suppliers:screen", args=[transit.pk]) not in response.content.decode()
