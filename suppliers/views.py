from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts import roles
from accounts.decorators import member_required, role_required
from suppliers import documents, flags, selectors, services, uploads
from suppliers.forms import (
    DocumentVerifyForm,
    EstablishmentForm,
    ScreeningReviewForm,
    SupplierDocumentForm,
    SupplierEditForm,
    SupplierForm,
)
from suppliers.models import SanctionsScreening

PAGE_SIZE = 50
# The htmx event (HX-Trigger) after which a page showing a case's next steps fetches them again (the case page's
# "Next steps" block listens to it; suppliers cannot import procurement, hence the name repeated here).
CHECKLIST_CHANGED = "checklist-changed"


def _posted(request):
    """The submitted data on POST (even empty, so the form is bound and shows what is missing), else None."""
    return request.POST if request.method == "POST" else None


def _posted_files(request):
    return request.FILES if request.method == "POST" else None


@member_required
@require_GET
def supplier_list(request):
    query = request.GET.get("q", "").strip()
    suppliers = selectors.suppliers_for(user=request.user)
    if query:
        compact = query.replace(" ", "")
        suppliers = suppliers.filter(Q(name__icontains=query) | Q(siret__icontains=compact))
    page = Paginator(suppliers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "suppliers/list.html",
        {"page": page, "suppliers": page.object_list, "query": query, "can_create": request.user.is_buyer},
    )


@role_required(roles.BUYER)
def supplier_create(request):
    form = SupplierForm(_posted(request), organisation=request.user.organisation)
    if request.method == "POST":
        if form.is_valid():
            try:
                supplier = services.supplier_create(actor=request.user, **form.cleaned_data)
            except services.SupplierAlreadyExists as error:
                form.refuse_duplicate(error)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Supplier created."))
                return redirect(supplier)
        return render(request, "suppliers/form.html", {"form": form}, status=422)
    return render(request, "suppliers/form.html", {"form": form})


@member_required
@require_GET
def supplier_detail(request, pk):
    supplier = get_object_or_404(selectors.supplier_detail_queryset(user=request.user), pk=pk)
    can_edit = request.user.is_buyer
    offers = list(supplier.offers.all())
    contracts = [contract for offer in offers for contract in offer.contracts.all()]
    screening_panel = selectors.screening_panel(supplier=supplier)
    return render(
        request,
        "suppliers/detail.html",
        {
            **_documents_context(supplier, request.user, screening_panel),
            "establishments": supplier.establishments.all(),
            "history": selectors.supplier_history(supplier=supplier),
            "can_edit": can_edit,
            "offers": offers,
            "vetting_decisions": supplier.vetting_decisions.all(),
            "contracts": contracts,
            "screenings": screening_panel,
            "can_screen": request.user.is_buyer or request.user.is_jurist,
            "can_review_screenings": request.user.is_jurist,
        },
    )


def _documents_context(supplier, user, screening_panel: dict) -> dict:
    """The documents section of the supplier page (suppliers/includes/documents.html), its upload form, and the
    red flags, which depend on the documents (missing or expired certificates)."""
    can_edit = user.is_buyer
    document_rows = documents.document_rows(supplier.documents.all(), timezone.localdate())
    for row in document_rows:
        unverified = not row["document"].verified_with_issuer
        row["verify_form"] = DocumentVerifyForm(document=row["document"]) if can_edit and unverified else None
    current = [row["screening"] for row in screening_panel["current"] if row["screening"]]
    return {
        "supplier": supplier,
        "documents": document_rows,
        "can_add_document": can_edit,
        "document_form": SupplierDocumentForm() if can_edit else None,
        "red_flags": flags.supplier_flags(supplier, timezone.localdate(), current),
    }


@role_required(roles.BUYER)
def supplier_edit(request, pk):
    supplier = get_object_or_404(selectors.suppliers_for(user=request.user), pk=pk)
    form = SupplierEditForm(_posted(request), supplier=supplier)
    context = {"form": form, "supplier": supplier}
    if request.method == "POST":
        if form.is_valid():
            if not form.has_changed():
                messages.info(request, _("Nothing was changed."))
                return redirect(supplier)
            try:
                services.supplier_update(supplier=supplier, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Supplier updated."))
                return redirect(supplier)
        return render(request, "suppliers/edit.html", context, status=422)
    return render(request, "suppliers/edit.html", context)


@role_required(roles.BUYER)
def establishment_add(request, pk):
    supplier = get_object_or_404(selectors.suppliers_for(user=request.user), pk=pk)
    # The "new supplier" page links here with the SIRET it refused (?siret=...).
    form = EstablishmentForm(_posted(request), initial={"siret": request.GET.get("siret", "")[:20]})
    context = {"form": form, "supplier": supplier}
    if request.method == "POST":
        if form.is_valid():
            try:
                services.establishment_add(supplier=supplier, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error("siret", error)
            else:
                messages.success(request, _("Establishment added."))
                return redirect(supplier)
        return render(request, "suppliers/establishment_form.html", context, status=422)
    return render(request, "suppliers/establishment_form.html", context)


@role_required(roles.BUYER)
@require_POST
def document_verify(request, pk):
    document = get_object_or_404(selectors.documents_for(user=request.user), pk=pk)
    supplier = document.supplier
    form = DocumentVerifyForm(request.POST, document=document)
    if form.is_valid():
        try:
            services.document_mark_verified(
                document=document, actor=request.user, verified_on=form.cleaned_data["verified_on"]
            )
        except ValidationError as error:
            if error.code != "verified":
                form.add_error("verified_on", error)
            else:
                messages.warning(request, error.messages[0])
                return redirect(supplier)
        else:
            messages.success(request, _("Document marked as verified with its issuer."))
            return redirect(supplier)
    context = {"form": form, "document": document, "supplier": supplier}
    return render(request, "suppliers/document_verify.html", context, status=422)


@role_required(roles.BUYER)
def document_add(request, pk):
    supplier = get_object_or_404(selectors.suppliers_for(user=request.user), pk=pk)
    form = SupplierDocumentForm(_posted(request), _posted_files(request))
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.supplier_document_add(
                    supplier=supplier,
                    actor=request.user,
                    kind=data["kind"],
                    issued_on=data["issued_on"],
                    uploaded=data["file"],
                    expires_on=data["expires_on"],
                    verified_with_issuer=data["verified_with_issuer"],
                    verified_on=data["verified_on"],
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                messages.success(request, _("Document added."))
                if request.htmx:
                    return _documents_updated(request, supplier.pk)
                return redirect(supplier)
        if request.htmx:
            # Posted from the supplier page: the upload form alone comes back in place, with its errors next to the
            # fields and what the user typed (a browser never re-sends a file: it must be chosen again).
            context = {"document_form": form, "supplier": supplier}
            response = render(request, "suppliers/includes/document_upload.html", context, status=422)
            return retarget(reswap(response, "outerHTML"), "#document-upload")
        return render(request, "suppliers/document_form.html", {"form": form, "supplier": supplier}, status=422)
    return render(request, "suppliers/document_form.html", {"form": form, "supplier": supplier})


def _documents_updated(request, pk):
    """The htmx answer to an upload from the supplier page: the documents section in place of the old one, the
    message in the page's live region, the red flags refreshed; pages that show a case's next steps refresh them."""
    supplier = get_object_or_404(selectors.supplier_detail_queryset(user=request.user), pk=pk)
    context = _documents_context(supplier, request.user, selectors.screening_panel(supplier=supplier))
    response = render(request, "suppliers/includes/documents_updated.html", context)
    return trigger_client_event(response, CHECKLIST_CHANGED)


@member_required
@require_GET
def document_download(request, pk):
    document = get_object_or_404(selectors.documents_for(user=request.user), pk=pk)
    return uploads.private_file_response(
        document.file, filename=document.original_name, content_type=document.content_type
    )


# --- sanctions screening -------------------------------------------------------------------------------
@role_required(roles.BUYER, roles.JURIST)
@require_POST
def supplier_screen(request, pk):
    supplier = get_object_or_404(selectors.suppliers_for(user=request.user), pk=pk)
    screenings = services.supplier_screen(supplier=supplier, actor=request.user)
    if not screenings:
        messages.warning(request, _("No sanctions list has been imported yet: an administrator must import one first."))
        return redirect(supplier)
    reviews = {screening.review for screening in screenings}
    names = ", ".join(sorted({match["name"] for screening in screenings for match in screening.matches}))
    if SanctionsScreening.Review.CONFIRMED in reviews:
        messages.error(
            request, _("Screening done: a jurist confirmed this supplier is listed (%(names)s).") % {"names": names}
        )
    elif SanctionsScreening.Review.PENDING in reviews:
        messages.warning(
            request, _("Screening done: possible match (%(names)s). A jurist must review it.") % {"names": names}
        )
    elif names:
        messages.info(
            request, _("Screening done: possible match already cleared by a jurist (%(names)s).") % {"names": names}
        )
    else:
        messages.success(request, _("Screening done: no match."))
    return redirect(supplier)


@role_required(roles.JURIST)
@require_http_methods(["GET", "POST"])
def screening_review(request, pk):
    screening = get_object_or_404(selectors.screenings_for(user=request.user), pk=pk)
    supplier = screening.supplier
    if screening.review != SanctionsScreening.Review.PENDING:
        messages.info(request, _("This screening has nothing left to review."))
        return redirect(supplier)
    form = ScreeningReviewForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.screening_review(screening=screening, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                # Reviewed by another jurist meanwhile: the supplier page shows that review.
                for message in error.messages:
                    messages.warning(request, message)
                return redirect(supplier)
            form.add_error(None, error)
        else:
            messages.success(request, _("Review recorded."))
            return redirect(supplier)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "suppliers/screening_review.html",
        {"screening": screening, "supplier": supplier, "matches": selectors.screening_matches(screening), "form": form},
        status=status,
    )
