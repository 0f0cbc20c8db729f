"""Contract life cycle, and the case steps that create or close contracts (award, reopen, close, cancel)."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed

from accounts import roles
from accounts.selectors import members_with_role
from contracts import obligations, workflow
from contracts.models import (
    OPEN_CONTRACT_STATUSES,
    Contract,
    ContractDocument,
    ContractModification,
    SignatureDelegation,
    SignedDocument,
)
from notifications.services import enqueue_on_commit, notify
from procurement import workflow as case_workflow
from procurement.models import CaseEvent, Offer, PurchaseCase
from procurement.services import lock_case, perform_transition, screen_case_parties


def legal_team(organisation_id):
    return members_with_role(organisation_id, roles.JURIST)


def _lock(contract: Contract) -> Contract:
    return (
        Contract.objects.select_for_update(of=("self",)).select_related("case", "offer__supplier").get(pk=contract.pk)
    )


def contract_queue_document(*, contract: Contract, now: datetime | None = None) -> ContractDocument:
    """Outbox: a pending version row now, rendered by a worker after commit (the sweep retries)."""
    from contracts import tasks

    last = contract.documents.order_by("-version").values_list("version", flat=True).first() or 0
    document = ContractDocument.objects.create(contract=contract, version=last + 1, created_at=now or timezone.now())
    enqueue_on_commit(tasks.render_contract_document, document.pk)
    return document


# --- case steps that create, withdraw or close contracts ---------------------------------------
def case_award(*, case: PurchaseCase, actor, awards: dict[int, int], reason: str, ip=None, now=None) -> list[Contract]:
    """Award offers (offer id → quantity) and create one draft contract per awarded offer. Stale sanctions
    screenings of the case's companies are re-run first (kept whatever the award's outcome)."""
    if case_workflow.case_buyer(case, actor):
        screen_case_parties(case=case, actor=actor, now=now)
    return _case_award(case=case, actor=actor, awards=awards, reason=reason, ip=ip, now=now)


@transaction.atomic
def _case_award(*, case: PurchaseCase, actor, awards: dict[int, int], reason: str, ip=None, now=None) -> list[Contract]:
    now = now or timezone.now()
    case = lock_case(case)
    case_workflow.ensure_allowed(case.award, actor)
    case_workflow.require_comment(reason)
    offers = {o.pk: o for o in case.offers.select_for_update().all()}
    if not set(awards) <= set(offers):
        raise PermissionDenied
    for offer in offers.values():
        quantity = awards.get(offer.pk) or None
        offer.awarded_quantity = quantity
        offer.awarded_by = actor if quantity else None
        offer.awarded_at = now if quantity else None
        offer.award_reason = reason if quantity else ""
        offer.save(update_fields=["awarded_quantity", "awarded_by", "awarded_at", "award_reason"])
    if hasattr(case, "_prefetched_objects_cache"):
        case._prefetched_objects_cache.clear()
    perform_transition(case, "award", actor=actor, case=case, ip=ip, now=now, comment=reason)
    case.stage_entered_at = now
    case.save(update_fields=["stage_entered_at"])
    contracts = []
    existing = case.contracts.count()
    for offer in Offer.objects.awarded().filter(case=case).select_related("supplier"):
        existing += 1
        terms = offer.final_round
        contract = Contract.objects.create(
            case=case,
            offer=offer,
            reference=f"{case.reference}-C{existing}",
            quantity=offer.awarded_quantity,
            unit_price=terms.unit_price,
            vat_rate=settings.DEFAULT_VAT_RATE,
            created_at=now,
        )
        contract_queue_document(contract=contract, now=now)
        contracts.append(contract)
    return contracts


def _withdraw_open_contracts(case: PurchaseCase, *, actor, comment: str, ip, now) -> None:
    for contract in case.contracts.select_for_update().filter(status__in=OPEN_CONTRACT_STATUSES):
        source = contract.status
        contract.withdraw()
        contract.save()
        CaseEvent.record(
            case=case,
            contract=contract,
            verb="withdraw",
            actor=actor,
            source=source,
            target=contract.status,
            comment=comment,
            ip=ip,
            now=now,
        )


@transaction.atomic
def case_reopen_negotiation(*, case: PurchaseCase, actor, comment: str, ip=None, now=None) -> PurchaseCase:
    now = now or timezone.now()
    case_workflow.require_comment(comment)
    case = lock_case(case)
    perform_transition(case, "reopen_negotiation", actor=actor, case=case, ip=ip, now=now, comment=comment)
    _withdraw_open_contracts(case, actor=actor, comment=comment, ip=ip, now=now)
    for offer in case.offers.awarded():
        # Saved one by one so the offer's history records the withdrawn award.
        offer.awarded_quantity, offer.awarded_by, offer.awarded_at, offer.award_reason = None, None, None, ""
        offer.save(update_fields=["awarded_quantity", "awarded_by", "awarded_at", "award_reason"])
    case.stage_entered_at = now
    case.save(update_fields=["stage_entered_at"])
    return case


@transaction.atomic
def case_close(*, case: PurchaseCase, actor, ip=None, now=None) -> PurchaseCase:
    now = now or timezone.now()
    case = lock_case(case)
    perform_transition(case, "close", actor=actor, case=case, ip=ip, now=now)
    case.stage_entered_at = now
    case.closed_at = now
    case.save(update_fields=["stage_entered_at", "closed_at"])
    return case


@transaction.atomic
def case_cancel(*, case: PurchaseCase, actor, comment: str, ip=None, now=None) -> PurchaseCase:
    now = now or timezone.now()
    case_workflow.require_comment(comment)
    case = lock_case(case)
    perform_transition(case, "cancel", actor=actor, case=case, ip=ip, now=now, comment=comment)
    _withdraw_open_contracts(case, actor=actor, comment=comment, ip=ip, now=now)
    case.stage_entered_at = now
    case.save(update_fields=["stage_entered_at"])
    notify(
        recipients=legal_team(case.organisation_id),
        verb="case_cancelled",
        text=gettext("Case %(ref)s was cancelled: %(reason)s") % {"ref": case.reference, "reason": comment},
        url=case.get_absolute_url(),
        now=now,
    )
    return case


# --- the contract's own life cycle ------------------------------------------------------------
def _contract_transition(
    name: str,
    contract: Contract,
    *,
    actor,
    ip,
    now,
    comment: str = "",
    locked: bool = False,
    extra_blockers=None,
    **kwargs,
) -> Contract:
    """Lock (unless done), check role and guards, run `name` with kwargs, save, record one event."""
    contract = contract if locked else _lock(contract)
    perform_transition(
        contract,
        name,
        actor=actor,
        case=contract.case,
        contract=contract,
        ip=ip,
        now=now,
        comment=comment,
        guards=workflow.GUARDS,
        extra_blockers=extra_blockers,
        **kwargs,
    )
    return contract


def _ensure_displayed_version(contract: Contract, rendered_sha256: str) -> None:
    """The step is bound to the version the user had on screen: a newer one since then is a conflict."""
    document = contract.current_document
    # A version still being generated is reported by the guard ("wait until its PDF is ready").
    if document is not None and document.status == "rendered" and document.sha256 != rendered_sha256:
        raise case_workflow.Conflict(gettext("The contract changed since you opened it."))


@transaction.atomic
def contract_submit_for_review(*, contract: Contract, actor, rendered_sha256: str, ip=None, now=None) -> Contract:
    """Submit the version the buyer previewed (its SHA-256) to the legal team."""
    now = now or timezone.now()
    locked = _lock(contract)
    case_workflow.ensure_allowed(locked.submit_for_review, actor)
    if locked.status == "draft":
        _ensure_displayed_version(locked, rendered_sha256)
    contract = _contract_transition("submit_for_review", locked, actor=actor, ip=ip, now=now, locked=True)
    notify(
        recipients=legal_team(contract.case.organisation_id),
        verb="contract_to_review",
        text=gettext("Contract %(ref)s awaits your legal review.") % {"ref": contract.reference},
        url=contract.get_absolute_url(),
        now=now,
    )
    return contract


@transaction.atomic
def contract_request_changes(*, contract: Contract, actor, comment: str, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    case_workflow.require_comment(comment)
    contract = _contract_transition("request_changes", contract, actor=actor, ip=ip, now=now, comment=comment)
    notify(
        recipients=contract.case.purchasing_team(),
        verb="contract_returned",
        text=gettext("Contract %(ref)s returned by the legal team: %(comment)s")
        % {"ref": contract.reference, "comment": comment},
        url=contract.get_absolute_url(),
        now=now,
    )
    return contract


@transaction.atomic
def contract_approve(
    *, contract: Contract, actor, rendered_sha256: str, clauses: list[str], ip=None, now=None
) -> Contract:
    now = now or timezone.now()
    locked = _lock(contract)
    case_workflow.ensure_allowed(locked.approve, actor)
    document = locked.current_document
    if locked.status == "legal_review":
        _ensure_displayed_version(locked, rendered_sha256)
    locked.clauses_checked = sorted(set(clauses))
    locked = _contract_transition(
        "approve", locked, actor=actor, ip=ip, now=now, locked=True, by=actor, document=document, at=now
    )
    notify(
        recipients=locked.case.purchasing_team(),
        verb="contract_approved",
        text=gettext("Contract %(ref)s approved by the legal team.") % {"ref": locked.reference},
        url=locked.get_absolute_url(),
        now=now,
    )
    day = timezone.localdate(now)
    signatories = [
        delegation.delegate
        for delegation in SignatureDelegation.objects.filter(organisation_id=locked.organisation_id).select_related(
            "delegate"
        )
        if delegation.covers(day=day, amount=locked.amount_ht)
    ]
    notify(
        recipients=signatories,
        verb="contract_to_sign",
        text=gettext("Contract %(ref)s is approved and awaits your signature.") % {"ref": locked.reference},
        url=locked.get_absolute_url(),
        now=now,
    )
    return locked


def _check_quantity(contract: Contract, quantity: int) -> None:
    """Never more than strictly needed: the need line's quantity, less what other live contracts cover."""
    needed = contract.offer.need_line.quantity
    other = sum(
        c.quantity
        for c in contract.case.contracts.filter(offer__need_line=contract.offer.need_line)
        .exclude(pk=contract.pk)
        .exclude(status="withdrawn")
    )
    if quantity < 1 or quantity + other > needed:
        raise ValidationError(
            gettext("The quantity must be between 1 and the quantity strictly needed (%(n)s).") % {"n": needed - other}
        )


@transaction.atomic
def contract_amend(
    *,
    contract: Contract,
    actor,
    quantity: int,
    unit_price: Decimal,
    comment: str,
    terms_version: int,
    ip=None,
    now=None,
) -> Contract:
    """Change the terms of a draft (or, through `revise`, of an approved) contract; renders a new version."""
    now = now or timezone.now()
    case_workflow.require_comment(comment)
    locked = _lock(contract)
    if not workflow.contract_buyer(locked, actor):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))
    if locked.terms_version != terms_version:
        raise case_workflow.Conflict(gettext("Someone else changed these terms since you opened them."))
    if locked.status not in ("draft", "approved"):
        raise TransitionNotAllowed(gettext("The terms can only be changed on a draft or approved contract."))
    _check_quantity(locked, quantity)
    if unit_price <= 0:
        raise ValidationError(gettext("The unit price must be positive."))
    locked.quantity = quantity
    locked.unit_price = unit_price
    locked.terms_version += 1
    if locked.status == "approved":
        # Changing approved terms voids the approval (revise); the jurist reviews the new version.
        _contract_transition("revise", locked, actor=actor, ip=ip, now=now, comment=comment, locked=True)
    else:
        locked.save(update_fields=["quantity", "unit_price", "terms_version"])
        CaseEvent.record(case=locked.case, contract=locked, verb="amend", actor=actor, comment=comment, ip=ip, now=now)
    contract_queue_document(contract=locked, now=now)
    return locked


def _queue_signed_document(contract: Contract, document: ContractDocument, now) -> None:
    """Outbox: when the deployment configures a signing certificate, a worker seals the signed version (PAdES)."""
    from contracts import signing, tasks

    if signing.signing_configured():
        signed = SignedDocument.objects.create(contract=contract, source=document, created_at=now)
        enqueue_on_commit(tasks.sign_contract_document, signed.pk)


@transaction.atomic
def contract_sign(*, contract: Contract, actor, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    locked = _lock(contract)
    case_workflow.ensure_allowed(locked.sign, actor)
    delegation, reasons = workflow.delegation_blockers(locked, actor, timezone.localdate(now))
    document = locked.current_document
    locked = _contract_transition(
        "sign",
        locked,
        actor=actor,
        ip=ip,
        now=now,
        locked=True,
        extra_blockers=reasons,
        by=actor,
        at=now,
        delegation=delegation,
        sha256=document.sha256 if document else "",
    )
    _queue_signed_document(locked, document, now)
    notify(
        recipients=locked.case.purchasing_team(),
        verb="contract_signed",
        text=gettext("Contract %(ref)s signed by %(who)s.") % {"ref": locked.reference, "who": actor},
        url=locked.get_absolute_url(),
        now=now,
    )
    return locked


@transaction.atomic
def contract_record_prefect_transmission(*, contract: Contract, actor, day, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    locked = _lock(contract)
    if not workflow.contract_buyer(locked, actor):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))
    if locked.status != "signed":
        raise TransitionNotAllowed(gettext("Only a signed contract is transmitted to the prefect."))
    if day < timezone.localdate(locked.signed_at):
        raise ValidationError(gettext("The transmission cannot precede the signature."))
    locked.prefect_transmitted_on = day
    locked.save(update_fields=["prefect_transmitted_on"])
    CaseEvent.record(
        case=locked.case, contract=locked, verb="prefect_transmission", actor=actor, comment=str(day), ip=ip, now=now
    )
    return locked


def _record_publication(*, contract: Contract, actor, day, field: str, verb: str, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    locked = _lock(contract)
    if not workflow.contract_buyer(locked, actor):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))
    owed = {o.code for o in obligations.contract_obligations(locked, timezone.localdate(now))}
    if {"award_notice_published_on": "award_notice", "decp_published_on": "decp"}[field] not in owed:
        raise TransitionNotAllowed(gettext("This contract does not owe this publication (amount or stage)."))
    if day < timezone.localdate(locked.signed_at):
        raise ValidationError(gettext("The publication cannot precede the signature."))
    if getattr(locked, field) is not None:
        raise case_workflow.Conflict
    setattr(locked, field, day)
    locked.save(update_fields=[field])
    CaseEvent.record(case=locked.case, contract=locked, verb=verb, actor=actor, comment=str(day), ip=ip, now=now)
    return locked


@transaction.atomic
def contract_record_award_notice(*, contract: Contract, actor, day, ip=None, now=None) -> Contract:
    """The award notice was published (at or above the EU threshold, within 30 days of signature)."""
    return _record_publication(
        contract=contract, actor=actor, day=day, field="award_notice_published_on", verb="award_notice", ip=ip, now=now
    )


@transaction.atomic
def contract_record_decp_publication(*, contract: Contract, actor, day, ip=None, now=None) -> Contract:
    """The essential data (DECP) were published (from 40 000 €, within two months of notification)."""
    return _record_publication(
        contract=contract, actor=actor, day=day, field="decp_published_on", verb="decp_published", ip=ip, now=now
    )


# A modification may not raise the amount by more than half the initial one (R2194-3, R2194-5).
MODIFICATION_CEILING = Decimal("0.5")


@transaction.atomic
def contract_modify(
    *,
    contract: Contract,
    actor,
    quantity: int,
    unit_price: Decimal,
    reason: str,
    notified_on,
    terms_version: int,
    ip=None,
    now=None,
) -> ContractModification:
    """Record a modification (avenant) of a notified contract: appended, numbered, never edited.

    The contract takes the new terms; the published essential data keep the notified amount and list the
    modifications in order (contracts.decp)."""
    now = now or timezone.now()
    case_workflow.require_comment(reason)
    locked = _lock(contract)
    if not (workflow.contract_buyer(locked, actor) or workflow.jurist(locked, actor)):
        raise PermissionDenied(gettext("Only a buyer of this case or a jurist may do this."))
    if locked.status != "notified":
        raise TransitionNotAllowed(gettext("Only a contract notified to its supplier can be modified."))
    if locked.terms_version != terms_version:
        raise case_workflow.Conflict(gettext("Someone else changed these terms since you opened them."))
    if notified_on < timezone.localdate(locked.notified_at) or notified_on > timezone.localdate(now):
        raise ValidationError(
            gettext("The modification is notified between the contract's notification (%(day)s) and today.")
            % {"day": timezone.localdate(locked.notified_at)}
        )
    if quantity == locked.quantity and unit_price == locked.unit_price:
        raise ValidationError(gettext("The new terms are the same as the current ones."))
    _check_quantity(locked, quantity)
    if unit_price <= 0:
        raise ValidationError(gettext("The unit price must be positive."))
    modifications = list(locked.modifications.all())
    initial = modifications[0].previous_amount_ht if modifications else locked.amount_ht
    new_amount = (unit_price * quantity).quantize(Decimal("0.01"))
    if new_amount - locked.amount_ht > initial * MODIFICATION_CEILING:
        raise ValidationError(
            gettext(
                "A modification cannot raise the amount by more than half the initial amount "
                "(%(initial)s € excl. VAT, R2194-3)."
            )
            % {"initial": initial}
        )
    modification = ContractModification.objects.create(
        contract=locked,
        number=len(modifications) + 1,
        previous_quantity=locked.quantity,
        previous_unit_price=locked.unit_price,
        quantity=quantity,
        unit_price=unit_price,
        reason=reason,
        notified_on=notified_on,
        recorded_by=actor,
        recorded_at=now,
    )
    locked.quantity = quantity
    locked.unit_price = unit_price
    locked.terms_version += 1
    locked.save(update_fields=["quantity", "unit_price", "terms_version"])
    CaseEvent.record(
        case=locked.case,
        contract=locked,
        verb="modification",
        actor=actor,
        comment=gettext("Modification %(n)s: %(quantity)s × %(price)s € excl. VAT — %(reason)s")
        % {"n": modification.number, "quantity": quantity, "price": unit_price, "reason": reason},
        ip=ip,
        now=now,
    )
    notify(
        recipients=[*locked.case.purchasing_team(), *legal_team(locked.organisation_id)],
        verb="contract_modified",
        text=gettext("Contract %(ref)s: modification %(n)s recorded.")
        % {"ref": locked.reference, "n": modification.number},
        url=locked.get_absolute_url(),
        now=now,
    )
    return modification


@transaction.atomic
def contract_notify_supplier(*, contract: Contract, actor, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    return _contract_transition("notify_supplier", contract, actor=actor, ip=ip, now=now, at=now)


@transaction.atomic
def contract_withdraw(*, contract: Contract, actor, comment: str, ip=None, now=None) -> Contract:
    now = now or timezone.now()
    case_workflow.require_comment(comment)
    return _contract_transition("withdraw", contract, actor=actor, ip=ip, now=now, comment=comment)


def case_file_export(*, case: PurchaseCase, actor, output, ip=None, now: datetime | None = None) -> list:
    """Write the case file for auditors (contracts.audit) into `output`, a writable binary file, and record the
    export in the audit log with the SHA-256 of the dossier handed over. Returns the manifest rows.

    Not one transaction: rendering takes seconds and only reads; the event is written once the file is complete."""
    from contracts import audit

    if not actor.has_any_role or actor.organisation_id != case.organisation_id:
        raise PermissionDenied
    now = now or timezone.now()
    rows = audit.write_case_file(case, output, now=now)
    CaseEvent.record(
        case=case,
        verb="case_file_exported",
        actor=actor,
        ip=ip,
        comment=f"{rows[0].path} SHA-256 {rows[0].sha256}",
        now=now,
    )
    return rows
