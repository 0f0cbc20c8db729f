"""The permission matrix of DESIGN.md §4: every named URL × every kind of user → the expected answer.

Each cell runs in a fresh database: the entry's builder creates, through the services and factories, the
objects the URL needs in the state where the step is possible, then the role requests it with the page's
real method (POST for pages that change state, with a valid payload). Where the role is allowed the state
must change (and a redirect follow); where it is refused nothing may change.

Roles:
- anonymous: not logged in → redirected to the login page (every page requires login);
- case_buyer: the buyer who owns the case; other_buyer: a buyer of the same organisation not assigned to it;
- jurist, director, admin (Tandem's admin group only, also `is_staff` for the Django admin);
- outsider: a buyer of another organisation → 404 on every object of this one, its own (empty) lists;
- norole: a user of the organisation without any group → 403 everywhere except the profile (and login/logout).

Expectations follow DESIGN.md §4 even where a view disagrees: a failing cell is a bug in the view.

The Django admin: only `admin:index` is listed. Its generated model URLs (changelists, change forms…)
all go through `AdminSite.admin_view`, i.e. Django's own `is_active and is_staff` check, then the model
permissions; they are Django's code, not Tandem's, and are not enumerated here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from stdnum import luhn

from contracts import views as contract_views
from contracts.models import CLAUSES, Contract, ContractDocument, ContractModification, SignedDocument
from notifications.models import Notification
from procurement import services as case_services
from procurement import views as case_views
from procurement.catalogue import Incoterm
from procurement.models import (
    CaseEvent,
    ConformityCheck,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    SupplyChainParty,
    VettingDecision,
)
from suppliers import services as supplier_services
from suppliers.models import Establishment, SanctionsScreening, Supplier, SupplierDocument
from tests import factories
from tests.factories import make_case, make_contract, sign_contract

ROLES = ["anonymous", "case_buyer", "other_buyer", "jurist", "director", "admin", "outsider", "norole"]
MEMBERS = ["case_buyer", "other_buyer", "jurist", "director", "admin", "outsider"]

# Special expectations (besides plain status codes).
LOGIN = "login"  # 302 to the login page, carrying ?next=
ADMIN_LOGIN = "admin_login"  # 302 to the Django admin's login page
OK = 200
FORBIDDEN = 403
NOT_FOUND = 404
REDIRECT = 302

SANCTIONS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "suppliers/fixtures/sanctions/registre-national-gels-echantillon.json"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# --- the world every cell starts from ----------------------------------------------------------
@dataclass
class World:
    users: dict
    role: str
    objects: dict = field(default_factory=dict)

    @property
    def actor(self):
        return self.users[self.role]

    @property
    def org(self):
        return self.users["case_buyer"].organisation

    def __getattr__(self, name):
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Entry:
    method: str
    build: Callable[[World], tuple[dict, dict]]
    expect: dict[str, object]
    state: Callable[[World], object] | None = None  # snapshot compared before/after the request
    changes_for: frozenset[str] = frozenset()  # roles whose (allowed) request must change the state
    hidden: Callable[[World], str] | None = None  # text of the organisation an outsider's list must not show
    check: Callable[[World, object], None] | None = None  # extra assertion on the expected redirects


def expect(default, **overrides) -> dict[str, object]:
    """`default` for the members, LOGIN for anonymous, 403 for norole, then the overrides."""
    table = {"anonymous": LOGIN, "norole": FORBIDDEN, **dict.fromkeys(MEMBERS, default)}
    table.update(overrides)
    assert set(table) == set(ROLES), table
    return table


def read_page(**overrides):
    return expect(OK, **overrides)


def object_page(**overrides):
    return expect(OK, outsider=NOT_FOUND, **overrides)


def only(allowed: list[str], *, outsider=NOT_FOUND) -> dict[str, object]:
    """A state-changing POST on an object of the organisation: `allowed` redirect, the other members get 403."""
    table = expect(FORBIDDEN, outsider=outsider)
    table.update(dict.fromkeys(allowed, REDIRECT))
    return table


# --- builders ----------------------------------------------------------------------------------
def _date(day) -> str:
    return day.isoformat()


def _none(w):
    return {}, {}


def _case(state):
    def build(w):
        w.objects["case"] = make_case(w.users["case_buyer"], state)
        return {"pk": w.case.pk}, {}

    return build


def _case_status(w):
    return PurchaseCase.objects.get(pk=w.case.pk).status


def _contract_status(w):
    return Contract.objects.get(pk=w.contract.pk).status


def _delegate_director(w):
    factories.SignatureDelegationFactory(delegate=w.users["director"])


def _contract(state):
    def build(w):
        if state in ("signed", "notified"):
            _delegate_director(w)
        w.objects["contract"] = make_contract(
            w.users["case_buyer"], state, jurist=w.users["jurist"], signer=w.users["director"]
        )
        return {"pk": w.contract.pk}, {}

    return build


def build_case_create(w):
    today = timezone.localdate()
    line = factories.need_line_data()
    justification = factories.justification_data()
    data = {"case-title": "Blouses de protection"}
    for name, value in line.items():
        data[f"line-{name}"] = _date(value) if name == "required_date" else value
    for name, value in justification.items():
        data[f"justification-{name}"] = _date(value) if name == "event_date" else value
    assert line["required_date"] > today
    return {}, data


def build_case_edit_need(w):
    kwargs, _ = _case("need")(w)
    # The extra need line is left as the browser sends it untouched: empty, but for the unit's initial value.
    data = {"case-title": "Masques FFP2 — besoin révisé", "line-unit": NeedLine._meta.get_field("unit").default}
    for name, value in factories.justification_data().items():
        data[f"justification-{name}"] = _date(value) if name == "event_date" else value
    return kwargs, data


def build_case_assign_buyer(w):
    kwargs, _ = _case("need")(w)
    return kwargs, {"buyer": w.users["other_buyer"].pk}


def _transition(state, name, comment=""):
    def build(w):
        w.objects["case"] = make_case(w.users["case_buyer"], state)
        return {"pk": w.case.pk, "name": name}, ({"comment": comment} if comment else {})

    return build


def build_offer_create(w):
    kwargs, _ = _case("vetting")(w)
    supplier = factories.SupplierFactory(organisation=w.org, created_by=w.users["case_buyer"])
    line = w.case.need_lines.first()
    return kwargs, {
        "need_line": line.pk,
        "supplier": supplier.pk,
        "product_description": "Masque FFP2 modèle Z-9",
        "unit_price": "0.8000",
        "quantity": 50_000,
        "delivery_date": _date(line.required_date),
        "incoterm": Incoterm.DAP,
        "delivery_place": line.delivery_place,
        "advance_rate": "0",
    }


def build_vetting_create(w):
    kwargs, _ = _case("vetting")(w)
    return kwargs, {
        "supplier": w.case.offers.first().supplier_id,
        "decision": VettingDecision.Decision.RESERVED,
        "findings": "Attestation URSSAF à renouveler.",
    }


def _offer_of(state):
    def build(w):
        w.objects["case"] = make_case(w.users["case_buyer"], state)
        w.objects["offer"] = w.case.offers.get()
        return {"pk": w.offer.pk}

    return build


def _vetting_offer(w):
    w.objects["case"] = make_case(w.users["case_buyer"], "vetting", suppliers=0)
    w.objects["offer"] = factories.add_offer(w.case, w.users["case_buyer"])
    return w.offer


def build_offer_detail(w):
    return {"pk": _vetting_offer(w).pk}, {}


def build_chain_party_add(w):
    offer = _vetting_offer(w)
    carrier = factories.SupplierFactory(organisation=w.org, name="Fret Express", created_by=w.users["case_buyer"])
    return {"pk": offer.pk}, {"supplier": carrier.pk, "role": SupplyChainParty.Role.CARRIER, "note": ""}


def build_chain_party_remove(w):
    offer = _vetting_offer(w)
    maker = factories.SupplierFactory(organisation=w.org, created_by=w.users["case_buyer"])
    w.objects["party"] = case_services.chain_party_add(
        offer=offer, actor=w.users["case_buyer"], supplier=maker, role=SupplyChainParty.Role.MANUFACTURER
    )
    return {"pk": w.party.pk}, {}


def build_vetting_countersign(w):
    offer = _vetting_offer(w)
    # A factory supplier has no documents: its approval carries red flags and waits for a jurist.
    w.objects["decision"] = factories.vet(w.case, offer, w.users["case_buyer"], countersign=False)
    assert w.decision.awaiting_countersign
    return {"pk": w.decision.pk}, {"approve": "1", "comment": "Risque examiné et accepté."}


def build_conformity_create(w):
    kwargs = _offer_of("norm_check")(w)
    return kwargs, factories.conformity_form_data(w.offer)


def build_conformity_override(w):
    _offer_of("norm_check")(w)
    w.objects["check"] = factories.check_conformity(w.offer, w.users["case_buyer"], verdict="non_conform")
    return {"pk": w.check.pk}, {"verdict": ConformityCheck.Verdict.CONFORM, "reason": "Essai contradictoire reçu."}


def build_evidence_download(w):
    _offer_of("norm_check")(w)
    return {"pk": w.offer.conformity_checks.get().evidence.first().pk}, {}


def build_round_create(w):
    kwargs = _offer_of("negotiation")(w)
    offer = w.offer
    return kwargs, {
        "unit_price": "0.8100",
        "quantity": offer.quantity,
        "delivery_date": _date(offer.delivery_date),
        "incoterm": offer.incoterm,
        "delivery_place": offer.delivery_place,
        "advance_rate": "0",
        "payment_days": 30,
        "penalties": "P = V × R / 1000",
        "valid_until": "",
        "proposed_by": "Fournisseur",
        "note": "Remise de 5 %.",
    }


def build_supplier_create(w):
    return {}, {"name": "Textiles du Sud SARL", "country": "FR", "siret": factories.make_siret(4242, prefix="5")}


def _supplier(w):
    w.objects["supplier"] = factories.SupplierFactory(organisation=w.org, created_by=w.users["case_buyer"])
    return w.supplier


def build_document_add(w):
    supplier = _supplier(w)
    return {"pk": supplier.pk}, {
        "kind": SupplierDocument.Kind.URSSAF,
        "issued_on": _date(timezone.localdate() - timedelta(days=3)),
        "expires_on": "",
        "file": SimpleUploadedFile("attestation.pdf", PDF_BYTES, content_type="application/pdf"),
    }


def build_supplier_edit(w):
    supplier = _supplier(w)
    return {"pk": supplier.pk}, {
        "name": "Fournisseur renommé SAS",
        "vat_number": "",
        "address": supplier.address,
        "email": supplier.email,
        "website": "",
        "founded_on": "2015-06-01",
        "activity_code": "46.46Z",
    }


def build_establishment_add(w):
    supplier = _supplier(w)
    base = supplier.siren + "0099"
    return {"pk": supplier.pk}, {"siret": base + luhn.calc_check_digit(base), "label": "Entrepôt", "address": ""}


def _document(w):
    supplier = _supplier(w)
    w.objects["document"] = supplier_services.supplier_document_add(
        supplier=supplier,
        actor=w.users["case_buyer"],
        kind=SupplierDocument.Kind.URSSAF,
        issued_on=timezone.localdate() - timedelta(days=3),
        uploaded=SimpleUploadedFile("urssaf.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    return w.document


def build_document_verify(w):
    return {"pk": _document(w).pk}, {"verified_on": _date(timezone.localdate())}


def _sample_list():
    supplier_services.sanctions_import(data=SANCTIONS_SAMPLE.read_bytes(), original_name=SANCTIONS_SAMPLE.name)


def build_supplier_screen(w):
    _sample_list()
    return {"pk": _supplier(w).pk}, {}


def build_screening_review(w):
    _sample_list()
    listed = factories.SupplierFactory(
        organisation=w.org, name="Comptoir Méditerranéen d'Import-Export", created_by=w.users["case_buyer"]
    )
    [w.objects["screening"]] = supplier_services.supplier_screen(supplier=listed)
    assert w.screening.review == SanctionsScreening.Review.PENDING
    return {"pk": w.screening.pk}, {"review": "cleared", "reason": "Homonyme : autre pays, autre activité."}


def build_document_download(w):
    supplier = _supplier(w)
    document = supplier_services.supplier_document_add(
        supplier=supplier,
        actor=w.users["case_buyer"],
        kind=SupplierDocument.Kind.KBIS,
        issued_on=timezone.localdate() - timedelta(days=3),
        uploaded=SimpleUploadedFile("kbis.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    return {"pk": document.pk}, {}


def build_contract_document(w):
    _contract("draft")(w)
    document = w.contract.documents.get(status=ContractDocument.Status.RENDERED)
    return {"pk": document.pk}, {}


def build_signed_download(w):
    _contract("signed")(w)
    signed = SignedDocument.objects.create(
        contract=w.contract,
        source=w.contract.current_document,
        status=SignedDocument.Status.SIGNED,
        created_at=timezone.now(),
    )
    signed.file.save("signe.pdf", ContentFile(PDF_BYTES))
    return {"pk": signed.pk}, {}


def _submit_data(w):
    return {"submit_for_review-rendered_sha256": w.contract.current_document.sha256, "submit_for_review-confirm": "on"}


def _modify_data(w):
    return {
        "modify-quantity": w.contract.quantity - 1000,
        "modify-unit_price": str(w.contract.unit_price),
        "modify-notified_on": _date(timezone.localdate()),
        "modify-reason": "Livraison partielle acceptée d'un commun accord.",
        "modify-terms_version": w.contract.terms_version,
    }


def _dashboard_export(fmt):
    def build(w):
        _contract("signed")(w)  # a supplier with an amount committed, named in the export
        return {"fmt": fmt}, {}

    return build


def _contract_action(state, action, data: Callable[[World], dict] = lambda w: {}):
    def build(w):
        kwargs, _ = _contract(state)(w)
        return {**kwargs, "action": action}, data(w)

    return build


def _approve_data(w):
    return {"approve-clauses": list(CLAUSES), "approve-rendered_sha256": w.contract.current_document.sha256}


def _amend_data(w):
    return {
        "amend-quantity": w.contract.quantity,
        "amend-unit_price": "0.8000",
        "amend-comment": "Prix renégocié.",
        "amend-terms_version": w.contract.terms_version,
    }


def _sign_data(w):
    _delegate_director(w)
    return {"sign-confirm": "on"}


def _terms_version(w):
    return Contract.objects.get(pk=w.contract.pk).terms_version


def build_award_notice(w):
    _delegate_director(w)
    # 1 000 000 × 0.85 €: above the EU threshold, so the award notice is owed.
    w.objects["contract"] = make_contract(
        w.users["case_buyer"], "signed", jurist=w.users["jurist"], signer=w.users["director"], quantity=1_000_000
    )
    return {"pk": w.contract.pk, "action": "award_notice"}, {"award_notice-day": _date(timezone.localdate())}


def _prefect_day(w):
    return Contract.objects.get(pk=w.contract.pk).prefect_transmitted_on


def build_case_award(w):
    kwargs, _ = _case("negotiation")(w)
    offer = w.case.offers.get()
    return kwargs, {f"offer_{offer.pk}": offer.quantity, "reason": "Seul fournisseur conforme dans les délais."}


def build_case_close(w):
    kwargs, _ = _case("contract")(w)
    _delegate_director(w)
    users = w.users
    for contract in Contract.objects.filter(case=w.case):
        sign_contract(contract, users["case_buyer"], users["jurist"], users["director"])
    return kwargs, {}


def build_notification(w):
    recipient = w.actor or w.users["case_buyer"]
    w.objects["notification"] = Notification.objects.create(
        recipient=recipient, verb="test", text="Un contrat attend votre relecture.", created_at=timezone.now()
    )
    return {"pk": w.notification.pk}, {}


def build_mark_all_read(w):
    build_notification(w)
    return {}, {}


def _notification_read(w):
    return Notification.objects.get(pk=w.notification.pk).read_at is not None


def _list_with_case(w):
    w.objects["case"] = make_case(w.users["case_buyer"], "need", title="Gants nitrile — dossier secret")
    return {}, {}


def _export_with_case(fmt):
    def build(w):
        _list_with_case(w)
        return {"format": fmt}, {}

    return build


def _list_with_contract(w):
    _contract("draft")(w)
    return {}, {}


def _period_with_notified_contract(w):
    """A contract notified today: in the DECP period export by default (the current calendar year)."""
    _contract("notified")(w)
    return {}, {}


def _list_with_supplier(w):
    w.objects["supplier"] = factories.SupplierFactory(
        organisation=w.org, name="Fournisseur confidentiel SAS", created_by=w.users["case_buyer"]
    )
    return {}, {}


def _inbox_build(w):
    build_notification(w)
    return {}, {}


def build_set_language(w):
    next_url = reverse("accounts:login") if w.actor is None else reverse("accounts:profile")
    w.objects["next"] = next_url
    return {}, {"language": "en", "next": next_url}


def check_set_language(w, response):
    assert response["Location"] == w.next
    assert response.cookies["django_language"].value == "en"


def check_logged_out(w, response):
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in response.wsgi_request.session


def check_to_case_list(w, response):
    assert response["Location"] == reverse("procurement:case_list")


# --- execution (after the signature): buyers of the case run it, jurists take the legal acts ---------------
def _signed_contract(w):
    _contract("signed")(w)
    return w.contract


def _execution_lot(w, *, due_on=None, quantity=1000):
    from execution import services as execution_services

    contract = _signed_contract(w)
    w.objects["lot"] = execution_services.lot_add(
        contract=contract,
        actor=w.users["case_buyer"],
        quantity=quantity,
        due_on=due_on or timezone.localdate(),
        delivery_place="Marseille",
        incoterm="DAP",
    )
    return w.lot


def _execution_shipment(w, **kwargs):
    from execution import services as execution_services

    lot = _execution_lot(w, **kwargs)
    w.objects["shipment"] = execution_services.shipment_add(
        lot=lot, actor=w.users["case_buyer"], quantity=lot.quantity, mode="air"
    )
    return w.shipment


def _execution_reception(w, *, admit=False, **kwargs):
    from execution import services as execution_services

    shipment = _execution_shipment(w, **kwargs)
    buyer = w.users["case_buyer"]
    w.objects["reception"] = execution_services.reception_record(
        shipment=shipment, actor=buyer, received_on=timezone.localdate(), quantity_received=shipment.quantity
    )
    if admit:
        execution_services.reception_decide(reception=w.reception, actor=buyer, decision="admit")
    return w.reception


def _execution_invoice(w):
    from decimal import Decimal

    from execution import services as execution_services

    _execution_reception(w, admit=True)
    w.objects["invoice"] = execution_services.invoice_record(
        contract=w.contract,
        actor=w.users["case_buyer"],
        number="F-2020-001",
        received_on=timezone.localdate(),
        amount=Decimal("850.00"),
        quantity=1000,
        lots=[w.lot],
    )
    return w.invoice


def _execution_action(action, prepare, data: Callable[[World], dict]):
    def build(w):
        prepare(w)
        return {"pk": w.contract.pk, "action": action}, {f"{action}-{k}": v for k, v in data(w).items()}

    return build


def _rows(model_path):
    def count(w):
        from django.apps import apps

        return apps.get_model(model_path).objects.count()

    return count


def _execution_entry(action, prepare, data, model_path, role="case_buyer"):
    return Entry(
        "post",
        _execution_action(action, prepare, data),
        only([role]),
        _rows(model_path),
        frozenset({role}),
    )


def _today(w):
    return _date(timezone.localdate())


EXECUTION_MATRIX = {
    "execution:contract": Entry("get", lambda w: ({"pk": _signed_contract(w).pk}, {}), object_page()),
    "execution:allocation_export": Entry("get", lambda w: ({"pk": _signed_contract(w).pk}, {}), object_page()),
    "execution:action#lot": _execution_entry(
        "lot",
        _signed_contract,
        lambda w: {"quantity": 1000, "due_on": _today(w), "delivery_place": "Marseille", "incoterm": "DAP"},
        "execution.DeliveryLot",
    ),
    "execution:action#shipment": _execution_entry(
        "shipment",
        _execution_lot,
        lambda w: {"lot": w.lot.pk, "quantity": 500, "mode": "air", "waybill": "057-12345675"},
        "execution.Shipment",
    ),
    "execution:action#milestone": _execution_entry(
        "milestone",
        _execution_shipment,
        lambda w: {"shipment": w.shipment.pk, "kind": "departed", "occurred_on": _today(w)},
        "execution.Milestone",
    ),
    "execution:action#incident": _execution_entry(
        "incident",
        _execution_shipment,
        lambda w: {"shipment": w.shipment.pk, "kind": "diverted", "occurred_on": _today(w), "description": "Escale."},
        "execution.Incident",
    ),
    "execution:action#reception": _execution_entry(
        "reception",
        _execution_shipment,
        lambda w: {"shipment": w.shipment.pk, "received_on": _today(w), "quantity_received": 1000},
        "execution.Reception",
    ),
    "execution:action#inspection": _execution_entry(
        "inspection",
        _execution_reception,
        lambda w: {
            "reception": w.reception.pk,
            "norm_class": w.contract.offer.conformity_checks.first().norm_class_id,
            "sample_size": 20,
            "filtration": "98",
            "inward_leakage": "6",
        },
        "execution.SampleInspection",
    ),
    "execution:action#decision": Entry(
        "post",
        _execution_action(
            "decision", _execution_reception, lambda w: {"reception": w.reception.pk, "decision": "admit"}
        ),
        only(["case_buyer"]),
        lambda w: type(w.reception).objects.get(pk=w.reception.pk).status,
        frozenset({"case_buyer"}),
    ),
    "execution:action#waiver": Entry(
        "post",
        _execution_action(
            "waiver",
            lambda w: _execution_reception(w, due_on=timezone.localdate() - timedelta(days=3)),
            lambda w: {"penalty": w.lot.penalty.pk, "reason": "Retard dû à l'épidémie.", "reference": ""},
        ),
        only(["jurist"]),
        lambda w: type(w.lot).objects.get(pk=w.lot.pk).penalty.waived_at,
        frozenset({"jurist"}),
    ),
    "execution:action#advance": _execution_entry(
        "advance",
        _signed_contract,
        lambda w: {"rate": "0.30", "paid_on": _today(w), "guarantee": "none"},
        "execution.AdvancePayment",
    ),
    "execution:action#invoice": _execution_entry(
        "invoice",
        _execution_lot,
        lambda w: {"number": "F-1", "received_on": _today(w), "amount": "850.00", "quantity": 1000, "lots": [w.lot.pk]},
        "execution.Invoice",
    ),
    "execution:action#payment": _execution_entry(
        "payment",
        _execution_invoice,
        lambda w: {"invoice": w.invoice.pk, "paid_on": _today(w), "amount": "850.00", "quantity": 1000},
        "execution.Payment",
    ),
    "execution:action#payment_exception": _execution_entry(
        "payment_exception",
        _signed_contract,
        lambda w: {"quantity": 1000, "reason": "Cargaison payée à l'embarquement."},
        "execution.PaymentException",
        role="jurist",
    ),
    "execution:action#allocation": _execution_entry(
        "allocation",
        lambda w: _execution_reception(w, admit=True),
        lambda w: {"beneficiary": "carers", "quantity": 700, "allocated_on": _today(w)},
        "execution.Allocation",
    ),
}


# --- the matrix --------------------------------------------------------------------------------
# Keys are URL names; "name#variant" lists one more use of the same URL (each step of a transition URL).
MATRIX: dict[str, Entry] = {
    # The root only redirects to the case list (which then applies its own rule, 403 for norole).
    "home": Entry("get", _none, expect(REDIRECT, norole=REDIRECT), check=check_to_case_list),
    # The load balancer's liveness check (and the trivial view of `make bench`): open to anyone.
    "health": Entry("get", _none, expect(OK, anonymous=OK, norole=OK)),
    # The language switch is in the footer of every page, the login page included.
    "set_language": Entry(
        "post", build_set_language, expect(REDIRECT, anonymous=REDIRECT, norole=REDIRECT), check=check_set_language
    ),
    # --- accounts
    "accounts:login": Entry("get", _none, expect(REDIRECT, anonymous=OK, norole=REDIRECT), check=check_to_case_list),
    "accounts:logout": Entry("post", _none, expect(REDIRECT, norole=REDIRECT), check=check_logged_out),
    "accounts:profile": Entry("get", _none, expect(OK, norole=OK)),
    # --- notifications (each user marks their own)
    "notifications:inbox": Entry("get", _inbox_build, read_page()),
    "notifications:mark_read": Entry(
        "post",
        build_notification,
        expect(REDIRECT),
        state=_notification_read,
        changes_for=frozenset(MEMBERS),
    ),
    "notifications:mark_all_read": Entry(
        "post",
        build_mark_all_read,
        expect(REDIRECT),
        state=_notification_read,
        changes_for=frozenset(MEMBERS),
    ),
    # --- suppliers
    "suppliers:list": Entry("get", _list_with_supplier, read_page(), hidden=lambda w: w.supplier.name),
    "suppliers:create": Entry(
        "post",
        build_supplier_create,
        expect(FORBIDDEN, case_buyer=REDIRECT, other_buyer=REDIRECT, outsider=REDIRECT),
        state=lambda w: Supplier.objects.count(),
        changes_for=frozenset({"case_buyer", "other_buyer", "outsider"}),
    ),
    "suppliers:detail": Entry("get", lambda w: ({"pk": _supplier(w).pk}, {}), object_page()),
    "suppliers:document_add": Entry(
        "post",
        build_document_add,
        only(["case_buyer", "other_buyer"]),
        state=lambda w: SupplierDocument.objects.count(),
        changes_for=frozenset({"case_buyer", "other_buyer"}),
    ),
    "suppliers:document_download": Entry("get", build_document_download, object_page()),
    "suppliers:edit": Entry(
        "post",
        build_supplier_edit,
        only(["case_buyer", "other_buyer"]),
        state=lambda w: Supplier.objects.get(pk=w.supplier.pk).name,
        changes_for=frozenset({"case_buyer", "other_buyer"}),
    ),
    "suppliers:establishment_add": Entry(
        "post",
        build_establishment_add,
        only(["case_buyer", "other_buyer"]),
        state=lambda w: Establishment.objects.count(),
        changes_for=frozenset({"case_buyer", "other_buyer"}),
    ),
    "suppliers:document_verify": Entry(
        "post",
        build_document_verify,
        only(["case_buyer", "other_buyer"]),
        state=lambda w: SupplierDocument.objects.get(pk=w.document.pk).verified_with_issuer,
        changes_for=frozenset({"case_buyer", "other_buyer"}),
    ),
    "suppliers:screen": Entry(
        "post",
        build_supplier_screen,
        only(["case_buyer", "other_buyer", "jurist"]),
        state=lambda w: SanctionsScreening.objects.count(),
        changes_for=frozenset({"case_buyer", "other_buyer", "jurist"}),
    ),
    "suppliers:screening_review": Entry(
        "post",
        build_screening_review,
        # The role is checked before the object is looked up: a buyer of another organisation is no jurist.
        only(["jurist"], outsider=FORBIDDEN),
        state=lambda w: SanctionsScreening.objects.get(pk=w.screening.pk).review,
        changes_for=frozenset({"jurist"}),
    ),
    # --- procurement: pages
    "procurement:case_list": Entry("get", _list_with_case, read_page(), hidden=lambda w: w.case.title),
    "procurement:case_list_export#csv": Entry(
        "get", _export_with_case("csv"), read_page(), hidden=lambda w: w.case.reference
    ),
    "procurement:case_list_export#xlsx": Entry(
        "get", _export_with_case("xlsx"), read_page(), hidden=lambda w: w.case.reference
    ),
    "procurement:case_create": Entry(
        "post",
        build_case_create,
        expect(FORBIDDEN, case_buyer=REDIRECT, other_buyer=REDIRECT, outsider=REDIRECT),
        state=lambda w: PurchaseCase.objects.count(),
        changes_for=frozenset({"case_buyer", "other_buyer", "outsider"}),
    ),
    "procurement:case_detail": Entry("get", _case("need"), object_page()),
    # The case page's "Next steps" alone (refreshed by htmx): read like the case page.
    "procurement:case_next_steps": Entry("get", _case("need"), object_page()),
    "procurement:case_edit_need": Entry(
        "post",
        build_case_edit_need,
        only(["case_buyer"]),
        state=lambda w: PurchaseCase.objects.get(pk=w.case.pk).title,
        changes_for=frozenset({"case_buyer"}),
    ),
    "procurement:case_assign_buyer": Entry(
        "post",
        build_case_assign_buyer,
        only(["case_buyer", "director"]),
        state=lambda w: sorted(PurchaseCase.objects.get(pk=w.case.pk).buyers.values_list("pk", flat=True)),
        changes_for=frozenset({"case_buyer", "director"}),
    ),
    # --- procurement: the case steps it serves (one variant per step)
    "procurement:case_transition#submit": Entry(
        "post", _transition("need", "submit"), only(["case_buyer"]), _case_status, frozenset({"case_buyer"})
    ),
    "procurement:case_transition#start_norm_check": Entry(
        "post",
        _transition("vetting", "start_norm_check"),
        only(["case_buyer"]),
        _case_status,
        frozenset({"case_buyer"}),
    ),
    "procurement:case_transition#back_to_vetting": Entry(
        "post",
        _transition("norm_check", "back_to_vetting", "Certificat douteux."),
        only(["case_buyer", "jurist"]),
        _case_status,
        frozenset({"case_buyer", "jurist"}),
    ),
    "procurement:case_transition#start_negotiation": Entry(
        "post",
        _transition("norm_check", "start_negotiation"),
        only(["case_buyer"]),
        _case_status,
        frozenset({"case_buyer"}),
    ),
    # --- procurement: acts inside a stage
    "procurement:offer_create": Entry(
        "post",
        build_offer_create,
        only(["case_buyer"]),
        lambda w: Offer.objects.count(),
        frozenset({"case_buyer"}),
    ),
    "procurement:vetting_create": Entry(
        "post",
        build_vetting_create,
        only(["case_buyer"]),
        lambda w: VettingDecision.objects.count(),
        frozenset({"case_buyer"}),
    ),
    "procurement:offer_detail": Entry("get", build_offer_detail, object_page()),
    "procurement:offer_comparison": Entry("get", _case("negotiation"), object_page()),
    "procurement:conformity_override": Entry(
        "post",
        build_conformity_override,
        only(["jurist"]),
        lambda w: ConformityCheck.objects.get(pk=w.check.pk).verdict,
        frozenset({"jurist"}),
    ),
    "procurement:evidence_download": Entry("get", build_evidence_download, object_page()),
    "procurement:chain_party_add": Entry(
        "post",
        build_chain_party_add,
        only(["case_buyer"]),
        lambda w: SupplyChainParty.objects.count(),
        frozenset({"case_buyer"}),
    ),
    "procurement:chain_party_remove": Entry(
        "post",
        build_chain_party_remove,
        only(["case_buyer"]),
        lambda w: SupplyChainParty.objects.count(),
        frozenset({"case_buyer"}),
    ),
    "procurement:vetting_countersign": Entry(
        "post",
        build_vetting_countersign,
        only(["jurist"]),
        lambda w: VettingDecision.objects.get(pk=w.decision.pk).countersigned_at,
        frozenset({"jurist"}),
    ),
    "procurement:conformity_create": Entry(
        "post",
        build_conformity_create,
        only(["case_buyer"]),
        lambda w: ConformityCheck.objects.count(),
        frozenset({"case_buyer"}),
    ),
    "procurement:round_create": Entry(
        "post",
        build_round_create,
        only(["case_buyer"]),
        lambda w: NegotiationRound.objects.count(),
        frozenset({"case_buyer"}),
    ),
    # --- contracts: pages
    "contracts:list": Entry("get", _list_with_contract, read_page(), hidden=lambda w: w.contract.reference),
    "contracts:detail": Entry("get", _contract("draft"), object_page()),
    "contracts:document_download": Entry("get", build_contract_document, object_page()),
    "contracts:signed_download": Entry("get", build_signed_download, object_page()),
    "contracts:decp_export": Entry("get", _contract("notified"), object_page()),
    "contracts:decp_export_period": Entry(
        "get", _period_with_notified_contract, read_page(), hidden=lambda w: w.contract.reference
    ),
    # --- contracts: the contract's steps (one variant per action)
    "contracts:transition#submit_for_review": Entry(
        "post",
        _contract_action("draft", "submit_for_review", _submit_data),
        only(["case_buyer"]),
        _contract_status,
        frozenset({"case_buyer"}),
    ),
    "contracts:transition#request_changes": Entry(
        "post",
        _contract_action("legal_review", "request_changes", lambda w: {"request_changes-comment": "Clause 4 floue."}),
        only(["jurist"]),
        _contract_status,
        frozenset({"jurist"}),
    ),
    "contracts:transition#approve": Entry(
        "post",
        _contract_action("legal_review", "approve", _approve_data),
        only(["jurist"]),
        _contract_status,
        frozenset({"jurist"}),
    ),
    "contracts:transition#amend": Entry(
        "post",
        _contract_action("draft", "amend", _amend_data),
        only(["case_buyer"]),
        _terms_version,
        frozenset({"case_buyer"}),
    ),
    # The director holds a delegation (DESIGN.md §3: the signer is whoever holds a valid delegation).
    "contracts:transition#sign": Entry(
        "post",
        _contract_action("approved", "sign", _sign_data),
        only(["director"]),
        _contract_status,
        frozenset({"director"}),
    ),
    "contracts:transition#prefect": Entry(
        "post",
        _contract_action("signed", "prefect", lambda w: {"prefect-day": _date(timezone.localdate())}),
        only(["case_buyer"]),
        _prefect_day,
        frozenset({"case_buyer"}),
    ),
    "contracts:transition#award_notice": Entry(
        "post",
        build_award_notice,
        only(["case_buyer"]),
        lambda w: Contract.objects.get(pk=w.contract.pk).award_notice_published_on,
        frozenset({"case_buyer"}),
    ),
    "contracts:transition#decp_published": Entry(
        "post",
        _contract_action("notified", "decp_published", lambda w: {"decp_published-day": _date(timezone.localdate())}),
        only(["case_buyer"]),
        lambda w: Contract.objects.get(pk=w.contract.pk).decp_published_on,
        frozenset({"case_buyer"}),
    ),
    "contracts:transition#notify_supplier": Entry(
        "post",
        _contract_action("signed", "notify_supplier"),
        only(["case_buyer"]),
        _contract_status,
        frozenset({"case_buyer"}),
    ),
    "contracts:transition#modify": Entry(
        "post",
        _contract_action("notified", "modify", _modify_data),
        only(["case_buyer", "jurist"]),
        lambda w: ContractModification.objects.filter(contract=w.contract).count(),
        frozenset({"case_buyer", "jurist"}),
    ),
    "contracts:transition#withdraw": Entry(
        "post",
        _contract_action("draft", "withdraw", lambda w: {"withdraw-comment": "Offre caduque."}),
        only(["jurist", "director"]),
        _contract_status,
        frozenset({"jurist", "director"}),
    ),
    # --- contracts: the case steps served by the contracts app
    "contracts:case_award": Entry(
        "post", build_case_award, only(["case_buyer"]), _case_status, frozenset({"case_buyer"})
    ),
    "contracts:case_reopen": Entry(
        "post",
        lambda w: (_case("contract")(w)[0], {"comment": "Le fournisseur ne tient plus son délai."}),
        only(["case_buyer", "jurist"]),
        _case_status,
        frozenset({"case_buyer", "jurist"}),
    ),
    "contracts:case_close": Entry(
        "post", build_case_close, only(["case_buyer", "director"]), _case_status, frozenset({"case_buyer", "director"})
    ),
    "contracts:case_cancel": Entry(
        "post",
        lambda w: (_case("need")(w)[0], {"comment": "Besoin couvert par l'État.", "confirm": "on"}),
        only(["jurist", "director"]),
        _case_status,
        frozenset({"jurist", "director"}),
    ),
    # --- contracts: the case file for auditors (every member of the organisation reads it)
    "contracts:case_audit_zip": Entry("get", _case("need"), object_page()),
    # --- execution (builders above)
    **EXECUTION_MATRIX,
    # --- dashboard
    "dashboard:index": Entry("get", _list_with_case, read_page(), hidden=lambda w: w.case.reference),
    "dashboard:export#csv": Entry(
        "get", _dashboard_export("csv"), read_page(), hidden=lambda w: w.contract.offer.supplier.name
    ),
    "dashboard:export#xlsx": Entry("get", _dashboard_export("xlsx"), read_page()),
    "dashboard:pdf": Entry("get", _list_with_case, read_page()),
    # --- Django admin (index only: see the module docstring)
    "admin:index": Entry("get", _none, {**dict.fromkeys(ROLES, ADMIN_LOGIN), "admin": OK}),
}


def url_name(key: str) -> str:
    return key.partition("#")[0]


# --- the cells ---------------------------------------------------------------------------------
@pytest.fixture
def users(buyer, buyer2, jurist, director, admin_user, outsider, norole):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    return {
        "anonymous": None,
        "case_buyer": buyer,
        "other_buyer": buyer2,
        "jurist": jurist,
        "director": director,
        "admin": admin_user,
        "outsider": outsider,
        "norole": norole,
    }


def _assert_expected(response, expected, key, role):
    where = f"{key} as {role}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}, expected a redirect to the login"
        assert response["Location"].startswith(reverse("accounts:login") + "?next="), where
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}, expected the admin login"
        assert response["Location"].startswith(reverse("admin:login")), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"


def _visible_text(response) -> str:
    """What the user reads: the page or file, streamed or not; a workbook's cell values (its XML is zipped)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml"):
        workbook = openpyxl.load_workbook(BytesIO(body), read_only=True)
        try:
            return "\n".join(
                str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True) for value in row
            )
        finally:
            workbook.close()
    return body.decode()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(MATRIX))
def test_permission_matrix(client, users, key, role):
    entry = MATRIX[key]
    world = World(users=users, role=role)
    kwargs, data = entry.build(world)
    url = reverse(url_name(key), kwargs=kwargs or None)
    before = entry.state(world) if entry.state else None
    if world.actor is not None:
        client.force_login(world.actor)
    response = getattr(client, entry.method)(url, data) if entry.method == "post" else client.get(url)
    try:
        expected = entry.expect[role]
        _assert_expected(response, expected, key, role)
        if entry.state is not None:
            after = entry.state(world)
            if role in entry.changes_for:
                assert after != before, f"{key} as {role}: the state did not change ({before!r})"
            else:
                assert after == before, f"{key} as {role}: the state changed ({before!r} → {after!r})"
        if entry.check is not None and expected == REDIRECT:
            entry.check(world, response)
        if entry.hidden is not None and role == "outsider":
            assert entry.hidden(world) not in _visible_text(response), f"{key}: another organisation's data shown"
    finally:
        response.close()


# --- the matrix covers the URLconf -------------------------------------------------------------
def _named_urls(resolver: URLResolver, namespace: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            prefix = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            names |= _named_urls(pattern, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_named_url_has_a_matrix_entry():
    names = _named_urls(get_resolver())
    assert "admin:index" in names, "the URLconf walk did not reach the admin"
    assert "procurement:case_detail" in names, "the URLconf walk did not reach the apps'' include()s"
    covered = {url_name(key) for key in MATRIX}
    missing = sorted(name for name in names if name.split(":")[0] != "admin" and name not in covered)
    assert not missing, f"URLs without a permission-matrix entry: {missing}"
    stale = sorted(covered - names)
    assert not stale, f"Matrix entries for URLs that no longer exist: {stale}"


def test_every_step_of_the_transition_urls_is_in_the_matrix():
    variants = {key.partition("#")[2] for key in MATRIX if url_name(key) == "procurement:case_transition"}
    assert variants == set(case_views.TRANSITIONS)
    variants = {key.partition("#")[2] for key in MATRIX if url_name(key) == "contracts:transition"}
    assert variants == set(contract_views.ACTIONS)


def test_every_entry_names_every_role():
    for key, entry in MATRIX.items():
        assert set(entry.expect) == set(ROLES), key


def test_marking_another_users_notification_changes_nothing(client, buyer, buyer2):
    notification = Notification.objects.create(recipient=buyer, verb="test", text="x", created_at=timezone.now())
    client.force_login(buyer2)
    response = client.post(reverse("notifications:mark_read", args=[notification.pk]))
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is None


def test_refused_steps_write_no_event(client, users):
    """A refused POST writes no CaseEvent (the audit trail only records what happened)."""
    case = make_case(users["case_buyer"], "need")
    count = CaseEvent.objects.count()
    client.force_login(users["other_buyer"])
    response = client.post(reverse("procurement:case_transition", args=[case.pk, "submit"]))
    assert response.status_code == 403
    assert CaseEvent.objects.count() == count
