"""Issue 7 §4 — archive only: cases, contracts and their documents are kept (CCP R2184-12).

The ORM refuses to delete them, one by one or in bulk, and the admin offers no delete button nor "delete
selected" action on any part of a case file. Getting rid of something means archiving it: a case is cancelled,
a contract withdrawn (both audited), a document replaced by a newer one (the older one stays)."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from contracts import services as contract_services
from contracts.models import Contract, ContractDocument, SignedDocument
from procurement.models import CaseStatus, ConformityEvidence, PurchaseCase
from suppliers import services as supplier_services
from suppliers.models import SupplierDocument
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def signed_contract(buyer, jurist, director, delegation):
    """A signed contract: a case through every stage (offer, evidence, rendered version), and its sealed copy."""
    contract = factories.make_contract(buyer, "signed", jurist=jurist, signer=director)
    signed = SignedDocument.objects.create(
        contract=contract,
        source=contract.current_document,
        status=SignedDocument.Status.SIGNED,
        created_at=timezone.now(),
    )
    signed.file.save("signe.pdf", ContentFile(PDF))
    return contract


@pytest.fixture
def supplier_document(buyer):
    supplier = factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer)
    return supplier_services.supplier_document_add(
        supplier=supplier,
        actor=buyer,
        kind=SupplierDocument.Kind.URSSAF,
        issued_on=timezone.localdate() - timedelta(days=3),
        uploaded=SimpleUploadedFile("urssaf.pdf", PDF, content_type="application/pdf"),
    )


def _kept_rows(contract, supplier_document) -> dict:
    """One row of each kept model (with a file where the model holds one)."""
    return {
        PurchaseCase: contract.case,
        Contract: contract,
        ContractDocument: contract.current_document,
        SignedDocument: contract.signed_document,
        ConformityEvidence: ConformityEvidence.objects.filter(conformity_check__offer__case=contract.case).first(),
        SupplierDocument: supplier_document,
    }


@pytest.mark.django_db
def test_kept_rows_refuse_delete_one_by_one_and_in_bulk(signed_contract, supplier_document):
    for model, row in _kept_rows(signed_contract, supplier_document).items():
        name = model._meta.label
        stored = getattr(row, "file", None)
        if stored is not None:
            assert stored.name, f"{name}: the fixture should hold a file"
            assert default_storage.exists(stored.name), name
        with pytest.raises(PermissionError, match="kept for the audit"):
            row.delete()
        with pytest.raises(PermissionError, match="never deleted"):
            model.objects.filter(pk=row.pk).delete()
        with pytest.raises(PermissionError):
            model.objects.all().delete()
        assert model.objects.filter(pk=row.pk).exists(), name
        if stored is not None:
            assert default_storage.exists(stored.name), f"{name}: its file was removed"


@pytest.mark.django_db
def test_deleting_through_a_relation_is_refused_too(signed_contract):
    case = signed_contract.case
    with pytest.raises(PermissionError):
        case.contracts.all().delete()
    with pytest.raises(PermissionError):
        signed_contract.documents.all().delete()
    assert signed_contract.documents.exists()


@pytest.mark.django_db
def test_the_refusal_says_what_to_do_instead(signed_contract):
    with pytest.raises(PermissionError, match="cancel the case instead"):
        signed_contract.case.delete()
    with pytest.raises(PermissionError, match="withdraw the contract instead"):
        signed_contract.delete()


@pytest.mark.django_db
def test_archiving_a_case_keeps_it_and_its_documents(buyer, jurist):
    """Cancel is the case's archive: the case, its contract and the contract's rendered PDF stay, audited."""
    case = factories.make_case(buyer, "contract")
    contract = case.contracts.get()
    document = contract.current_document
    case = contract_services.case_cancel(case=case, actor=jurist, comment="Besoin couvert par l'État.")
    assert case.status == CaseStatus.CANCELLED
    assert Contract.objects.get(pk=contract.pk).status == "withdrawn"
    assert ContractDocument.objects.filter(pk=document.pk).exists()
    assert default_storage.exists(document.file.name)
    assert case.events.filter(verb="cancel").exists()


# --- the admin ---------------------------------------------------------------------------------
CASE_ROOTS = (PurchaseCase, Contract)


def in_case_file(model, seen=frozenset()) -> bool:
    """A model is part of a case file if it holds a file, is a case or a contract, or points to one (directly or
    through another part of the file: an offer, a conformity check…)."""
    if model in CASE_ROOTS or any(isinstance(f, models.FileField) for f in model._meta.concrete_fields):
        return True
    seen = seen | {model}
    return any(
        f.is_relation and f.many_to_one and f.related_model not in seen and in_case_file(f.related_model, seen)
        for f in model._meta.concrete_fields
    )


def _case_file_admins():
    return {model: model_admin for model, model_admin in admin.site._registry.items() if in_case_file(model)}


def test_the_case_file_models_are_found():
    labels = {model._meta.label for model in _case_file_admins()}
    assert {
        "procurement.PurchaseCase",
        "procurement.Offer",
        "procurement.CaseEvent",
        "procurement.ConformityEvidence",
        "contracts.Contract",
        "contracts.ContractDocument",
        "suppliers.SupplierDocument",
    } <= labels
    assert "accounts.User" not in labels
    assert "suppliers.Supplier" not in labels  # kept too (its admin has no delete), but not a part of a case


@pytest.fixture
def superuser(org):
    return factories.UserFactory(username="root", organisation=org, is_staff=True, is_superuser=True)


@pytest.mark.django_db
def test_no_admin_page_deletes_a_part_of_a_case_file(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in _case_file_admins().items():
        name = model._meta.label
        assert not model_admin.has_delete_permission(request), f"{name}: the admin can delete"
        assert "delete_selected" not in model_admin.get_actions(request), f"{name}: 'delete selected' offered"
    for model_admin in admin.site._registry.values():
        for inline in model_admin.get_inline_instances(request):
            if in_case_file(inline.model):
                deletable = inline.can_delete and inline.has_delete_permission(request)
                assert not deletable, f"{type(inline).__name__}: rows can be deleted from {model_admin}"


@pytest.mark.django_db
def test_the_admin_delete_page_is_refused_even_to_a_superuser(client, superuser, signed_contract, supplier_document):
    client.force_login(superuser)
    for model, row in _kept_rows(signed_contract, supplier_document).items():
        if model not in admin.site._registry:
            continue  # SignedDocument has no admin page
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[row.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403, url
        assert model.objects.filter(pk=row.pk).exists()
