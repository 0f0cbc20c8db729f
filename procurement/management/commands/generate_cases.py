"""`manage.py generate_cases --cases N`: synthetic cases in bulk, for `make bench` only (DESIGN.md §7–8).

The one documented exception to "a status changes only through a transition" (DESIGN.md §3): at a million
cases the services would take hours, so rows are written with PostgreSQL COPY. They keep the models'
invariants all the same: valid statuses; every case has at least one need line, a justification and an audit
trail from its creation to its current stage; offers from the vetting stage on; contracts only for cases at
the contract or closed stage, each with the fields of its status (approved: approval and rendered version;
signed: signature under the director's delegation; notified: notification date), and a closed case's
contracts all signed.

Two organisations are written in the same database: a big one with N cases and a small one with
N / --small-org-ratio, so that the benchmark can compare the same page at two sizes. The same --cases and
--seed give the same organisations (SIRETs derived from both); running again reuses them.
"""

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from stdnum import luhn

from accounts import roles
from accounts.models import Organisation, User
from contracts.models import CLAUSES, Contract, ContractDocument, ContractStatus, SignatureDelegation
from procurement.catalogue import CPV, Incoterm, Product
from procurement.models import (
    CaseEvent,
    CaseStatus,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    UrgencyJustification,
)
from suppliers.models import Supplier, SupplierDocument

CHUNK_CASES = 2_000  # cases per COPY batch and transaction
WINDOW = timedelta(days=56)  # cases were opened over the last eight weeks
OVERDUE_SHARE = 0.3  # of the cases at an open stage, the share past the stage target

# Share of cases per status (the path through the workflow is STAGE_PATH; cancelled cases stopped earlier).
STATUS_WEIGHTS = {
    CaseStatus.NEED: 8,
    CaseStatus.VETTING: 10,
    CaseStatus.NORM_CHECK: 8,
    CaseStatus.NEGOTIATION: 10,
    CaseStatus.CONTRACT: 17,
    CaseStatus.CLOSED: 37,
    CaseStatus.CANCELLED: 10,
}
STAGE_PATH = ["need", "vetting", "norm_check", "negotiation", "contract", "closed"]
STEP_VERBS = ["submit", "start_norm_check", "start_negotiation", "award", "close"]
CONTRACT_WEIGHTS = {
    CaseStatus.CONTRACT: {
        ContractStatus.DRAFT: 20,
        ContractStatus.LEGAL_REVIEW: 20,
        ContractStatus.APPROVED: 25,
        ContractStatus.SIGNED: 20,
        ContractStatus.NOTIFIED: 15,
    },
    # close: every contract signed (or further).
    CaseStatus.CLOSED: {ContractStatus.SIGNED: 40, ContractStatus.NOTIFIED: 60},
}
APPROVED_OR_FURTHER = {ContractStatus.APPROVED, ContractStatus.SIGNED, ContractStatus.NOTIFIED}
SIGNED_OR_FURTHER = {ContractStatus.SIGNED, ContractStatus.NOTIFIED}
# Contracts from this amount go to the prefect (roughly the EU supplies threshold).
PREFECT_FROM = Decimal("214000")

CPV_OF = {
    "ffp": CPV.PROTECTIVE_GEAR,
    "med": CPV.MEDICAL_CONSUMABLES,
    "community": CPV.PROTECTIVE_GEAR,
    "exam_gloves": CPV.DISPOSABLE_GLOVES,
    "prot_gloves": CPV.DISPOSABLE_GLOVES,
    "gowns": CPV.PROTECTIVE_CLOTHING,
    "sanitiser": CPV.ANTISEPTICS,
}
TITLES = {
    "ffp1": "Masques FFP1",
    "ffp2": "Masques FFP2 ou équivalents",
    "ffp3": "Masques FFP3",
    "med_i": "Masques chirurgicaux type I",
    "med_ii": "Masques chirurgicaux type II",
    "med_iir": "Masques chirurgicaux type IIR",
    "community": "Masques grand public",
    "exam_gloves": "Gants d'examen nitrile",
    "prot_gloves": "Gants de protection",
    "gowns": "Surblouses",
    "sanitiser": "Gel hydroalcoolique",
}
PLACES = [
    ("Marseille", "13002"),
    ("Nice", "06000"),
    ("Toulon", "83000"),
    ("Avignon", "84000"),
    ("Aix-en-Provence", "13100"),
    ("Gap", "05000"),
    ("Digne-les-Bains", "04000"),
    ("Arles", "13200"),
]
SUPPLIER_HEADS = [
    "Medi",
    "Proto",
    "Sanit",
    "Azur",
    "Nord",
    "Lumen",
    "Helio",
    "Vita",
    "Trans",
    "Euro",
    "Asia",
    "Provence",
]
SUPPLIER_TAILS = ["pharm", "tex", "med", "log", "trade", "care", "protect", "import", "santé", "pack"]
JUSTIFICATION = {
    "triggering_event": "Épidémie de covid-19 : besoins urgents des soignants et des agents au contact du public.",
    "triggering_text": "Décret n° 2020-281 du 20 mars 2020",
    "time_limits_impossible": "Les délais d'un appel d'offres, même réduits, dépassent la date de rupture des stocks.",
    "causal_link": "La pénurie résulte directement de l'épidémie et des réquisitions, non d'un défaut d'anticipation.",
    "strictly_necessary_scope": "Quantités limitées à quatre semaines de consommation, le temps d'une procédure.",
}


# --- identifiers ---------------------------------------------------------------------------------
def make_siret(body: str, establishment: str = "0001") -> str:
    """A SIRET valid under the Luhn rule: SIREN (8 digits + key) then establishment number + key."""
    siren = body + luhn.calc_check_digit(body)
    base = siren + establishment
    return base + luhn.calc_check_digit(base)


def organisation_sirets(*, cases: int, seed: int, siret: str | None = None) -> tuple[str, str]:
    """(big organisation, small organisation): derived from --cases and --seed unless a SIRET is given."""
    if siret:
        small = make_siret(f"{(int(siret[0]) + 1) % 10}{siret[1:8]}", siret[9:13])
        return siret, small
    digits = f"{cases % 10**7:07d}"
    establishment = f"{seed % 10000:04d}"
    return make_siret(f"8{digits}", establishment), make_siret(f"9{digits}", establishment)


# --- COPY writer ---------------------------------------------------------------------------------
class Table:
    """Rows of one model, as tuples in its column order, with ids assigned here (so rows can point to each other
    before they are written). Columns left out take the model field's default."""

    def __init__(self, model, first_id: int):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.position = {f.attname: i for i, f in enumerate(self.fields)}
        self.json = {f.attname: f for f in self.fields if isinstance(f, models.JSONField)}
        self.template = [self._default(f) for f in self.fields]
        self.pk_position = self.position[model._meta.pk.attname]
        self.next_id = first_id
        self.rows: list[list] = []
        self.written = 0

    @staticmethod
    def _default(f):
        if f.primary_key:
            return None
        value = f.get_default()
        return f.get_db_prep_save(value, connection) if isinstance(f, models.JSONField) else value

    def add(self, **values) -> int:
        row = self.template.copy()
        for name, value in values.items():
            if name in self.json:
                value = self.json[name].get_db_prep_save(value, connection)
            row[self.position[name]] = value
        pk = self.next_id
        row[self.pk_position] = pk
        self.next_id += 1
        self.rows.append(row)
        return pk


class CopyWriter:
    """Buffers rows per table and writes them with COPY, tables in the order they were first asked for."""

    def __init__(self):
        self.tables: dict[type, Table] = {}

    def __getitem__(self, model) -> Table:
        if model not in self.tables:
            with connection.cursor() as cursor:
                # Names from the model's metadata, not from input.
                pk, table = (connection.ops.quote_name(n) for n in (model._meta.pk.column, model._meta.db_table))
                cursor.execute(f"SELECT COALESCE(MAX({pk}), 0) + 1 FROM {table}")  # noqa: S608  # nosec B608
                self.tables[model] = Table(model, cursor.fetchone()[0])
        return self.tables[model]

    @transaction.atomic
    def flush(self) -> None:
        with connection.cursor() as cursor:
            for table in self.tables.values():
                if not table.rows:
                    continue
                name = connection.ops.quote_name(table.model._meta.db_table)
                columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
                with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                    for row in table.rows:
                        copy.write_row(row)
                table.written += len(table.rows)
                table.rows.clear()
            # Ids were chosen here: move the sequences past them for rows created later by the ORM.
            for statement in connection.ops.sequence_reset_sql(no_style(), [t.model for t in self.tables.values()]):
                cursor.execute(statement)

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tables.values())

    @staticmethod
    def analyze() -> None:
        """Statistics for every table (the small reference tables included), so plans fit the new sizes; and the
        visibility map, so that index-only scans need not visit the freshly written rows (as autovacuum would).
        VACUUM cannot run in a transaction (a test's): there, the statistics only."""
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")


# --- the data ------------------------------------------------------------------------------------
@dataclass
class GeneratedOrganisation:
    organisation_id: int
    siret: str
    cases: int
    director_id: int
    jurist_id: int
    buyer_ids: list[int] = field(default_factory=list)
    reused: bool = False


@dataclass
class People:
    buyers: list[int]
    jurist: int
    director: int
    delegation: int


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + (end - start) * rng.random()


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Generator:
    def __init__(self, *, seed: int, now: datetime, out):
        self.seed = seed
        self.now = now
        self.today = timezone.localdate(now)
        self.out = out
        self.writer = CopyWriter()
        self.products = [p for p in Product.values if p != Product.OTHER]
        self.groups = {name: Group.objects.get_or_create(name=name)[0].pk for name in roles.ROLES}
        self.vat_rate = Decimal(str(settings.DEFAULT_VAT_RATE))

    # --- organisation, people, suppliers ---------------------------------------------------------
    def organisation(self, *, siret: str, cases: int) -> GeneratedOrganisation:
        existing = Organisation.objects.filter(siret=siret).first()
        if existing is not None:
            count = PurchaseCase.objects.filter(organisation=existing).count()
            if count != cases:
                raise CommandError(
                    f"Organisation {siret} already exists with {count} cases, not {cases}: choose another --seed "
                    "or --organisation-siret, or use a fresh database."
                )
            self.out.write(f"generate_cases: {existing.name} already has its {cases} cases (reused)")
            return self._existing(existing, cases)
        rng = random.Random(f"{self.seed}-{siret}")  # noqa: S311 (synthetic data, not a secret)
        started = time.perf_counter()
        written = self.writer.written
        organisation_id = self.writer[Organisation].add(
            name=f"Banc d'essai {cases} dossiers ({siret})",
            siret=siret,
            address="27 place Jules Guesde",
            postal_code="13002",
            city="Marseille",
        )
        people = self._people(organisation_id, siret, buyers=max(3, min(40, cases // 250)))
        suppliers = self._suppliers(rng, organisation_id, count=max(5, cases // 20), created_by=people.buyers[0])
        self.writer.flush()
        for first in range(1, cases + 1, CHUNK_CASES):
            for number in range(first, min(cases, first + CHUNK_CASES - 1) + 1):
                self._case(rng, organisation_id, number, people, suppliers)
            self.writer.flush()
        elapsed = time.perf_counter() - started
        rows = self.writer.written - written
        self.out.write(
            f"generate_cases: {cases} cases for SIRET {siret}: {rows} rows in {elapsed:.1f} s "
            f"({rows / elapsed:,.0f} rows/s)"
        )
        return GeneratedOrganisation(organisation_id, siret, cases, people.director, people.jurist, people.buyers)

    @staticmethod
    def _existing(organisation, cases: int) -> GeneratedOrganisation:
        def members(role):
            return list(
                User.objects.filter(organisation=organisation, groups__name=role)
                .order_by("pk")
                .values_list("pk", flat=True)
            )

        return GeneratedOrganisation(
            organisation.pk,
            organisation.siret,
            cases,
            director_id=members(roles.DIRECTOR)[0],
            jurist_id=members(roles.JURIST)[0],
            buyer_ids=members(roles.BUYER),
            reused=True,
        )

    def _user(self, organisation_id: int, username: str, first: str, last: str, role: str, title: str) -> int:
        pk = self.writer[User].add(
            username=username,
            password=make_password(None),  # unusable: the benchmark opens sessions itself
            first_name=first,
            last_name=last,
            email=f"{username}@example.org",
            date_joined=self.now,
            organisation_id=organisation_id,
            job_title=title,
        )
        self.writer[User.groups.through].add(user_id=pk, group_id=self.groups[role])
        return pk

    def _people(self, organisation_id: int, siret: str, *, buyers: int) -> People:
        prefix = f"gen-{siret}"
        buyer_ids = [
            self._user(organisation_id, f"{prefix}-buyer{i}", "Camille", f"Acheteur {i}", roles.BUYER, "Acheteur")
            for i in range(1, buyers + 1)
        ]
        jurist = self._user(organisation_id, f"{prefix}-jurist", "Dominique", "Juriste", roles.JURIST, "Juriste")
        director = self._user(
            organisation_id, f"{prefix}-director", "Claude", "Directeur", roles.DIRECTOR, "Directeur de la commande"
        )
        delegation = self.writer[SignatureDelegation].add(
            organisation_id=organisation_id,
            delegate_id=director,
            delegating_authority="Le président du conseil régional",
            legal_basis="Article L4231-3 du CGCT",
            reference=f"ARR-{siret[-6:]}",
            amount_ceiling=Decimal("1000000000"),
            valid_from=self.today - timedelta(days=365),
            valid_until=self.today + timedelta(days=365),
        )
        return People(buyer_ids, jurist, director, delegation)

    def _suppliers(self, rng: random.Random, organisation_id: int, *, count: int, created_by: int) -> list[int]:
        ids = []
        for number in range(1, count + 1):
            name = f"{rng.choice(SUPPLIER_HEADS)}{rng.choice(SUPPLIER_TAILS)} {number}"
            if rng.random() < 0.75:
                siret = make_siret(f"4{number:07d}")
                fields = {
                    "name": f"{name} SAS",
                    "country": "FR",
                    "identifier_type": Supplier.IdentifierType.SIRET,
                    "siret": siret,
                    "siren": siret[:9],
                }
            else:
                fields = {
                    "name": f"{name} Co., Ltd.",
                    "country": "CN",
                    "identifier_type": Supplier.IdentifierType.HORS_UE,
                    "registration_number": f"9131{number:014d}",
                }
            pk = self.writer[Supplier].add(
                organisation_id=organisation_id,
                address="1 rue du Port, 13002 Marseille",
                email=f"contact{number}@example.com",
                created_at=self.now - WINDOW,
                created_by_id=created_by,
                **fields,
            )
            if fields["identifier_type"] == Supplier.IdentifierType.SIRET:
                issued = self.today - timedelta(days=rng.randint(0, 200))
                self.writer[SupplierDocument].add(
                    supplier_id=pk,
                    kind=SupplierDocument.Kind.URSSAF,
                    issued_on=issued,
                    expires_on=SupplierDocument.computed_expiry(SupplierDocument.Kind.URSSAF, issued),
                    file=f"supplier-documents/generated-{pk}.pdf",
                    original_name="attestation-urssaf.pdf",
                    content_type="application/pdf",
                    size=120_000,
                    sha256=hashlib.sha256(f"urssaf-{pk}".encode()).hexdigest(),
                    uploaded_by_id=created_by,
                    uploaded_at=self.now - WINDOW,
                )
            ids.append(pk)
        return ids

    # --- one case ------------------------------------------------------------------------------
    def _dates(self, rng: random.Random, status: str) -> tuple[datetime, datetime, int]:
        """(created_at, stage_entered_at, index of the last working stage reached)."""
        now = self.now
        if status in (CaseStatus.CLOSED, CaseStatus.CANCELLED):
            created = _between(rng, now - WINDOW, now - timedelta(days=1))
            reached = 5 if status == CaseStatus.CLOSED else rng.randint(0, 3)
            return created, _between(rng, created, now), reached
        reached = STAGE_PATH.index(status)
        target = timedelta(hours=settings.STAGE_TARGET_HOURS[status])
        if rng.random() < OVERDUE_SHARE:
            entered = now - target - timedelta(days=14) * rng.random() - timedelta(minutes=1)
        else:
            entered = now - target * rng.random()
        created = max(now - WINDOW, entered - timedelta(days=3) * rng.random() * reached)
        return min(created, entered), entered, reached

    def _case(self, rng: random.Random, organisation_id: int, number: int, people: People, suppliers: list[int]):
        w = self.writer
        status = _weighted(rng, STATUS_WEIGHTS)
        created, entered, reached = self._dates(rng, status)
        owner = rng.choice(people.buyers)
        products = rng.sample(self.products, rng.choices([1, 2, 3], weights=[60, 30, 10])[0])
        city, postal_code = rng.choice(PLACES)
        reference = f"URG-{created.year}-{number:07d}"
        case_id = w[PurchaseCase].add(
            organisation_id=organisation_id,
            reference=reference,
            title=f"{TITLES.get(products[0], 'Fournitures')} — {city}",
            owner_id=owner,
            status=status,
            created_at=created,
            stage_entered_at=entered,
            closed_at=entered if status == CaseStatus.CLOSED else None,
        )
        if rng.random() < 0.2:
            w[PurchaseCase.buyers.through].add(purchasecase_id=case_id, user_id=rng.choice(people.buyers))
        w[UrgencyJustification].add(case_id=case_id, event_date=(created - timedelta(days=2)).date(), **JUSTIFICATION)

        # The audit trail: created, then one event per step up to the current stage, evenly spaced.
        steps = reached + (1 if status == CaseStatus.CANCELLED else 0)
        moments = [created + (entered - created) * (i / steps) for i in range(steps + 1)] if steps else [created]
        w[CaseEvent].add(case_id=case_id, verb="create", actor_id=owner, target="need", created_at=created)
        for i in range(reached):
            w[CaseEvent].add(
                case_id=case_id,
                verb=STEP_VERBS[i],
                actor_id=owner,
                source=STAGE_PATH[i],
                target=STAGE_PATH[i + 1],
                created_at=moments[i + 1],
            )
        if status == CaseStatus.CANCELLED:
            w[CaseEvent].add(
                case_id=case_id,
                verb="cancel",
                actor_id=people.director,
                source=STAGE_PATH[reached],
                target=CaseStatus.CANCELLED,
                comment="Besoin couvert par une dotation de l'État.",
                created_at=entered,
            )
        awarded_at = moments[4] if reached >= 4 else None
        contracts = 0

        for product in products:
            quantity = rng.choice([1, 2, 5]) * 10 ** rng.randint(3, 6)
            estimate = Decimal(rng.randint(5, 900)) / 100 if rng.random() < 0.9 else None
            line_id = w[NeedLine].add(
                case_id=case_id,
                product=product,
                quantity=quantity,
                cpv_code=next((c for k, c in CPV_OF.items() if product.startswith(k)), CPV.MEDICAL_CONSUMABLES),
                required_date=(created + timedelta(days=rng.randint(3, 30))).date(),
                delivery_place=f"Entrepôt régional, {city}",
                delivery_postal_code=postal_code,
                estimated_unit_price=estimate,
            )
            if reached < 1:
                continue
            for rank in range(rng.choice([1, 2])):
                price = ((estimate or Decimal("1.20")) * Decimal(rng.uniform(0.8, 1.5))).quantize(Decimal("0.0001"))
                offered = quantity if rng.random() < 0.7 else max(1, quantity // 2)
                delivery = (created + timedelta(days=rng.randint(5, 40))).date()
                received = _between(rng, moments[1], moments[2] if len(moments) > 2 else self.now)
                award = awarded_at is not None and rank == 0
                offer_id = w[Offer].add(
                    case_id=case_id,
                    need_line_id=line_id,
                    supplier_id=rng.choice(suppliers),
                    product_description=f"{TITLES.get(product, 'Fourniture')} — modèle {rng.randint(100, 999)}",
                    unit_price=price,
                    quantity=offered,
                    delivery_date=delivery,
                    incoterm=rng.choice([Incoterm.DAP, Incoterm.DDP, Incoterm.FCA]),
                    delivery_place=f"Entrepôt régional, {city}",
                    advance_rate=Decimal("0.30") if rng.random() < 0.3 else Decimal("0"),
                    received_at=received,
                    created_by_id=owner,
                    awarded_quantity=min(offered, quantity) if award else None,
                    awarded_by_id=owner if award else None,
                    awarded_at=awarded_at if award else None,
                    award_reason="Meilleur délai de livraison à un prix conforme aux références." if award else "",
                )
                if award:
                    contracts += 1
                    self._contract(
                        rng,
                        case_id=case_id,
                        reference=f"{reference}-C{contracts}",
                        case_status=status,
                        offer_id=offer_id,
                        quantity=min(offered, quantity),
                        price=price,
                        delivery=delivery,
                        city=city,
                        owner=owner,
                        people=people,
                        awarded_at=awarded_at,
                        end=self.now if status == CaseStatus.CONTRACT else entered,
                    )

    def _contract(
        self,
        rng,
        *,
        case_id,
        reference,
        case_status,
        offer_id,
        quantity,
        price,
        delivery,
        city,
        owner,
        people,
        awarded_at,
        end,
    ):
        """The final round, the contract in a status its case allows, and its rendered first version.
        `end`: the contract's dates fall before it (now for an open case, the closing for a closed one)."""
        w = self.writer
        final_price = (price * Decimal("0.95")).quantize(Decimal("0.0001"))
        w[NegotiationRound].add(
            offer_id=offer_id,
            number=1,
            unit_price=final_price,
            quantity=quantity,
            delivery_date=delivery,
            incoterm=Incoterm.DAP,
            delivery_place=f"Entrepôt régional, {city}",
            valid_until=delivery,
            proposed_by="Fournisseur",
            note="Remise de 5 % pour un paiement à 30 jours.",
            is_final=True,
            recorded_by_id=owner,
            recorded_at=awarded_at - timedelta(hours=1),
        )
        status = _weighted(rng, CONTRACT_WEIGHTS[case_status])
        contract_id = w[Contract].next_id
        document_id = w[ContractDocument].next_id
        sha = hashlib.sha256(f"{reference}-v1".encode()).hexdigest()
        fields = {}
        if status in APPROVED_OR_FURTHER:
            approved_at = _between(rng, awarded_at, awarded_at + (end - awarded_at) / 2)
            fields |= {
                "approved_by_id": people.jurist,
                "approved_at": approved_at,
                "approved_document_id": document_id,
                "clauses_checked": list(CLAUSES),
            }
        if status in SIGNED_OR_FURTHER:
            signed_at = _between(rng, approved_at, approved_at + (end - approved_at) / 2)
            fields |= {
                "signed_by_id": people.director,
                "signed_at": signed_at,
                "delegation_id": people.delegation,
                "signed_sha256": sha,
            }
            signed_on = timezone.localdate(signed_at)
            above = final_price * quantity >= PREFECT_FROM
            if rng.random() < 0.5:
                fields["award_notice_published_on"] = min(self.today, signed_on + timedelta(days=rng.randint(1, 20)))
            if status == ContractStatus.NOTIFIED:
                notified_at = _between(rng, signed_at, signed_at + (end - signed_at) / 2)
                fields["notified_at"] = notified_at
                if above:  # notify_supplier: transmitted to the prefect first
                    fields["prefect_transmitted_on"] = signed_on
                if rng.random() < 0.5:
                    fields["decp_published_on"] = timezone.localdate(notified_at)
            elif above and rng.random() < 0.5:
                fields["prefect_transmitted_on"] = signed_on
        w[Contract].add(
            case_id=case_id,
            offer_id=offer_id,
            reference=reference,
            status=status,
            quantity=quantity,
            unit_price=final_price,
            vat_rate=self.vat_rate,
            created_at=awarded_at,
            **fields,
        )
        w[ContractDocument].add(
            contract_id=contract_id,
            version=1,
            status=ContractDocument.Status.RENDERED,
            file=f"contracts/{contract_id}/{reference}-v1.pdf",
            sha256=sha,
            size=48_000,
            created_at=awarded_at,
            rendered_at=awarded_at + timedelta(seconds=5),
            attempts=1,
        )


def generate(
    *, cases: int, seed: int = 1, organisation_siret: str | None = None, small_org_ratio: int = 10, out, now=None
) -> list[GeneratedOrganisation]:
    """The big organisation (N cases) and, unless the ratio is 0, the small one (N / ratio): created, or reused
    when they already hold exactly that many cases. Then ANALYZE, so the planner knows the new sizes."""
    if connection.vendor != "postgresql":
        raise CommandError("generate_cases writes with PostgreSQL COPY: point DATABASE_URL at PostgreSQL.")
    big, small = organisation_sirets(cases=cases, seed=seed, siret=organisation_siret)
    generator = Generator(seed=seed, now=now or timezone.now(), out=out)
    organisations = [generator.organisation(siret=big, cases=cases)]
    if small_org_ratio and cases // small_org_ratio:
        organisations.append(generator.organisation(siret=small, cases=cases // small_org_ratio))
    if generator.writer.written:
        started = time.perf_counter()
        generator.writer.analyze()
        out.write(f"generate_cases: statistics in {time.perf_counter() - started:.1f} s")
    return organisations


class Command(BaseCommand):
    help = "Bulk-insert synthetic cases for the benchmarks (PostgreSQL only; never on a production database)."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=10_000, help="cases of the big organisation")
        parser.add_argument("--organisation-siret", help="SIRET of the big organisation (default: from --cases/--seed)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--small-org-ratio", type=int, default=10, help="the second organisation has cases / ratio (0: none)"
        )

    def handle(self, *args, cases, organisation_siret, seed, small_org_ratio, **options):
        if cases < 1:
            raise CommandError("--cases must be at least 1.")
        if organisation_siret and not (len(organisation_siret) == 14 and luhn.is_valid(organisation_siret)):
            raise CommandError("--organisation-siret must be a valid 14-digit SIRET.")
        generate(
            cases=cases,
            seed=seed,
            organisation_siret=organisation_siret,
            small_org_ratio=small_org_ratio,
            out=self.stdout,
        )
