"""Supplier identity: identifiers computed with stdnum's own check-digit functions (never hard-coded only),
the DECP identifier type per country, the NAF/APE code, one supplier per SIREN, establishments.

Messages are compared as a French page shows them (the msgid rendered through the French catalogue, escaped).
"""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext
from stdnum import luhn
from stdnum.es import cif
from stdnum.eu import vat as eu_vat
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret
from stdnum.fr import tva as fr_tva
from stdnum.iso7064 import mod_11_10

from suppliers import identity, services
from suppliers.forms import SupplierForm
from suppliers.models import Establishment, Supplier
from tests import factories

LA_POSTE_SIREN = "356000000"


# --- identifiers, computed ------------------------------------------------------------------------
def make_siren(body: str) -> str:
    """A valid SIREN: 8 digits and their Luhn check digit."""
    return body + luhn.calc_check_digit(body)


def make_siret_of(siren: str, nic: str) -> str:
    """A valid SIRET: the SIREN, a 4-digit establishment number and the Luhn check digit of the whole."""
    base = siren + nic
    return base + luhn.calc_check_digit(base)


def fr_vat_of(siren: str) -> str:
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def other_digit(number: str, position: int) -> str:
    """`number` with the digit at `position` changed (+1 mod 10)."""
    digits = list(number)
    digits[position] = str((int(digits[position]) + 1) % 10)
    return "".join(digits)


def de_vat(body: str) -> str:
    return "DE" + body + mod_11_10.calc_check_digit(body)


def it_vat(company: str, province: str = "013") -> str:
    base = company + province
    return "IT" + base + luhn.calc_check_digit(base)


def es_vat(letter: str, digits: str) -> str:
    # A (sociedad anónima) and B (limitada) take the numeric check digit.
    return "ES" + letter + digits + cif.calc_check_digits(letter + digits)[0]


def la_poste_siret(*, digit_sum_multiple_of_5: bool) -> str:
    """A SIRET of La Poste (SIREN 356000000) that fails Luhn, with or without a digit sum multiple of 5."""
    for n in range(1, 100_000):
        candidate = f"{LA_POSTE_SIREN}{n:05d}"
        if candidate == "35600000000048" or luhn.is_valid(candidate):
            continue
        if (sum(map(int, candidate)) % 5 == 0) == digit_sum_multiple_of_5:
            return candidate
    raise AssertionError("no candidate")


SIRENS = [make_siren(body) for body in ("73282932", "55210055", "44306184", "12345678", "80000001")]
SIRETS = [
    make_siret_of(siren, nic) for siren, nic in zip(SIRENS, ("0001", "0002", "0107", "0420", "9999"), strict=True)
]


@pytest.mark.parametrize("siren", SIRENS)
def test_computed_sirens_are_valid_and_a_changed_digit_is_refused(siren):
    assert identity.clean_siren(siren) == siren
    assert identity.clean_siren(f"{siren[:3]} {siren[3:6]} {siren[6:]}") == siren
    for position in (0, 4, 8):
        wrong = other_digit(siren, position)
        with pytest.raises(ValidationError) as refused:
            identity.clean_siren(wrong)
        assert refused.value.code == "siren_invalid"


@pytest.mark.parametrize("siret", SIRETS)
def test_computed_sirets_are_valid_and_a_changed_digit_is_refused(siret):
    assert identity.clean_siret(siret) == siret
    assert identity.siren_of_siret(siret) == siret[:9]
    for position in (2, 10, 13):
        with pytest.raises(ValidationError) as refused:
            identity.clean_siret(other_digit(siret, position))
        assert refused.value.code == "siret_invalid"


@pytest.mark.parametrize("value", ["1234567890123", "123456789012345", "7328293200012A", ""])
def test_siret_of_the_wrong_shape_is_refused(value):
    with pytest.raises(ValidationError) as refused:
        identity.clean_siret(value)
    assert refused.value.code == "siret_length"


def test_la_poste_siret_is_valid_when_its_digit_sum_is_a_multiple_of_5_even_if_luhn_fails():
    siret = la_poste_siret(digit_sum_multiple_of_5=True)
    assert not luhn.is_valid(siret)
    assert identity.clean_siret(siret) == siret
    assert fr_siret.is_valid(siret)


def test_la_poste_siret_whose_digit_sum_is_not_a_multiple_of_5_is_refused():
    siret = la_poste_siret(digit_sum_multiple_of_5=False)
    with pytest.raises(ValidationError) as refused:
        identity.clean_siret(siret)
    assert refused.value.code == "siret_invalid"


@pytest.mark.parametrize("siren", SIRENS)
def test_french_vat_key_computed_from_the_siren_is_accepted_and_a_wrong_key_refused(siren):
    vat = fr_vat_of(siren)
    assert fr_tva.is_valid(vat)
    assert identity.clean_vat_for_country(vat, country="FR") == vat
    assert identity.clean_vat_for_country(vat[2:], country="FR") == vat  # the prefix may be omitted
    wrong_key = (int(vat[2:4]) + 1) % 97
    with pytest.raises(ValidationError) as refused:
        identity.clean_vat_for_country(f"FR{wrong_key:02d}{siren}", country="FR")
    assert refused.value.code == "vat_invalid"


EU_VATS = [
    ("DE", de_vat("13669597")),
    ("DE", de_vat("81525403")),
    ("IT", it_vat("0074311")),
    ("IT", it_vat("1234567", "100")),
    ("ES", es_vat("A", "2800001")),
    ("ES", es_vat("B", "6543210")),
]


@pytest.mark.parametrize(("country", "vat"), EU_VATS)
def test_eu_vat_numbers_computed_with_stdnum_are_accepted(country, vat):
    assert eu_vat.is_valid(vat)
    assert identity.clean_vat_for_country(vat, country=country) == vat
    assert identity.clean_vat_for_country(vat[2:], country=country) == vat


@pytest.mark.parametrize(("country", "vat"), EU_VATS)
def test_eu_vat_numbers_with_a_changed_digit_are_refused(country, vat):
    wrong = other_digit(vat, 4)
    assert not eu_vat.is_valid(wrong)
    with pytest.raises(ValidationError) as refused:
        identity.clean_vat_for_country(wrong, country=country)
    assert refused.value.code == "vat_invalid"


def test_vat_number_of_another_member_state_is_refused_for_the_country():
    with pytest.raises(ValidationError) as refused:
        identity.clean_vat_for_country(it_vat("0074311"), country="DE")
    assert refused.value.code == "vat_country"


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("FR", "SIRET"),
        ("fr", "SIRET"),
        ("RE", "SIRET"),  # La Réunion, an overseas department: a SIRENE company
        ("GP", "SIRET"),
        ("DE", "TVA"),
        ("IT", "TVA"),
        ("ES", "TVA"),
        ("GR", "TVA"),
        ("PF", "TAHITI"),
        ("NC", "RIDET"),
        ("WF", "FRWF"),
        ("CN", "HORS-UE"),
        ("GB", "HORS-UE"),
        ("CH", "HORS-UE"),
        ("US", "HORS-UE"),
    ],
)
def test_decp_identifier_type_follows_the_country(country, expected):
    assert identity.decp_identifier_type(country) == expected
    assert identity.requires_registration_number(country) == (expected in ("TAHITI", "RIDET", "FRWF", "HORS-UE"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("3250B", "32.50B"), ("32.50b", "32.50B"), ("32.50B", "32.50B"), (" 46.46z ", "46.46Z"), ("", "")],
)
def test_activity_code_is_stored_as_insee_writes_it(typed, stored):
    assert identity.clean_activity_code(typed) == stored


@pytest.mark.parametrize("typed", ["325B", "32.500B", "32.50", "3250BB", "AB.CDE", "32-50B", "B3250"])
def test_activity_code_of_another_shape_is_refused(typed):
    with pytest.raises(ValidationError) as refused:
        identity.clean_activity_code(typed)
    assert refused.value.code == "activity_code"


# --- the "new supplier" page ------------------------------------------------------------------------
def shown(message, **params) -> str:
    """The message as the French page shows it (escaped)."""
    with translation.override(None):
        source = str(message)
    with translation.override("fr"):
        text = gettext(source)
    return escape(text % params if params else text)


def supplier_data(**overrides) -> dict:
    data = {"name": "Textiles du Sud SARL", "country": "FR", "siret": SIRETS[0]}
    data.update(overrides)
    return data


@pytest.fixture
def as_buyer(client, buyer):
    client.force_login(buyer)
    return client


def create(client, **overrides):
    return client.post(reverse("suppliers:create"), supplier_data(**overrides))


def test_french_supplier_is_created_with_its_vat_founding_date_and_activity_code(as_buyer, buyer):
    founded = timezone.localdate() - timedelta(days=400)
    response = create(as_buyer, vat_number=fr_vat_of(SIRENS[0]), founded_on=founded.isoformat(), activity_code="3250b")
    assert response.status_code == 302
    supplier = Supplier.objects.get()
    assert response["Location"] == supplier.get_absolute_url()
    assert (supplier.identifier_type, supplier.siret, supplier.siren) == ("SIRET", SIRETS[0], SIRENS[0])
    assert supplier.vat_number == fr_vat_of(SIRENS[0])
    assert supplier.founded_on == founded
    assert supplier.activity_code == "32.50B"
    assert supplier.history.get().history_user == buyer


def test_french_vat_of_another_company_is_refused(as_buyer):
    response = create(as_buyer, vat_number=fr_vat_of(SIRENS[1]))
    assert response.status_code == 422
    message = shown(
        "This VAT number belongs to the company with SIREN %(vat_siren)s, not to this SIRET's company "
        "(SIREN %(siren)s).",
        vat_siren=SIRENS[1],
        siren=SIRENS[0],
    )
    assert message in response.content.decode()
    assert not Supplier.objects.exists()


def test_invalid_french_vat_is_refused(as_buyer):
    vat = fr_vat_of(SIRENS[0])
    response = create(as_buyer, vat_number=f"FR{(int(vat[2:4]) + 1) % 97:02d}{SIRENS[0]}")
    assert response.status_code == 422
    assert shown("This VAT number is not valid.") in response.content.decode()
    assert not Supplier.objects.exists()


def test_founding_date_in_the_future_is_refused(as_buyer):
    response = create(as_buyer, founded_on=(timezone.localdate() + timedelta(days=1)).isoformat())
    assert response.status_code == 422
    assert shown("The founding date cannot be in the future.") in response.content.decode()
    assert not Supplier.objects.exists()


def test_malformed_activity_code_is_refused(as_buyer):
    response = create(as_buyer, activity_code="325")
    assert response.status_code == 422
    assert shown("Enter the NAF/APE code as four digits and a letter, e.g. 32.50B.") in response.content.decode()
    assert not Supplier.objects.exists()


@pytest.mark.parametrize(("country", "vat"), EU_VATS[::2])
def test_eu_supplier_is_identified_by_its_vat_number(as_buyer, country, vat):
    response = create(as_buyer, name="Schutzmasken GmbH", country=country, siret="", vat_number=vat[2:])
    assert response.status_code == 302
    supplier = Supplier.objects.get()
    assert (supplier.identifier_type, supplier.identifier, supplier.siren) == ("TVA", vat, "")


def test_eu_supplier_without_vat_number_is_refused(as_buyer):
    response = create(as_buyer, name="Schutzmasken GmbH", country="DE", siret="")
    assert response.status_code == 422
    assert shown("A company of the EU must have a VAT number.") in response.content.decode()
    assert not Supplier.objects.exists()


def test_hors_ue_supplier_is_identified_by_its_registration_number(as_buyer):
    response = create(
        as_buyer, name="Shenzhen Medical Supplies Co.", country="cn", siret="", registration_number="91440300MA5FXXXX1Q"
    )
    assert response.status_code == 302
    supplier = Supplier.objects.get()
    assert (supplier.country, supplier.identifier_type, supplier.identifier) == ("CN", "HORS-UE", "91440300MA5FXXXX1Q")
    assert supplier.get_identifier_type_display() == Supplier.IdentifierType.HORS_UE.label


@pytest.mark.parametrize(("country", "expected"), [("PF", "TAHITI"), ("NC", "RIDET"), ("WF", "FRWF")])
def test_overseas_suppliers_get_their_decp_type_and_need_a_registration_number(as_buyer, country, expected):
    refused = create(as_buyer, name="Pacifique Logistique", country=country, siret="")
    assert refused.status_code == 422
    assert shown("A company outside the EU must have a registration number.") in refused.content.decode()
    assert not Supplier.objects.exists()
    response = create(as_buyer, name="Pacifique Logistique", country=country, siret="", registration_number="A12345")
    assert response.status_code == 302
    supplier = Supplier.objects.get()
    assert (supplier.identifier_type, supplier.identifier) == (expected, "A12345")


def test_hors_ue_supplier_without_registration_number_is_refused(as_buyer):
    response = create(as_buyer, name="Shenzhen Medical Supplies Co.", country="CN", siret="")
    assert response.status_code == 422
    assert shown("A company outside the EU must have a registration number.") in response.content.decode()
    assert not Supplier.objects.exists()


# --- one supplier per SIREN, establishments --------------------------------------------------------
@pytest.fixture
def company(buyer):
    """A French supplier whose SIREN is SIRENS[0], main SIRET SIRETS[0]."""
    return services.supplier_create(actor=buyer, name="Textiles du Sud SARL", country="FR", siret=SIRETS[0])


SECOND_SIRET = make_siret_of(SIRENS[0], "0002")


def test_second_siret_of_a_known_company_is_refused_with_a_link_to_its_supplier(as_buyer, company):
    response = create(as_buyer, name="Textiles du Sud — entrepôt", siret=SECOND_SIRET)
    assert response.status_code == 422
    content = response.content.decode()
    message = shown(
        "This SIRET belongs to a company already recorded as the supplier “%(name)s” (SIREN %(siren)s): "
        "add it as an establishment from that supplier's page.",
        name=company.name,
        siren=company.siren,
    )
    assert message in content
    assert f'href="{company.get_absolute_url()}"' in content
    establishment_url = reverse("suppliers:establishment_add", args=[company.pk])
    assert f'href="{establishment_url}?siret={SECOND_SIRET}"' in content
    assert Supplier.objects.count() == 1


def test_same_siret_again_is_refused_naming_the_supplier(as_buyer, company):
    response = create(as_buyer, name="Doublon", siret=SIRETS[0])
    assert response.status_code == 422
    content = response.content.decode()
    assert shown("This SIRET is already the supplier “%(name)s”.", name=company.name) in content
    assert f'href="{company.get_absolute_url()}"' in content
    assert reverse("suppliers:establishment_add", args=[company.pk]) not in content
    assert Supplier.objects.count() == 1


def test_same_siren_in_another_organisation_is_another_supplier(client, company, outsider):
    client.force_login(outsider)
    response = create(client, siret=SECOND_SIRET)
    assert response.status_code == 302
    assert Supplier.objects.filter(siren=SIRENS[0]).count() == 2


def test_creation_that_loses_the_race_in_the_database_gets_the_same_form_error(buyer, company):
    """The form checked before the other creation committed; the constraint refuses, the form says why."""
    form = SupplierForm(
        supplier_data(name="Textiles du Sud — entrepôt", siret=SECOND_SIRET), organisation=buyer.organisation
    )
    Supplier.objects.filter(pk=company.pk).update(siren="")  # hide the company from the form's check only
    assert form.is_valid(), form.errors
    Supplier.objects.filter(pk=company.pk).update(siren=SIRENS[0])
    with pytest.raises(services.SupplierAlreadyExists) as raised:
        services.supplier_create(actor=buyer, **form.cleaned_data)
    form.refuse_duplicate(raised.value)
    assert form.duplicate.existing == company
    assert form.errors["siret"] == [
        str(raised.value.messages[0]),
    ]
    assert "ajoutez-le comme établissement" in form.errors["siret"][0]
    assert Supplier.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_buyers_creating_the_same_company_at_once_get_one_supplier(buyer, buyer2):
    barrier = threading.Barrier(2)
    outcomes = []
    lock = threading.Lock()

    def run(actor, siret):
        try:
            form = SupplierForm(supplier_data(siret=siret), organisation=actor.organisation)
            assert form.is_valid(), form.errors
            barrier.wait(timeout=30)
            services.supplier_create(actor=actor, **form.cleaned_data)
            outcome = "created"
        except services.SupplierAlreadyExists as error:
            outcome = ("duplicate", error.existing.siren)
        except BaseException as error:  # shown by the assertion below
            outcome = ("error", error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [
        threading.Thread(target=run, args=(buyer, SIRETS[0])),
        threading.Thread(target=run, args=(buyer2, SECOND_SIRET)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes, key=str) == sorted(["created", ("duplicate", SIRENS[0])], key=str), outcomes
    assert Supplier.objects.filter(siren=SIRENS[0]).count() == 1


def test_second_siret_is_added_as_an_establishment(as_buyer, company):
    url = reverse("suppliers:establishment_add", args=[company.pk])
    page = as_buyer.get(f"{url}?siret={SECOND_SIRET}")
    assert page.status_code == 200
    assert f'value="{SECOND_SIRET}"' in page.content.decode()
    response = as_buyer.post(
        url, {"siret": SECOND_SIRET, "label": "Entrepôt de Vitrolles", "address": "ZI Les Estroublans"}
    )
    assert response.status_code == 302
    assert response["Location"] == company.get_absolute_url()
    establishment = Establishment.objects.get()
    assert (establishment.supplier, establishment.siret, establishment.label) == (
        company,
        SECOND_SIRET,
        "Entrepôt de Vitrolles",
    )
    detail = as_buyer.get(company.get_absolute_url()).content.decode()
    assert SECOND_SIRET in detail
    assert "Entrepôt de Vitrolles" in detail


@pytest.mark.parametrize(
    ("siret", "message", "params"),
    [
        (
            SIRETS[1],
            "This SIRET belongs to the company with SIREN %(siren)s, not to “%(name)s” (SIREN %(supplier_siren)s).",
            {"siren": SIRENS[1], "supplier_siren": SIRENS[0]},
        ),
        (SIRETS[0], "This SIRET is already the main SIRET of “%(name)s”.", {}),
        (other_digit(SECOND_SIRET, 13), "This SIRET is not valid (its check digit is wrong).", None),
    ],
    ids=["other-siren", "main-siret", "invalid"],
)
def test_establishment_of_another_company_or_the_main_siret_is_refused(as_buyer, company, siret, message, params):
    response = as_buyer.post(reverse("suppliers:establishment_add", args=[company.pk]), {"siret": siret})
    assert response.status_code == 422
    expected = shown(message) if params is None else shown(message, name=company.name, **params)
    assert expected in response.content.decode()
    assert not Establishment.objects.exists()


def test_establishment_already_recorded_is_refused(as_buyer, buyer, company):
    services.establishment_add(supplier=company, actor=buyer, siret=SECOND_SIRET)
    response = as_buyer.post(reverse("suppliers:establishment_add", args=[company.pk]), {"siret": SECOND_SIRET})
    assert response.status_code == 422
    message = shown("This establishment of “%(name)s” is already recorded.", name=company.name)
    assert message in response.content.decode()
    assert Establishment.objects.count() == 1


def test_foreign_supplier_has_no_establishment(buyer):
    supplier = services.supplier_create(
        actor=buyer, name="Schutzmasken GmbH", country="DE", vat_number=de_vat("13669597")
    )
    with pytest.raises(ValidationError) as refused:
        services.establishment_add(supplier=supplier, actor=buyer, siret=SECOND_SIRET)
    assert refused.value.code == "no_siren"


def test_factories_make_siret_agrees_with_stdnum():
    """The project's test helper builds identifiers stdnum accepts (the other tests rely on it)."""
    for n in (1, 42, 4242, 99999):
        siret = factories.make_siret(n)
        assert fr_siret.is_valid(siret)
        assert fr_siren.is_valid(siret[:9])
