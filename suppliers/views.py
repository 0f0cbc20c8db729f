from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.decorators import member_required, role_required
from suppliers import selectors, services
from suppliers.forms import SupplierDocumentForm, SupplierForm

PAGE_SIZE = 50


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
    today = timezone.localdate()
    documents = [{"document": d, "valid": d.is_valid_on(today)} for d in supplier.documents.all()]
    offers = list(supplier.offers.all())
    contracts = [contract for offer in offers for contract in offer.contracts.all()]
    return render(
        request,
        "suppliers/detail.html",
        {
            "supplier": supplier,
            "documents": documents,
            "offers": offers,
            "vetting_decisions": supplier.vetting_decisions.all(),
            "contracts": contracts,
            "can_add_document": request.user.is_buyer,
        },
    )


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
                return redirect(supplier)
        return render(request, "suppliers/document_form.html", {"form": form, "supplier": supplier}, status=422)
    return render(request, "suppliers/document_form.html", {"form": form, "supplier": supplier})


@member_required
@require_GET
def document_download(request, pk):
    document = get_object_or_404(selectors.documents_for(user=request.user), pk=pk)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=document.original_name, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
