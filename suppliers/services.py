from django.db import transaction
from django.utils import timezone

from suppliers import identity, uploads
from suppliers.models import Supplier, SupplierDocument


@transaction.atomic
def supplier_create(
    *,
    actor,
    name: str,
    country: str,
    siret: str = "",
    vat_number: str = "",
    registration_number: str = "",
    address: str = "",
    email: str = "",
    website: str = "",
) -> Supplier:
    """Create a supplier of the actor's organisation; identifiers are expected already validated by the form."""
    country = (country or "FR").upper()
    if siret:
        identifier_type = Supplier.IdentifierType.SIRET
    elif vat_number:
        identifier_type = Supplier.IdentifierType.TVA
    else:
        identifier_type = Supplier.IdentifierType.HORS_UE
    return Supplier.objects.create(
        organisation=actor.organisation,
        name=name.strip(),
        country=country,
        identifier_type=identifier_type,
        siret=siret,
        siren=identity.siren_of_siret(siret) if siret else "",
        vat_number=vat_number,
        registration_number=registration_number,
        address=address,
        email=email,
        website=website,
        created_by=actor,
    )


@transaction.atomic
def supplier_document_add(
    *,
    supplier: Supplier,
    actor,
    kind: str,
    issued_on,
    uploaded,
    expires_on=None,
    verified_with_issuer: bool = False,
    verified_on=None,
) -> SupplierDocument:
    mime = uploads.validate_upload(uploaded)
    digest = uploads.sha256_of(uploaded)
    document = SupplierDocument(
        supplier=supplier,
        kind=kind,
        issued_on=issued_on,
        expires_on=expires_on or SupplierDocument.computed_expiry(kind, issued_on),
        original_name=uploaded.name[-200:],
        content_type=mime,
        size=uploaded.size,
        sha256=digest,
        verified_with_issuer=verified_with_issuer,
        verified_on=verified_on or (timezone.localdate() if verified_with_issuer else None),
        uploaded_by=actor,
    )
    document.file.save(uploads.private_name(mime), uploaded, save=False)
    document.save()
    return document
