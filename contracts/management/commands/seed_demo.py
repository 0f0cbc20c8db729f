"""Demo data (DESIGN.md §7): the archived 2020 masks story and a live emergency, through the services.

Idempotent: organisations, users, suppliers and delegations are looked up before being created, and a
case is only built when its organisation has no case of the same title.
"""

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.html import escape
from stdnum import luhn

from accounts import roles
from accounts.models import Organisation, User
from contracts import services as contract_services
from contracts.models import CLAUSES, ContractDocument, SignatureDelegation
from notifications.services import notification_mark_read
from procurement import services as case_services
from procurement.catalogue import CPV, Incoterm, Product
from procurement.models import (
    EvidenceKind,
    NormClass,
    NotifiedBody,
    PurchaseCase,
    SupplyChainParty,
    VettingDecision,
)
from suppliers import services as supplier_services
from suppliers.models import SanctionsScreening, Supplier, SupplierDocument

PARIS = ZoneInfo("Europe/Paris")
DEMO_PASSWORD = "tandem-demo-2020!"  # noqa: S105 (public demo password, printed in DEBUG only)
NOISY_LOGGERS = ("celery", "weasyprint", "weasyprint.progress", "fontTools", "contracts.documents")
COVID_TITLE = "Masques de protection — COVID-19"


def make_siret(siren_stem: str, nic_stem: str) -> str:
    """A SIRET whose SIREN and whole number pass the Luhn check (demo identifiers, not real companies)."""
    siren = siren_stem + luhn.calc_check_digit(siren_stem)
    base = siren + nic_stem
    return base + luhn.calc_check_digit(base)


def paris(year, month, day, hour=9, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


ORGANISATIONS = {
    "sud": {
        "name": "Région Sud",
        "siret": make_siret("23130002", "0001"),
        "address": "27 place Jules Guesde",
        "postal_code": "13002",
        "city": "Marseille",
    },
    "var": {
        "name": "Département du Var",
        "siret": make_siret("22830001", "0001"),
        "address": "390 avenue des Lices",
        "postal_code": "83000",
        "city": "Toulon",
    },
}

USERS = [
    # username, organisation, role, first name, last name, job title
    ("acheteur", "sud", roles.BUYER, "Karim", "Benali", "Acheteur, direction de la commande publique"),
    ("acheteuse2", "sud", roles.BUYER, "Claire", "Fabre", "Acheteuse, direction de la commande publique"),
    ("juriste", "sud", roles.JURIST, "Hélène", "Roux", "Juriste, service des affaires juridiques"),
    ("directeur", "sud", roles.DIRECTOR, "Marc", "Giraud", "Directeur général des services"),
    ("admin", "sud", roles.ADMIN, "Sophie", "Martin", "Administratrice fonctionnelle"),
    ("acheteur.var", "var", roles.BUYER, "Julien", "Ollivier", "Acheteur, Département du Var"),
]

SUPPLIERS = {
    "forwarder": {
        "org": "sud",
        "name": "Transit Sud Logistique",
        "country": "FR",
        "siret": make_siret("41234567", "0002"),
        "address": "12 quai de la Joliette, 13002 Marseille",
        "email": "commercial@transit-sud.example",
        "website": "https://www.transit-sud.example",
        "founded_on": date(1998, 5, 4),
        "activity_code": "52.29B",
    },
    "urssaf_expired": {
        "org": "sud",
        "name": "Méditerranée Hygiène Distribution",
        "country": "FR",
        "siret": make_siret("52345678", "0001"),
        "address": "ZI des Paluds, 13400 Aubagne",
        "email": "ventes@mediterranee-hygiene.example",
        "founded_on": date(2011, 9, 12),
        "activity_code": "46.46Z",
    },
    "trader": {
        "org": "sud",
        "name": "Atlas Négoce International",
        "country": "FR",
        "siret": make_siret("83456789", "0001"),
        "address": "45 avenue des Champs-Élysées, 75008 Paris",
        "email": "atlas.negoce.deals@gmail.com",
        "founded_on": date(2020, 3, 10),
        "activity_code": "70.22Z",
    },
    "maker": {
        "org": "sud",
        "name": "Shenzhen Yikang Medical Protective Products Co., Ltd.",
        "country": "CN",
        "registration_number": "91440300MA5FXK2Q7B",
        "address": "Longgang District, Shenzhen, Guangdong, China",
        "email": "export@yikang-medical.example",
    },
    "voluntary_cert": {
        "org": "sud",
        "name": "Guangzhou Hengda Safety Equipment Co., Ltd.",
        "country": "CN",
        "registration_number": "91440101MA59HD3K2X",
        "address": "Baiyun District, Guangzhou, Guangdong, China",
        "email": "sales@hengda-safety.example",
    },
    "var_distributor": {
        "org": "var",
        "name": "Var Équipements Santé",
        "country": "FR",
        "siret": make_siret("79012345", "0001"),
        "address": "Zone Toulon Est, 83130 La Garde",
        "email": "contact@var-equipements.example",
        "activity_code": "46.46Z",
    },
    # The rest of the 2020 chain: the factory behind the forwarder, and the carrier of the cargo.
    "factory": {
        "org": "sud",
        "name": "Hubei Xinda Medical Products Co., Ltd.",
        "country": "CN",
        "registration_number": "91420100MA4KX8RT5N",
        "address": "Xiantao, Hubei, China",
        "email": "export@xinda-medical.example",
    },
    "carrier": {
        "org": "sud",
        "name": "CEVA Logistics",
        "country": "FR",
        "siret": make_siret("40823108", "0045"),
        "address": "4 quai d'Arenc, 13002 Marseille",
        "email": "contact@cevalogistics.example",
        "website": "https://www.cevalogistics.example",
        "founded_on": date(2007, 1, 1),
        "activity_code": "52.29B",
    },
}
SANCTIONS_SAMPLES = settings.BASE_DIR / "suppliers" / "fixtures" / "sanctions"

COVID_JUSTIFICATION = {
    "triggering_event": (
        "Épidémie de COVID-19 : état d'urgence sanitaire et pénurie mondiale d'équipements de protection "
        "individuelle. Les soignants, les EHPAD, les forces de l'ordre et les petites communes de la région "
        "n'ont plus de masques ; l'État a réquisitionné les stocks nationaux (décret n° 2020-247 du 13 mars 2020)."
    ),
    "event_date": date(2020, 3, 20),
    "triggering_text": "Décret n° 2020-281 du 20 mars 2020",
    "time_limits_impossible": (
        "Même un appel d'offres ouvert en procédure accélérée (15 jours, R2161-3) ne permettrait pas une "
        "livraison avant la fin avril. Les stocks des établissements seront épuisés sous huit jours et les "
        "fabricants exigent une commande ferme sous 48 heures, faute de quoi la marchandise est vendue à "
        "d'autres acheteurs."
    ),
    "causal_link": (
        "La pénurie résulte directement de l'épidémie et des réquisitions nationales, événements extérieurs à "
        "la Région et imprévisibles pour elle ; la Région n'a contribué ni à l'épidémie ni à la pénurie."
    ),
    "strictly_necessary_scope": (
        "Les quantités couvrent quatre semaines de consommation estimée des soignants, des forces de l'ordre et "
        "des petites communes (1 000 000 FFP2 ou équivalent, 4 000 000 masques chirurgicaux de type IIR). Le "
        "marché se limite à ces livraisons ; au-delà, une procédure de droit commun prendra le relais."
    ),
}

LIVE_JUSTIFICATION = {
    "triggering_event": (
        "Épidémie de virus respiratoire d'une ampleur exceptionnelle : l'ARS a déclenché le plan blanc "
        "régional ; les établissements de santé et médico-sociaux signalent des ruptures d'équipements."
    ),
    "triggering_text": "Arrêté préfectoral portant déclenchement du plan ORSEC sanitaire",
    "time_limits_impossible": (
        "Les stocks couvrent moins d'une semaine ; aucune procédure formalisée, même accélérée, ne permet une "
        "livraison dans ce délai."
    ),
    "causal_link": (
        "Les besoins naissent directement de l'épidémie, extérieure et imprévisible pour la collectivité, qui "
        "disposait de stocks conformes à ses plans de continuité."
    ),
    "strictly_necessary_scope": (
        "Quantités limitées à trois semaines de consommation constatée ; le reste sera couvert par les "
        "accords-cadres en cours de passation."
    ),
}


class Command(BaseCommand):
    help = "Load the demo data (the archived 2020 masks story and a live emergency). Idempotent."

    def handle(self, *args, **options):
        # The in-process tasks and the PDF engine log every step at INFO: keep the demo output readable.
        quiet = {name: logging.getLogger(name) for name in NOISY_LOGGERS}
        levels = {name: logger.level for name, logger in quiet.items()}
        for logger in quiet.values():
            logger.setLevel(logging.WARNING)
        try:
            self._seed()
        finally:
            for name, logger in quiet.items():
                logger.setLevel(levels[name])
        if settings.DEBUG:
            self._print_logins()

    def _seed(self) -> None:
        # Demo notifications go to the in-app inbox only: no e-mail for what happened "in 2020".
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            self.orgs = {key: self._organisation(**values) for key, values in ORGANISATIONS.items()}
            self.users = {spec[0]: self._user(*spec) for spec in USERS}
            self._delegation()
            self._sanctions_lists()
            self.suppliers = {key: self._supplier(**dict(values)) for key, values in SUPPLIERS.items()}
            created = []
            if self._absent("sud", COVID_TITLE):
                self._covid_story()
                created.append(COVID_TITLE)
                # The archived story is read history: its notifications are not news any more.
                for user in self.users.values():
                    notification_mark_read(user=user, now=paris(2020, 4, 24, 18))
            created += self._live_emergency()
            case_services.notify_overdue()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {len(created)} case(s) created." if created else "Demo data already loaded."
            )
        )

    # --- reference data --------------------------------------------------------------------------
    def _organisation(self, *, name, **fields) -> Organisation:
        organisation, _created = Organisation.objects.get_or_create(name=name, defaults=fields)
        return organisation

    def _user(self, username, org, role, first_name, last_name, job_title) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=f"{username}@{'maregionsud' if org == 'sud' else 'var'}.example",
                job_title=job_title,
                organisation=self.orgs[org],
                is_staff=role == roles.ADMIN,
                is_superuser=role == roles.ADMIN,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=role))
        return user

    def _delegation(self) -> None:
        SignatureDelegation.objects.get_or_create(
            organisation=self.orgs["sud"],
            delegate=self.users["directeur"],
            reference="Arrêté n° 2020-DGS-014",
            defaults={
                "delegating_authority": "Président du conseil régional",
                "legal_basis": "Article L4231-3 du code général des collectivités territoriales",
                "amount_ceiling": Decimal("10000000.00"),
                "valid_from": date(2020, 1, 1),
                "valid_until": date(2030, 12, 31),
            },
        )

    def _sanctions_lists(self) -> None:
        """The sample asset-freeze lists (French register and EU list); importing twice changes nothing."""
        for path in sorted(SANCTIONS_SAMPLES.iterdir()):
            supplier_services.sanctions_import(data=path.read_bytes(), original_name=path.name)

    def _supplier(self, *, org, name, **fields) -> Supplier:
        organisation = self.orgs[org]
        existing = Supplier.objects.filter(organisation=organisation, name=name).first()
        if existing:
            return existing
        actor = self.users["acheteur" if org == "sud" else "acheteur.var"]
        return supplier_services.supplier_create(actor=actor, name=name, **fields)

    def _absent(self, org: str, title: str) -> bool:
        return not PurchaseCase.objects.filter(organisation=self.orgs[org], title=title).exists()

    def _evidence(self, supplier: Supplier, kind: str, issued_on: date, *, verified: bool) -> SupplierDocument:
        from weasyprint import HTML  # imported late, once its logger is quietened

        label = dict(SupplierDocument.Kind.choices)[kind]
        html = (
            f"<h1>{escape(str(label))}</h1><p>{escape(supplier.name)} — {escape(supplier.identifier)}</p>"
            f"<p>Délivré le {issued_on:%d/%m/%Y}. Document de démonstration Tandem.</p>"
        )
        upload = SimpleUploadedFile(f"{kind}.pdf", HTML(string=html).write_pdf(), content_type="application/pdf")
        return supplier_services.supplier_document_add(
            supplier=supplier,
            actor=self.users["acheteur"],
            kind=kind,
            issued_on=issued_on,
            uploaded=upload,
            verified_with_issuer=verified,
            verified_on=issued_on + timedelta(days=1) if verified else None,
        )

    # --- the archived 2020 story (DOMAIN.md §8) --------------------------------------------------
    @transaction.atomic
    def _covid_story(self) -> None:
        buyer, buyer2 = self.users["acheteur"], self.users["acheteuse2"]
        jurist, director = self.users["juriste"], self.users["directeur"]
        s = self.suppliers

        case = case_services.case_create(
            actor=buyer,
            title=COVID_TITLE,
            need_lines=[
                {
                    "product": Product.FFP2,
                    "description": "Masques FFP2 ou équivalent accepté (KN95, N95) pour les soignants",
                    "quantity": 1_000_000,
                    "unit": "masques",
                    "cpv_code": CPV.PROTECTIVE_GEAR,
                    "required_date": date(2020, 3, 31),
                    "delivery_place": "Marseille — plateforme logistique régionale",
                    "delivery_postal_code": "13015",
                    "estimated_unit_price": Decimal("3.0000"),
                },
                {
                    "product": Product.MEDICAL_IIR,
                    "description": "Masques chirurgicaux trois plis de type IIR",
                    "quantity": 4_000_000,
                    "unit": "masques",
                    "cpv_code": CPV.MEDICAL_CONSUMABLES,
                    "required_date": date(2020, 4, 3),
                    "delivery_place": "Marseille — plateforme logistique régionale",
                    "delivery_postal_code": "13015",
                    "estimated_unit_price": Decimal("0.6000"),
                },
            ],
            justification=COVID_JUSTIFICATION,
            now=paris(2020, 3, 20, 9),
        )
        case = case_services.case_assign_buyer(case=case, actor=buyer, buyer=buyer2, now=paris(2020, 3, 20, 9, 5))
        ffp2, iir = list(case.need_lines.all())
        case = case_services.case_submit(case=case, actor=buyer, now=paris(2020, 3, 20, 10, 30))

        # Evidence gathered during vetting (D8222-5: the URSSAF certificate is valid six months).
        self._evidence(s["forwarder"], SupplierDocument.Kind.URSSAF, date(2020, 1, 15), verified=True)
        self._evidence(s["forwarder"], SupplierDocument.Kind.KBIS, date(2020, 2, 20), verified=True)
        self._evidence(s["forwarder"], SupplierDocument.Kind.TAX, date(2020, 1, 20), verified=True)
        self._evidence(s["forwarder"], SupplierDocument.Kind.SWORN_STATEMENT, date(2020, 3, 19), verified=False)
        self._evidence(s["maker"], SupplierDocument.Kind.SWORN_STATEMENT, date(2020, 3, 19), verified=False)
        self._evidence(s["urssaf_expired"], SupplierDocument.Kind.URSSAF, date(2019, 8, 1), verified=False)
        self._evidence(s["urssaf_expired"], SupplierDocument.Kind.KBIS, date(2020, 3, 2), verified=True)
        self._evidence(s["trader"], SupplierDocument.Kind.KBIS, date(2020, 3, 10), verified=False)
        self._evidence(s["maker"], SupplierDocument.Kind.FOREIGN, date(2019, 11, 5), verified=True)
        self._evidence(s["voluntary_cert"], SupplierDocument.Kind.FOREIGN, date(2020, 2, 28), verified=False)

        offer = {}
        offer["kn95"] = case_services.offer_create(
            case=case,
            actor=buyer,
            now=paris(2020, 3, 20, 11),
            need_line=ffp2,
            supplier=s["maker"],
            product_description="Yikang YK-9501, masque KN95 (GB 2626-2006)",
            unit_price=Decimal("3.2000"),
            quantity=1_000_000,
            delivery_date=date(2020, 3, 29),
            incoterm=Incoterm.FCA,
            delivery_place="Aéroport de Shenzhen Bao'an",
            advance_rate=Decimal("0.30"),
        )
        offer["iir"] = case_services.offer_create(
            case=case,
            actor=buyer2,
            now=paris(2020, 3, 20, 11, 40),
            need_line=iir,
            supplier=s["forwarder"],
            product_description="Masques chirurgicaux 3 plis type IIR (EN 14683), fabrication Hubei, acheminement aérien",
            unit_price=Decimal("0.6200"),
            quantity=4_000_000,
            delivery_date=date(2020, 4, 3),
            incoterm=Incoterm.DAP,
            delivery_place="Marseille — plateforme logistique régionale",
            advance_rate=Decimal("0.30"),
        )
        offer["iir_expired"] = case_services.offer_create(
            case=case,
            actor=buyer2,
            now=paris(2020, 3, 20, 12, 15),
            need_line=iir,
            supplier=s["urssaf_expired"],
            product_description="Masques chirurgicaux type IIR, marque distributeur",
            unit_price=Decimal("0.7400"),
            quantity=2_000_000,
            delivery_date=date(2020, 4, 6),
            incoterm=Incoterm.DDP,
            delivery_place="Marseille — plateforme logistique régionale",
        )
        offer["trader"] = case_services.offer_create(
            case=case,
            actor=buyer,
            now=paris(2020, 3, 20, 13),
            need_line=ffp2,
            supplier=s["trader"],
            product_description="Masques FFP2, stock disponible « sur le tarmac »",
            unit_price=Decimal("4.9000"),
            quantity=1_000_000,
            delivery_date=date(2020, 3, 25),
            incoterm=Incoterm.DAP,
            delivery_place="Aéroport Marseille Provence",
            advance_rate=Decimal("0.90"),
        )
        offer["voluntary"] = case_services.offer_create(
            case=case,
            actor=buyer,
            now=paris(2020, 3, 20, 14),
            need_line=ffp2,
            supplier=s["voluntary_cert"],
            product_description="Hengda HD-2020 « FFP2 »",
            unit_price=Decimal("2.7000"),
            quantity=1_500_000,
            delivery_date=date(2020, 3, 30),
            incoterm=Incoterm.FOB,
            delivery_place="Port de Guangzhou Nansha",
            advance_rate=Decimal("0.50"),
        )

        decisions = [
            (
                "forwarder",
                VettingDecision.Decision.APPROVED,
                "Kbis et attestation URSSAF du 15/01/2020 vérifiées auprès des émetteurs ; commissionnaire de "
                "transport établi, références auprès de deux CHU.",
            ),
            (
                "maker",
                VettingDecision.Decision.APPROVED,
                "Licence d'exploitation et code de crédit social unifié vérifiés (registre SAMR) ; fabricant "
                "figurant sur la liste blanche chinoise des exportateurs de dispositifs médicaux.",
            ),
            (
                "trader",
                VettingDecision.Decision.REJECTED,
                "Le dirigeant correspond à une entrée de la liste de sanctions (échantillon de contrôle) ; société "
                "immatriculée il y a dix jours, aucun stock prouvé, acompte de 90 % exigé. Offre écartée.",
            ),
            (
                "urssaf_expired",
                VettingDecision.Decision.RESERVED,
                "Attestation de vigilance URSSAF du 01/08/2019 expirée le 01/02/2020 (D8222-5) : attestation à jour "
                "demandée, aucun paiement avant sa réception.",
            ),
            (
                "voluntary_cert",
                VettingDecision.Decision.APPROVED,
                "Licence d'exploitation vérifiée ; la conformité du produit reste à établir au contrôle des normes.",
            ),
        ]
        # The medical-mask cargo: made in Hubei, handled by the Marseille forwarder, flown by CEVA Logistics.
        for minutes, (key, role, note) in enumerate(
            [
                ("factory", SupplyChainParty.Role.MANUFACTURER, "Usine de Xiantao (Hubei), licence d'exportation."),
                ("forwarder", SupplyChainParty.Role.FORWARDER, "Commissionnaire, dédouanement et livraison."),
                ("carrier", SupplyChainParty.Role.CARRIER, "Fret aérien Wuhan → Marseille-Provence."),
            ]
        ):
            case_services.chain_party_add(
                offer=offer["iir"],
                actor=buyer2,
                supplier=s[key],
                role=role,
                note=note,
                now=paris(2020, 3, 20, 14, 30) + timedelta(minutes=minutes),
            )
        countersignatures = {
            "urssaf_expired": "Réserve acceptée : aucun paiement avant l'attestation URSSAF à jour.",
            "voluntary_cert": "Contreseing : l'engagement sur l'honneur sera produit avec l'offre révisée.",
        }
        for minutes, (key, decision, findings) in enumerate(decisions):
            moment = paris(2020, 3, 20, 15) + timedelta(minutes=20 * minutes)
            row = case_services.vetting_decide(
                case=case, supplier=s[key], actor=buyer, decision=decision, findings=findings, now=moment
            )
            if row.awaiting_countersign:
                case_services.vetting_countersign(
                    decision=row,
                    actor=jurist,
                    approve=True,
                    comment=countersignatures[key],
                    now=moment + timedelta(minutes=10),
                )
        for screening in SanctionsScreening.objects.filter(supplier=s["trader"], review="pending"):
            supplier_services.screening_review(
                screening=screening,
                actor=jurist,
                review=SanctionsScreening.Review.CONFIRMED,
                reason="Même dénomination et même adresse que l'entité inscrite au registre : offre écartée, "
                "signalement à TRACFIN.",
                now=paris(2020, 3, 20, 16, 30),
            )
        case = case_services.case_start_norm_check(case=case, actor=buyer, now=paris(2020, 3, 20, 18))

        kn95 = NormClass.objects.get(norm__code="GB 2626-2006", label="KN95")
        case_services.conformity_record(
            offer=offer["kn95"],
            actor=buyer,
            now=paris(2020, 3, 21, 9),
            claim={
                "norm_class": kn95,
                "model_reference": "YK-9501",
                "marking": "KN95 GB2626-2006",
                "filtration": Decimal("96.2"),
            },
            evidence=[
                self._document(EvidenceKind.DECLARATION, s["maker"].name, "DoC-YK-9501", "YK-9501", date(2020, 2, 10)),
                self._document(
                    EvidenceKind.TEST_REPORT,
                    "SGS-CSTC Standards Technical Services",
                    "SZ20-03417",
                    "YK-9501",
                    date(2020, 3, 2),
                    by_manufacturer=False,
                ),
            ],
            findings="KN95 accepté comme équivalent FFP2 pour les soignants ; rapport d'essai d'un laboratoire accrédité.",
        )
        iir_class = NormClass.objects.get(norm__code="EN 14683:2019+AC:2019", label="Type IIR")
        for key, moment, maker, model in [
            ("iir", paris(2020, 3, 21, 9, 30), s["factory"].name, "XD-3P-IIR"),
            ("iir_expired", paris(2020, 3, 21, 10), s["urssaf_expired"].name, "MHD-IIR-50"),
        ]:
            case_services.conformity_record(
                offer=offer[key],
                actor=buyer2,
                now=moment,
                claim={
                    "norm_class": iir_class,
                    "model_reference": model,
                    "marking": "CE — type IIR",
                    "bacterial_filtration": Decimal("98.6"),
                    "breathing_resistance": Decimal("48"),
                    "splash_resistance": Decimal("16"),
                },
                evidence=[
                    self._document(EvidenceKind.DECLARATION, maker, f"DoC-{model}", model, date(2020, 1, 20)),
                    self._document(
                        EvidenceKind.TEST_REPORT,
                        "Laboratoire d'essais textiles",
                        f"RE-{model}",
                        model,
                        date(2020, 2, 3),
                        by_manufacturer=False,
                    ),
                    self._document(
                        EvidenceKind.BIOBURDEN,
                        "Laboratoire d'essais textiles",
                        f"BB-{model}",
                        model,
                        date(2020, 2, 3),
                        by_manufacturer=False,
                    ),
                ],
                findings="Dispositif médical de classe I : déclaration de conformité et rapports d'essai cohérents.",
            )
        case_services.conformity_record(
            offer=offer["voluntary"],
            actor=buyer,
            now=paris(2020, 3, 21, 10, 30),
            claim={
                "norm_class": NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2"),
                "model_reference": "HD-2020",
                "marking": "CE (sans numéro d'organisme notifié)",
            },
            evidence=[
                self._document(
                    EvidenceKind.OTHER_CERTIFICATE,
                    "ICR Polska",
                    "« Certificate of compliance » ICR-20-0318",
                    "HD-2020",
                    date(2020, 3, 18),
                    by_manufacturer=False,
                ),
            ],
            findings="Seul justificatif : un certificat volontaire ; offre écartée.",
        )
        case = case_services.case_start_negotiation(case=case, actor=buyer, now=paris(2020, 3, 21, 12))

        rounds = [
            (
                "kn95",
                [
                    (Decimal("3.0500"), date(2020, 3, 29), "Prix ramené de 3,20 € à 3,05 € contre un acompte de 30 %."),
                    (Decimal("2.9500"), date(2020, 3, 28), "Prix final 2,95 €, enlèvement avancé au 28 mars."),
                ],
            ),
            (
                "iir",
                [
                    (Decimal("0.6000"), date(2020, 4, 3), "Remise de volume : 0,60 €."),
                    (Decimal("0.5800"), date(2020, 4, 3), "Prix final 0,58 €, pénalités de retard acceptées."),
                ],
            ),
        ]
        for key, terms in rounds:
            current = offer[key]
            for number, (price, delivery, note) in enumerate(terms, start=1):
                case_services.negotiation_round_add(
                    offer=current,
                    actor=buyer,
                    now=paris(2020, 3, 21, 14) + timedelta(hours=19 * (number - 1)),
                    unit_price=price,
                    quantity=current.quantity,
                    delivery_date=delivery,
                    incoterm=current.incoterm,
                    delivery_place=current.delivery_place,
                    advance_rate=current.advance_rate,
                    valid_until=date(2020, 3, 23),
                    proposed_by=current.supplier.name,
                    note=note,
                    is_final=number == len(terms),
                )

        contracts = contract_services.case_award(
            case=case,
            actor=buyer,
            awards={offer["kn95"].pk: 1_000_000, offer["iir"].pk: 4_000_000},
            reason="Offres conformes (KN95 sous dérogation) de fournisseurs vérifiés, aux meilleurs prix et délais "
            "après deux tours de négociation ; l'offre FFP2 au certificat volontaire est non conforme et le "
            "négociant est écarté (sanctions).",
            now=paris(2020, 3, 22, 10),
        )
        for contract in contracts:
            self._render_pending(contract)
            contract_services.contract_submit_for_review(
                contract=contract,
                rendered_sha256=contract.current_document.sha256,
                actor=buyer,
                now=paris(2020, 3, 22, 12),
            )
            contract.refresh_from_db()
            contract_services.contract_approve(
                contract=contract,
                actor=jurist,
                rendered_sha256=contract.current_document.sha256,
                clauses=list(CLAUSES),
                now=paris(2020, 3, 22, 15),
            )
            contract = contract_services.contract_sign(contract=contract, actor=director, now=paris(2020, 3, 22, 18))
            contract_services.contract_record_prefect_transmission(
                contract=contract, actor=buyer, day=date(2020, 3, 23), now=paris(2020, 3, 23, 9)
            )
            contract_services.contract_notify_supplier(contract=contract, actor=buyer, now=paris(2020, 3, 23, 10))
        # The medical-mask cargo arrived on 22 April 2020 through the forwarder; the case is closed after it.
        self._april_cargo(case)
        contract_services.case_close(case=case, actor=buyer, now=paris(2020, 4, 24, 17))

    def _april_cargo(self, case) -> None:
        """The execution of 2020 (DOMAIN.md §8): the KN95 flight diverted on the way; the 4 M medical masks flown
        by CEVA Logistics through the forwarder, arrived 22 April, admitted and allocated 70 / 10 / 20 %; the late
        penalties waived under ordonnance 2020-319."""
        from execution import services as execution
        from execution.models import Allocation, Milestone

        buyer, buyer2, jurist = self.users["acheteur"], self.users["acheteuse2"], self.users["juriste"]
        s = self.suppliers
        kn95 = case.contracts.get(offer__supplier=s["maker"])
        iir = case.contracts.get(offer__supplier=s["forwarder"])
        place = "Marseille — plateforme logistique régionale"

        execution.advance_record(
            contract=kn95,
            actor=buyer,
            rate=Decimal("0.30"),
            paid_on=date(2020, 3, 24),
            guarantee="none",
            now=paris(2020, 3, 24, 11),
        )
        lot = execution.lot_add(
            contract=kn95,
            actor=buyer,
            quantity=1_000_000,
            due_on=date(2020, 3, 28),
            delivery_place="Aéroport de Shenzhen Bao'an",
            incoterm="FCA",
            now=paris(2020, 3, 23, 11),
        )
        flight = execution.shipment_add(
            lot=lot,
            actor=buyer,
            quantity=1_000_000,
            mode="air",
            waybill="784-20200327",
            now=paris(2020, 3, 26, 15),
        )
        execution.milestone_record(
            shipment=flight,
            actor=buyer,
            kind=Milestone.Kind.READY,
            occurred_on=date(2020, 3, 26),
            now=paris(2020, 3, 26, 16),
        )
        execution.incident_record(
            shipment=flight,
            actor=buyer,
            kind="diverted",
            occurred_on=date(2020, 3, 28),
            description="Cargaison détournée à l'escale vers un autre acheteur ayant surenchéri sur le tarmac ; "
            "le fournisseur propose un nouveau vol, la Région exige la livraison au prix du marché.",
            now=paris(2020, 3, 28, 8),
        )

        execution.advance_record(
            contract=iir,
            actor=buyer2,
            rate=Decimal("0.30"),
            paid_on=date(2020, 3, 24),
            guarantee="none",
            now=paris(2020, 3, 24, 11, 30),
        )
        iir_class = NormClass.objects.get(norm__code="EN 14683:2019+AC:2019", label="Type IIR")
        for number, (due_on, waybill) in enumerate(
            [(date(2020, 3, 31), "057-20200420"), (date(2020, 4, 3), "057-20200421")], start=1
        ):
            lot = execution.lot_add(
                contract=iir,
                actor=buyer2,
                quantity=2_000_000,
                due_on=due_on,
                delivery_place=place,
                incoterm="DAP",
                now=paris(2020, 3, 23, 11, number),
            )
            shipment = execution.shipment_add(
                lot=lot,
                actor=buyer2,
                quantity=2_000_000,
                mode="air",
                waybill=waybill,
                forwarder=s["forwarder"],
                carrier=s["carrier"],
                now=paris(2020, 4, 14, 10, number),
            )
            for kind, day in [
                (Milestone.Kind.READY, date(2020, 4, 14)),
                (Milestone.Kind.DEPARTED, date(2020, 4, 20)),
                (Milestone.Kind.ARRIVED, date(2020, 4, 22)),
                (Milestone.Kind.CUSTOMS_CLEARED, date(2020, 4, 22)),
                (Milestone.Kind.DELIVERED, date(2020, 4, 22)),
            ]:
                execution.milestone_record(
                    shipment=shipment,
                    actor=buyer2,
                    kind=kind,
                    occurred_on=day,
                    now=paris(day.year, day.month, day.day, 18, number),
                )
            reception = execution.reception_record(
                shipment=shipment,
                actor=buyer2,
                received_on=date(2020, 4, 22),
                quantity_received=2_000_000,
                now=paris(2020, 4, 22, 19, number),
            )
            execution.inspection_record(
                reception=reception,
                actor=buyer2,
                norm_class=iir_class,
                sample_size=80,
                measured={
                    "bacterial_filtration": Decimal("98.4"),
                    "breathing_resistance": Decimal("47"),
                    "splash_resistance": Decimal("16"),
                },
                now=paris(2020, 4, 23, 9, number),
            )
            execution.reception_decide(
                reception=reception,
                actor=buyer2,
                decision="admit",
                comment="Quantités conformes au bordereau ; échantillon conforme à EN 14683 type IIR.",
                now=paris(2020, 4, 23, 11, number),
            )
            execution.penalty_waive(
                penalty=lot.penalty,
                actor=jurist,
                reference=execution.covid_waiver_reference(iir),
                reason="Retard causé par l'épidémie : fermeture des usines du Hubei et suspension des vols.",
                now=paris(2020, 4, 24, 10, number),
            )
        # 4 000 000 admitted: 70 % to carers, 10 % to police, 20 % to towns under 20 000 inhabitants.
        for beneficiary, quantity, detail in [
            (Allocation.Beneficiary.CARERS, 2_800_000, "Établissements de santé, EHPAD et soignants libéraux"),
            (Allocation.Beneficiary.POLICE, 400_000, "Police nationale et gendarmerie de la région"),
            (Allocation.Beneficiary.SMALL_TOWNS, 800_000, "Communes de moins de 20 000 habitants"),
        ]:
            execution.allocation_record(
                contract=iir,
                actor=buyer2,
                beneficiary=beneficiary,
                quantity=quantity,
                detail=detail,
                allocated_on=date(2020, 4, 24),
                now=paris(2020, 4, 24, 12),
            )
        invoice = execution.invoice_record(
            contract=iir,
            actor=buyer2,
            number="TSL-2020-0412",
            received_on=date(2020, 4, 24),
            amount=Decimal("2320000.00"),
            quantity=4_000_000,
            lots=list(iir.lots.all()),
            now=paris(2020, 4, 24, 15),
        )
        # The balance, the 30 % advance deducted; paid within the 30 days.
        execution.payment_record(
            invoice=invoice,
            actor=buyer2,
            paid_on=date(2020, 5, 15),
            amount=Decimal("1624000.00"),
            quantity=4_000_000,
            now=paris(2020, 5, 15, 10),
        )

    @staticmethod
    def _render_pending(contract) -> None:
        """Render now what a worker would render (eager mode may be off, or on_commit not run yet)."""
        from contracts import documents  # imports WeasyPrint, which logs its start-up: only once quietened

        for document in contract.documents.filter(status=ContractDocument.Status.PENDING):
            documents.document_render(document_id=document.pk)

    # --- the live emergency, relative to now ------------------------------------------------------
    def _live_emergency(self) -> list[str]:
        now = timezone.now()
        today = timezone.localdate()
        specs = [
            {
                "title": "Solution hydroalcoolique — lycées de la région",
                "stage": "need",
                "start": now - timedelta(hours=30),
                "line": (Product.SANITISER, 40_000, "litres", CPV.ANTISEPTICS, Decimal("4.5000")),
                "offers": [],
            },
            {
                "title": "Gants d'examen nitrile — EHPAD",
                "stage": "vetting",
                "start": now - timedelta(hours=30),
                "line": (Product.EXAM_GLOVES, 2_000_000, "gants", CPV.DISPOSABLE_GLOVES, Decimal("0.0900")),
                "offers": [
                    ("forwarder", "Gants nitrile non poudrés EN 455", Decimal("0.0950")),
                    ("urssaf_expired", "Gants nitrile EN 455 / EN 374, marque distributeur", Decimal("0.1100")),
                    ("trader", "Gants nitrile, lot disponible immédiatement", Decimal("0.2900")),
                ],
            },
            {
                "title": "Masques FFP2 — renfort des hôpitaux",
                "stage": "norm_check",
                "start": now - timedelta(hours=8),
                "line": (Product.FFP2, 500_000, "masques", CPV.PROTECTIVE_GEAR, Decimal("0.4500")),
                "offers": [
                    ("maker", "Yikang YK-9502, FFP2 NR (EN 149), CE 2797", Decimal("0.4200")),
                    ("urssaf_expired", "Masques FFP2 NR marque distributeur", Decimal("0.5100")),
                ],
            },
            {
                "title": "Surblouses — centres de vaccination",
                "stage": "negotiation",
                "start": now - timedelta(hours=12),
                "line": (Product.GOWNS, 300_000, "surblouses", CPV.MEDICAL_CLOTHING, Decimal("0.8000")),
                "offers": [("forwarder", "Surblouses non tissées EN 13795-1", Decimal("0.8500"))],
            },
            {
                "title": "Masques chirurgicaux type IIR — transports régionaux",
                "stage": "contract",
                "start": now - timedelta(hours=20),
                "line": (Product.MEDICAL_IIR, 800_000, "masques", CPV.MEDICAL_CONSUMABLES, Decimal("0.0600")),
                "offers": [("forwarder", "Masques chirurgicaux type IIR (EN 14683)", Decimal("0.0650"))],
            },
            {
                "title": "Visières de protection — agents d'accueil",
                "stage": "cancelled",
                "start": now - timedelta(hours=26),
                "line": (Product.OTHER, 20_000, "visières", CPV.SAFETY_VISORS, Decimal("1.2000")),
                "offers": [],
            },
        ]
        created = []
        if self._absent("sud", specs[1]["title"]):
            self._live_evidence(today)
        for spec in specs:
            if self._absent("sud", spec["title"]):
                self._live_case(org="sud", buyer=self.users["acheteur"], today=today, **spec)
                created.append(spec["title"])
        var_title = "Masques chirurgicaux — services départementaux d'incendie et de secours"
        if self._absent("var", var_title):
            self._live_case(
                org="var",
                buyer=self.users["acheteur.var"],
                today=today,
                title=var_title,
                stage="vetting",
                start=now - timedelta(hours=6),
                line=(Product.MEDICAL_IIR, 200_000, "masques", CPV.MEDICAL_CONSUMABLES, Decimal("0.0700")),
                offers=[("var_distributor", "Masques chirurgicaux type IIR (EN 14683)", Decimal("0.0720"))],
            )
            created.append(var_title)
        return created

    @transaction.atomic
    def _live_case(self, *, org, buyer, today, title, stage, start, line, offers) -> PurchaseCase:
        product, quantity, unit, cpv, price = line
        place = "Marseille — plateforme logistique régionale" if org == "sud" else "Toulon — entrepôt départemental"
        clock = iter(start + timedelta(minutes=40 * step) for step in range(100))
        case = case_services.case_create(
            actor=buyer,
            title=title,
            need_lines=[
                {
                    "product": product,
                    "quantity": quantity,
                    "unit": unit,
                    "cpv_code": cpv,
                    "required_date": today + timedelta(days=7),
                    "delivery_place": place,
                    "estimated_unit_price": price,
                }
            ],
            justification={**LIVE_JUSTIFICATION, "event_date": today - timedelta(days=3)},
            now=next(clock),
        )
        if org == "sud":
            case = case_services.case_assign_buyer(
                case=case, actor=case.owner, buyer=self.users["acheteuse2"], now=next(clock)
            )
        need_line = case.need_lines.get()
        if stage == "cancelled":
            contract_services.case_cancel(
                case=case,
                actor=self.users["directeur"],
                comment="Besoin couvert par une dotation de l'État ; achat d'urgence sans objet.",
                now=next(clock),
            )
            return case
        if stage == "need":
            return case
        case = case_services.case_submit(case=case, actor=buyer, now=next(clock))
        created_offers = []
        for key, description, unit_price in offers:
            supplier = self.suppliers[key]
            offer = case_services.offer_create(
                case=case,
                actor=buyer,
                now=next(clock),
                need_line=need_line,
                supplier=supplier,
                product_description=description,
                unit_price=unit_price,
                quantity=quantity,
                delivery_date=today + timedelta(days=6),
                incoterm=Incoterm.DAP,
                delivery_place=place,
            )
            created_offers.append(offer)
            if key == "forwarder":
                # The forwarder imports what it sells: its role in the chain explains its activity code.
                case_services.chain_party_add(
                    offer=offer,
                    actor=buyer,
                    supplier=supplier,
                    role=SupplyChainParty.Role.FORWARDER,
                    note="Importateur et commissionnaire de transport.",
                    now=next(clock),
                )
        if stage == "vetting":
            return case
        for offer in created_offers:
            reserved = offer.supplier.name == SUPPLIERS["urssaf_expired"]["name"]
            row = case_services.vetting_decide(
                case=case,
                supplier=offer.supplier,
                actor=buyer,
                decision=VettingDecision.Decision.RESERVED if reserved else VettingDecision.Decision.APPROVED,
                findings="Attestation URSSAF à renouveler avant tout paiement."
                if reserved
                else "Kbis, attestation URSSAF et références vérifiés.",
                now=next(clock),
            )
            if row.awaiting_countersign:
                case_services.vetting_countersign(
                    decision=row,
                    actor=self.users["juriste"],
                    approve=True,
                    comment="Réserve acceptée : paiement suspendu à l'attestation URSSAF à jour."
                    if reserved
                    else "Signaux d'alerte examinés avec l'acheteur : risque acceptable pour ce besoin urgent.",
                    now=next(clock),
                )
        case = case_services.case_start_norm_check(case=case, actor=buyer, now=start + timedelta(hours=5))
        if stage == "norm_check":
            return case
        clock = iter(case.stage_entered_at + timedelta(minutes=20 * step) for step in range(1, 100))
        for offer in created_offers:
            self._passing_check(offer, buyer, next(clock))
        case = case_services.case_start_negotiation(case=case, actor=buyer, now=next(clock))
        if stage == "negotiation":
            return case
        offer = created_offers[0]
        case_services.negotiation_round_add(
            offer=offer,
            actor=buyer,
            now=next(clock),
            unit_price=price,
            quantity=quantity,
            delivery_date=today + timedelta(days=6),
            incoterm=Incoterm.DAP,
            delivery_place=place,
            valid_until=today + timedelta(days=2),
            proposed_by=offer.supplier.name,
            note="Alignement sur le prix estimé.",
            is_final=True,
        )
        contracts = contract_services.case_award(
            case=case,
            actor=buyer,
            awards={offer.pk: quantity},
            reason="Seule offre conforme d'un fournisseur vérifié, au prix estimé.",
            now=next(clock),
        )
        for contract in contracts:
            self._render_pending(contract)
            contract_services.contract_submit_for_review(
                contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer, now=next(clock)
            )
        return case

    def _document(self, kind, issuer, number, model, issued_on, *, by_manufacturer=True, body=None) -> dict:
        """A piece of conformity evidence with a small demo PDF."""
        from weasyprint import HTML  # imported late, once its logger is quietened

        label = dict(EvidenceKind.choices)[kind]
        html = (
            f"<h1>{escape(str(label))}</h1><p>{escape(issuer)} — {escape(number)} — {escape(model)}</p>"
            f"<p>Délivré le {issued_on:%d/%m/%Y}. Document de démonstration Tandem.</p>"
        )
        return {
            "kind": kind,
            "issuer": issuer,
            "notified_body": body,
            "number": number,
            "model_reference": model,
            "issued_on": issued_on,
            "by_manufacturer": by_manufacturer,
            "uploaded": SimpleUploadedFile(
                f"{kind}.pdf", HTML(string=html).write_pdf(), content_type="application/pdf"
            ),
        }

    def _passing_check(self, offer, buyer, moment) -> None:
        """A complete check of the standard the need asks for, its values inside every threshold."""
        norm_class = (
            NormClass.objects.filter(product=offer.need_line.product, derogation_reference="")
            .select_related("norm")
            .order_by("norm__code")
            .first()
        )
        claim = {"norm_class": norm_class, "model_reference": "LOT-2026", "marking": "CE"}
        margins = {
            "filtration_min": ("filtration", Decimal("1")),
            "bacterial_filtration_min": ("bacterial_filtration", Decimal("1")),
            "splash_resistance_min": ("splash_resistance", Decimal("1")),
            "inward_leakage_max": ("inward_leakage", Decimal("-1")),
            "breathing_resistance_max": ("breathing_resistance", Decimal("-5")),
            "aql_max": ("aql", Decimal("-0.5")),
        }
        for threshold, (measure, margin) in margins.items():
            limit = getattr(norm_class, threshold)
            if limit is not None:
                claim[measure] = limit + margin
        body = NotifiedBody.objects.filter(number="2797").first() if norm_class.norm.legislation == "ppe" else None
        if body is not None:
            claim["ce_number"] = body.number
        day = timezone.localdate(moment)
        evidence = []
        for kind in norm_class.requirements.values_list("kind", flat=True):
            by_body = kind in (EvidenceKind.TYPE_EXAMINATION, EvidenceKind.PRODUCTION_CONTROL)
            document = self._document(
                kind,
                body.name if by_body and body else offer.supplier.name,
                f"{kind.upper()}-{offer.pk}",
                "LOT-2026",
                day - timedelta(days=200),
                by_manufacturer=not by_body,
                body=body if by_body else None,
            )
            if kind == EvidenceKind.TYPE_EXAMINATION:
                document["expires_on"] = day + timedelta(days=900)
            evidence.append(document)
        case_services.conformity_record(
            offer=offer,
            actor=buyer,
            now=moment,
            claim=claim,
            evidence=evidence,
            findings="Documents cohérents avec la norme exigée.",
        )

    def _live_evidence(self, today: date) -> None:
        """Current documents: the forwarder and the maker are in good standing; the distributor's URSSAF
        certificate expired a month ago."""
        s = self.suppliers
        # The tax certificate is valid through 31 December of its issue year: issued early this year.
        tax_day = max(min(today, date(today.year, 1, 5)), date(today.year, 1, 1))
        for kind, issued_on in [
            (SupplierDocument.Kind.URSSAF, today - timedelta(days=40)),
            (SupplierDocument.Kind.KBIS, today - timedelta(days=20)),
            (SupplierDocument.Kind.TAX, tax_day),
            (SupplierDocument.Kind.SWORN_STATEMENT, today - timedelta(days=10)),
        ]:
            self._evidence(s["forwarder"], kind, issued_on, verified=True)
        self._evidence(s["maker"], SupplierDocument.Kind.FOREIGN, today - timedelta(days=60), verified=True)
        self._evidence(s["maker"], SupplierDocument.Kind.SWORN_STATEMENT, today - timedelta(days=10), verified=False)
        self._evidence(s["urssaf_expired"], SupplierDocument.Kind.URSSAF, today - timedelta(days=215), verified=True)
        self._evidence(s["urssaf_expired"], SupplierDocument.Kind.KBIS, today - timedelta(days=30), verified=True)

    def _print_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}) — http://127.0.0.1:8000/")
        for username, org, role, *_rest in USERS:
            self.stdout.write(f"  {username:<14} {str(roles.LABELS[role]):<14} {ORGANISATIONS[org]['name']}")
