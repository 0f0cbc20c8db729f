"""Open data: the "données essentielles" (DECP) of the contracts, arrêté of 22 December 2022, schema v2.0.3.

Pure builders: they read contracts and return JSON-ready dicts, they write nothing. The official schema is
kept next to this module (`contracts/decp_schema/schema_decp_v2.0.3.json`) and the tests validate every export.

What is published (DOMAIN.md §6): a contract is exported when it was notified to the supplier
(`notified_at` set: the DECP describe the contract from its notification) and its amount excl. VAT on
notification is at least the DECP threshold in force on the notification date (`Threshold` "decp",
40 000 € HT since 2019). Withdrawn, draft, approved or signed-but-not-notified contracts are never exported.

Published data are never edited: the record states the terms as notified; each modification (avenant,
`ContractModification`, append-only) is listed in `modifications` in the order of notification, never written
over `montant`. Without modification the key is absent (the schema requires at least one item when present).
"""

from datetime import date
from decimal import Decimal

from django.utils import timezone

from contracts.models import Contract
from procurement.models import SupplyChainParty, Threshold
from suppliers.identity import EU_COUNTRIES, SIRET_COUNTRIES

PROCEDURE = "Marché passé sans publicité ni mise en concurrence préalable"
NATURE = "Marché"
CCAG = "Fournitures courantes et services"
FORME_PRIX = "Unitaire"
PAS_DE_GROUPEMENT = "Pas de groupement"
DEFAULT_THRESHOLD = Decimal("40000")
ID_MAX_LENGTH = 16
CASE_PREFIX = "URG-"


def marche_id(contract: Contract) -> str:
    """The DECP identifier (1 to 16 characters), unique per buyer, derived from the contract reference.

    The reference itself when it fits ("URG-2026-0001-C1" has 16 characters). Otherwise the "URG-" prefix
    and the hyphens are dropped ("URG-2026-0001-C12" → "20260001C12"): year, case number and contract
    number stay, so two contracts of the organisation never share an identifier (a shortened one does not
    start with "URG-", a kept one does).
    """
    reference = contract.reference
    if len(reference) <= ID_MAX_LENGTH:
        return reference
    short = reference.removeprefix(CASE_PREFIX).replace("-", "")
    if len(short) > ID_MAX_LENGTH:
        raise ValueError(f"Contract reference {reference!r} cannot be shortened to a DECP identifier.")
    return short


def _month_span(start: date, end: date) -> int:
    """Whole months from `start` to `end`, a started month counting as one; at least 1."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day > start.day:
        months += 1
    return max(1, months)


def _number(value: Decimal) -> float:
    return float(value)


def _titulaire(supplier) -> dict:
    return {"titulaire": {"typeIdentifiant": supplier.identifier_type, "id": supplier.identifier}}


def _origins(offer) -> dict:
    """`origineUE` / `origineFrance` when the origin of the goods is known, else nothing (the fields are optional).

    The goods come from the manufacturers recorded in the offer's supply chain. When they are all in one
    country, all the goods come from it (1 or 0); with no manufacturer recorded, or several countries in
    unknown shares, the shares are unknown and the fields are left out rather than published as 0 %.
    """
    countries = {
        party.supplier.country.upper()
        for party in offer.chain.all()
        if party.role == SupplyChainParty.Role.MANUFACTURER and party.supplier.country
    }
    if len(countries) != 1:
        return {}
    (country,) = countries
    france = country in SIRET_COUNTRIES  # metropolitan and overseas France
    european = france or country in EU_COUNTRIES
    return {"origineUE": 1.0 if european else 0.0, "origineFrance": 1.0 if france else 0.0}


def _modifications(contract: Contract) -> list:
    # Prefetched by `with_related`; ordered by number (the order of notification).
    return sorted(contract.modifications.all(), key=lambda m: m.number)


def notified_amount(contract: Contract) -> Decimal:
    """The amount excl. VAT the supplier was notified of (the published one): before any modification."""
    modifications = _modifications(contract)
    return modifications[0].previous_amount_ht if modifications else contract.amount_ht


def is_publishable(contract: Contract) -> bool:
    """Notified to the supplier, and at least the DECP threshold in force on the notification day."""
    if contract.notified_at is None:
        return False
    day = timezone.localdate(contract.notified_at)
    threshold = Threshold.amount_on(Threshold.Kind.DECP, day) or DEFAULT_THRESHOLD
    return notified_amount(contract) >= threshold


def contract_record(contract: Contract, *, published_on: date | None = None) -> dict:
    """One "marché" of the DECP for a contract notified to its supplier.

    `datePublicationDonnees` is `published_on`, by default the notification day: Tandem does not record
    when the organisation uploads the file, and the date must not move when the file is produced again.
    """
    if contract.notified_at is None:
        raise ValueError(f"Contract {contract.reference} was not notified: it has no DECP record.")
    offer = contract.offer
    case = contract.case
    need_line = offer.need_line
    terms = offer.final_round or offer.latest_round
    advance_rate = terms.advance_rate if terms is not None else offer.advance_rate
    last_delivery = terms.delivery_date if terms is not None else offer.delivery_date
    notified_on = timezone.localdate(contract.notified_at)
    published_on = published_on or notified_on
    amount = notified_amount(contract)
    modifications = _modifications(contract)
    objet = case.title
    if need_line.description:
        objet = f"{objet} — {need_line.description}"
    record = {
        "id": marche_id(contract),
        "acheteur": {"id": case.organisation.siret},
        "nature": NATURE,
        "objet": objet[:1000],
        "codeCPV": need_line.cpv_code[:8],
        "techniques": {"technique": ["Sans objet"]},
        "modalitesExecution": {"modaliteExecution": ["Sans objet"]},
        "marcheInnovant": False,
        "ccag": CCAG,
        "offresRecues": max(1, len(need_line.offers.all())),
        "attributionAvance": advance_rate > 0,
        "tauxAvance": _number(advance_rate),
        "typeGroupementOperateurs": PAS_DE_GROUPEMENT,
        "sousTraitanceDeclaree": False,
        "procedure": PROCEDURE,
        "lieuExecution": {
            "code": need_line.delivery_postal_code or case.organisation.postal_code,
            "typeCode": "Code postal",
        },
        "dureeMois": _month_span(notified_on, last_delivery),
        "dateNotification": notified_on.isoformat(),
        "datePublicationDonnees": published_on.isoformat(),
        "montant": _number(amount),
        "typesPrix": {"typePrix": ["Définitif ferme"]},
        "formePrix": FORME_PRIX,
        "titulaires": [_titulaire(offer.supplier)],
        "considerationsSociales": {"considerationSociale": ["Pas de considération sociale"]},
        "considerationsEnvironnementales": {"considerationEnvironnementale": ["Pas de considération environnementale"]},
        **_origins(offer),
    }
    if modifications:
        record["modifications"] = [
            {
                "modification": {
                    "id": modification.number,
                    "montant": _number(modification.amount_ht),
                    "dateNotificationModification": modification.notified_on.isoformat(),
                    "datePublicationDonneesModification": max(modification.notified_on, published_on).isoformat(),
                }
            }
            for modification in modifications
        ]
    return record


def export(contracts, *, published_on: date | None = None) -> dict:
    """The DECP document for the publishable contracts among `contracts` (see `is_publishable`)."""
    return {
        "marches": {
            "marche": [
                contract_record(contract, published_on=published_on)
                for contract in contracts
                if is_publishable(contract)
            ]
        }
    }


def with_related(queryset):
    """The joins the builders read, for a queryset of contracts."""
    return queryset.select_related("case__organisation", "offer__supplier", "offer__need_line").prefetch_related(
        "offer__rounds", "offer__need_line__offers", "offer__chain__supplier", "modifications"
    )


def notified_between(queryset, *, start: date, end: date):
    """Contracts of `queryset` notified from `start` to `end` (both included, local days), oldest first."""
    return with_related(
        queryset.filter(notified_at__date__gte=start, notified_at__date__lte=end).order_by("notified_at", "pk")
    )
