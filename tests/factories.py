"""factory_boy factories, and case/contract builders that go through the services (never `status=`)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from factory.django import DjangoModelFactory
from stdnum import luhn

from accounts.models import Organisation, User
from contracts import documents
from contracts import services as contract_services
from contracts.models import CLAUSES, Contract, ContractDocument, SignatureDelegation
from procurement import services
from procurement.catalogue import CPV, Incoterm, Product
from procurement.models import EvidenceKind, EvidenceRequirement, Norm, NormClass, NotifiedBody, PurchaseCase
from suppliers.models import Supplier


# --- identifiers ----------------------------------------------------------------------------
def make_siret(n: int, *, prefix: str = "7") -> str:
    """A valid SIRET: a Luhn-valid SIREN followed by an establishment number, Luhn-valid as a whole."""
    body = f"{prefix}{n:07d}"[-8:]
    siren = body + luhn.calc_check_digit(body)
    establishment = f"{n % 10000:04d}"
    base = siren + establishment
    return base + luhn.calc_check_digit(base)


# --- organisations, users, suppliers ----------------------------------------------------------
class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    siret = factory.Sequence(lambda n: make_siret(n, prefix="2"))
    address = "27 place Jules Guesde"
    postal_code = "13002"
    city = "Marseille"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Martin{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.django.Password("un-mot-de-passe-de-test")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """`UserFactory(roles=["buyer", "jurist"])`: the groups created by the data migration."""
        if not create or not extracted:
            return
        self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))
        self.__dict__.pop("role_names", None)


class SupplierFactory(DjangoModelFactory):
    class Meta:
        model = Supplier

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Fournisseur {n} SAS")
    country = "FR"
    identifier_type = Supplier.IdentifierType.SIRET
    siret = factory.Sequence(lambda n: make_siret(n + 100, prefix="4"))
    siren = factory.LazyAttribute(lambda s: s.siret[:9])
    address = "1 rue du Port, 13002 Marseille"
    email = factory.LazyAttribute(lambda s: f"contact{s.siret}@example.com")
    created_by = factory.SubFactory(UserFactory, organisation=factory.SelfAttribute("..organisation"))


class SignatureDelegationFactory(DjangoModelFactory):
    class Meta:
        model = SignatureDelegation

    organisation = factory.SelfAttribute("delegate.organisation")
    delegate = factory.SubFactory(UserFactory)
    delegating_authority = "Le président du conseil régional"
    legal_basis = "CGCT L4231-3"
    reference = factory.Sequence(lambda n: f"ARR-2026-{n:03d}")
    amount_ceiling = Decimal("10000000")
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    valid_until = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))


# --- case data ---------------------------------------------------------------------------------
def need_line_data(now=None, **overrides) -> dict:
    now = now or timezone.now()
    data = {
        "product": Product.FFP2,
        "description": "Masques FFP2 ou équivalent",
        "quantity": 100_000,
        "unit": "unités",
        "cpv_code": CPV.PROTECTIVE_GEAR,
        "required_date": timezone.localdate(now) + timedelta(days=10),
        "delivery_place": "Entrepôt régional, Marseille",
        "delivery_postal_code": "13002",
        "estimated_unit_price": Decimal("0.9000"),
    }
    data.update(overrides)
    return data


def justification_data(now=None, **overrides) -> dict:
    now = now or timezone.now()
    data = {
        "triggering_event": "Épidémie de COVID-19, déclarée pandémie par l'OMS.",
        "event_date": timezone.localdate(now) - timedelta(days=2),
        "triggering_text": "Décret n° 2020-281",
        "time_limits_impossible": "Les délais d'un appel d'offres, même réduit, excèdent le besoin immédiat.",
        "causal_link": "La pénurie de masques résulte directement de l'épidémie.",
        "strictly_necessary_scope": "Quantité limitée aux besoins des soignants pour quatre semaines.",
    }
    data.update(overrides)
    return data


def round_data(offer, *, is_final=True, **overrides) -> dict:
    data = {
        "unit_price": offer.unit_price,
        "quantity": offer.quantity,
        "delivery_date": offer.delivery_date,
        "incoterm": offer.incoterm,
        "delivery_place": offer.delivery_place,
        "advance_rate": Decimal("0"),
        "proposed_by": "Fournisseur",
        "note": "Conditions finales",
        "is_final": is_final,
    }
    data.update(overrides)
    return data


STATES = ["need", "vetting", "norm_check", "negotiation", "contract", "closed", "cancelled"]


def _rank(state: str) -> int:
    return STATES.index(state)


def add_offer(case, actor, *, supplier=None, need_line=None, now=None, quantity=None, unit_price=Decimal("0.85")):
    now = now or timezone.now()
    need_line = need_line or case.need_lines.first()
    supplier = supplier or SupplierFactory(organisation=case.organisation, created_by=actor)
    return services.offer_create(
        case=case,
        actor=actor,
        now=now,
        need_line=need_line,
        supplier=supplier,
        product_description="Masque FFP2 modèle X-100",
        unit_price=unit_price,
        quantity=quantity or need_line.quantity,
        delivery_date=need_line.required_date,
        incoterm=Incoterm.DAP,
        delivery_place=need_line.delivery_place,
    )


def vet(case, offer, actor, *, decision="approved", now=None, countersign=True):
    """A buyer's decision; an approval with red flags (a factory supplier has no documents) is countersigned
    by a jurist of the organisation unless `countersign=False`."""
    row = services.vetting_decide(
        case=case, supplier=offer.supplier, actor=actor, decision=decision, findings="Documents à jour.", now=now
    )
    if countersign and row.awaiting_countersign:
        jurist = User.objects.filter(organisation=case.organisation, groups__name="jurist").first()
        jurist = jurist or UserFactory(organisation=case.organisation, roles=["jurist"])
        services.vetting_countersign(decision=row, actor=jurist, approve=True, comment="Contreseing.", now=now)
        row.refresh_from_db()
    return row


PDF_EVIDENCE = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def ppe_body(number: str = "2797") -> NotifiedBody:
    """A body notified for PPE today (seeded from the CSV sample; created if a test flushed it)."""
    body, _created = NotifiedBody.objects.get_or_create(
        number=number,
        defaults={
            "name": "BSI Group The Netherlands B.V.",
            "country": "NL",
            "legislations": ["ppe", "md"],
        },
    )
    return body


def equivalent_class() -> NormClass:
    """A foreign standard accepted under a derogation with no end date (the 2020 ones have ended)."""
    norm, _created = Norm.objects.get_or_create(
        code="Norme étrangère d'essai", defaults={"title": "Équivalent FFP2 d'essai", "legislation": "none"}
    )
    norm_class, created = NormClass.objects.get_or_create(
        norm=norm,
        label="EQ94",
        defaults={
            "product": Product.FFP2,
            "filtration_min": Decimal("94"),
            "derogation_reference": "Dérogation d'essai",
            "valid_from": timezone.localdate() - timedelta(days=365),
        },
    )
    if created:
        for kind in (EvidenceKind.DECLARATION, EvidenceKind.TEST_REPORT):
            EvidenceRequirement.objects.create(norm_class=norm_class, kind=kind)
    return norm_class


def _evidence(kind, **fields) -> dict:
    upload = SimpleUploadedFile(f"{kind}.pdf", PDF_EVIDENCE, content_type="application/pdf")
    return {"kind": kind, "issuer": fields.pop("issuer", "Fabricant"), "uploaded": upload, **fields}


def check_conformity(offer, actor, *, verdict="conform", now=None):
    """A complete FFP2 check that yields `verdict`: conform (EN 149 with notified body 2797), derogation (a
    foreign equivalent), non_conform (filtration 90 %), incomplete (no test report)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    body = ppe_body()
    claim = {
        "norm_class": NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2"),
        "model_reference": "X-100",
        "marking": "CE 2797 NR",
        "ce_number": "2797",
        "filtration": Decimal("98"),
        "inward_leakage": Decimal("6"),
    }
    evidence = [
        _evidence(EvidenceKind.DECLARATION, model_reference="X-100"),
        _evidence(
            EvidenceKind.TYPE_EXAMINATION,
            issuer=body.name,
            notified_body=body,
            number="2797-PPE-1234",
            model_reference="X-100",
            issued_on=today - timedelta(days=365),
            expires_on=today + timedelta(days=3 * 365),
        ),
        _evidence(EvidenceKind.PRODUCTION_CONTROL, issuer=body.name, notified_body=body, number="2797-D-77"),
        _evidence(EvidenceKind.TEST_REPORT, issuer="Laboratoire d'essais"),
    ]
    if verdict == "derogation":
        claim = {"norm_class": equivalent_class(), "model_reference": "X-100", "filtration": Decimal("96")}
        evidence = [evidence[0], evidence[3]]
    elif verdict == "non_conform":
        claim["filtration"] = Decimal("90")
    elif verdict == "incomplete":
        evidence = evidence[:3]
    return services.conformity_record(
        offer=offer, actor=actor, now=now, claim=claim, evidence=evidence, findings="Marquage et certificat vérifiés."
    )


def conformity_form_data(offer, *, filtration="98", kinds=None) -> dict:
    """What the conformity page posts for an EN 149 FFP2 claim by model X-100 with CE 2797, with one uploaded
    document per kind (by default the four the class requires: then the verdict is conform)."""
    body = ppe_body()
    today = timezone.localdate()
    ffp2 = NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")
    kinds = kinds or [kind for kind in ffp2.requirements.values_list("kind", flat=True)]
    data = {
        "claim-norm_class": ffp2.pk,
        "claim-model_reference": "X-100",
        "claim-marking": "CE 2797 NR",
        "claim-ce_number": "CE 2797",
        "claim-filtration": filtration,
        "claim-inward_leakage": "6",
        "claim-findings": "",
        "evidence-TOTAL_FORMS": str(len(kinds) + 1),
        "evidence-INITIAL_FORMS": "0",
        "evidence-MIN_NUM_FORMS": "0",
        "evidence-MAX_NUM_FORMS": "8",
        # the last, empty form as the browser sends it: "issued by the manufacturer" ticked by default
        f"evidence-{len(kinds)}-by_manufacturer": "on",
    }
    for index, kind in enumerate(kinds):
        by_body = kind in (EvidenceKind.TYPE_EXAMINATION, EvidenceKind.PRODUCTION_CONTROL)
        data |= {
            f"evidence-{index}-kind": kind,
            f"evidence-{index}-issuer": body.name if by_body else "Fabricant",
            f"evidence-{index}-notified_body": body.pk if by_body else "",
            f"evidence-{index}-number": f"N-{index}",
            f"evidence-{index}-model_reference": "X-100",
            f"evidence-{index}-issued_on": (today - timedelta(days=30)).isoformat(),
            f"evidence-{index}-expires_on": (today + timedelta(days=700)).isoformat() if by_body else "",
            f"evidence-{index}-uploaded": SimpleUploadedFile(
                f"{kind}.pdf", PDF_EVIDENCE, content_type="application/pdf"
            ),
        }
        if not by_body:
            data[f"evidence-{index}-by_manufacturer"] = "on"
    return data


def render_pending(case_or_contract) -> None:
    """Render the pending documents synchronously, as the worker would."""
    if isinstance(case_or_contract, PurchaseCase):
        pending = ContractDocument.objects.filter(contract__case=case_or_contract, status="pending")
    else:
        pending = ContractDocument.objects.filter(contract=case_or_contract, status="pending")
    for pk in list(pending.values_list("pk", flat=True)):
        documents.document_render(document_id=pk)


def make_case(
    owner,
    state: str = "need",
    now=None,
    *,
    suppliers: int = 1,
    quantity: int = 100_000,
    unit_price: Decimal = Decimal("0.85"),
    title: str = "Masques de protection — COVID-19",
    verdict: str = "conform",
    render: bool = True,
    jurist=None,
    signer=None,
) -> PurchaseCase:
    """A case driven through the services up to `state`.

    Each of `suppliers` offers covers the whole (single) need line, is vetted, conform and has final terms;
    at "contract" one draft contract per offer exists (each awarded quantity // suppliers), and its first
    document is rendered unless `render=False` (then it stays pending, for the worker or the eager task).
    "closed" signs every contract (jurist approves, `signer` — a director given a delegation — signs).
    """
    assert state in STATES, state
    now = now or timezone.now()
    case = services.case_create(
        actor=owner,
        title=title,
        need_lines=[need_line_data(now, quantity=quantity)],
        justification=justification_data(now),
        now=now,
    )
    if state == "cancelled":
        jurist = jurist or UserFactory(organisation=owner.organisation, roles=["jurist"])
        return contract_services.case_cancel(case=case, actor=jurist, comment="Besoin couvert par l'État.", now=now)
    if _rank(state) < _rank("vetting"):
        return case
    case = services.case_submit(case=case, actor=owner, now=now)
    offers = []
    for _ in range(suppliers):
        offer = add_offer(case, owner, now=now, unit_price=unit_price)
        vet(case, offer, owner, now=now)
        offers.append(offer)
    if _rank(state) < _rank("norm_check"):
        return case
    case = services.case_start_norm_check(case=case, actor=owner, now=now)
    for offer in offers:
        check_conformity(offer, owner, verdict=verdict, now=now)
    if _rank(state) < _rank("negotiation"):
        return case
    case = services.case_start_negotiation(case=case, actor=owner, now=now)
    for offer in offers:
        services.negotiation_round_add(offer=offer, actor=owner, now=now, **round_data(offer))
    if _rank(state) < _rank("contract"):
        return case
    share = quantity // suppliers
    contract_services.case_award(
        case=case, actor=owner, awards={o.pk: share for o in offers}, reason="Meilleur délai de livraison.", now=now
    )
    if render or state == "closed":
        render_pending(case)
    if state == "contract":
        return PurchaseCase.objects.get(pk=case.pk)
    jurist = jurist or UserFactory(organisation=owner.organisation, roles=["jurist"])
    if signer is None:
        signer = UserFactory(organisation=owner.organisation, roles=["director"])
        SignatureDelegationFactory(delegate=signer, valid_from=timezone.localdate(now) - timedelta(days=1))
    for contract in Contract.objects.filter(case=case):
        sign_contract(contract, owner, jurist, signer, now=now)
    return contract_services.case_close(case=case, actor=owner, now=now)


def approve_contract(contract, buyer, jurist, *, now=None) -> Contract:
    contract = contract_services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer, now=now
    )
    return contract_services.contract_approve(
        contract=contract,
        actor=jurist,
        rendered_sha256=contract.current_document.sha256,
        clauses=list(CLAUSES),
        now=now,
    )


def sign_contract(contract, buyer, jurist, signer, *, now=None) -> Contract:
    contract = approve_contract(contract, buyer, jurist, now=now)
    return contract_services.contract_sign(contract=contract, actor=signer, now=now)


CONTRACT_STATES = ["draft", "legal_review", "approved", "signed", "notified", "withdrawn"]


def make_contract(buyer, state: str, *, jurist, signer=None, now=None, **case_kwargs) -> Contract:
    """A contract of a fresh case (rendered document) driven through the services to `state`."""
    assert state in CONTRACT_STATES, state
    case = make_case(buyer, "contract", now=now, **case_kwargs)
    contract = case.contracts.get()
    if state == "draft":
        return contract
    if state == "withdrawn":
        return contract_services.contract_withdraw(contract=contract, actor=jurist, comment="Offre caduque.", now=now)
    contract = contract_services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer, now=now
    )
    if state == "legal_review":
        return contract
    contract = contract_services.contract_approve(
        contract=contract,
        actor=jurist,
        rendered_sha256=contract.current_document.sha256,
        clauses=list(CLAUSES),
        now=now,
    )
    if state == "approved":
        return contract
    contract = contract_services.contract_sign(contract=contract, actor=signer, now=now)
    if state == "signed":
        return contract
    return contract_services.contract_notify_supplier(contract=contract, actor=buyer, now=now)
