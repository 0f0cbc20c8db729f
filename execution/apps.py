from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# How the audit trail names the execution's acts (procurement.workflow holds the table the log reads).
VERB_LABELS = {
    "lot_scheduled": _("Delivery lot scheduled"),
    "shipment_recorded": _("Shipment recorded"),
    "shipment_milestone": _("Shipment milestone"),
    "shipment_incident": _("Shipment incident"),
    "reception": _("Reception recorded"),
    "sample_inspection": _("Sample inspection"),
    "reception_decision": _("Reception decision"),
    "tacit_admission": _("Deemed admitted (no decision within 15 days)"),
    "penalty_waived": _("Late penalty waived"),
    "advance_paid": _("Advance paid"),
    "invoice_received": _("Invoice received"),
    "payment_exception": _("Payment beyond admission allowed"),
    "payment": _("Payment"),
    "allocation": _("Allocation to beneficiaries"),
    "vigilance_reminder": _("URSSAF certificate renewal due"),
}


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = _("Execution")

    def ready(self) -> None:
        from procurement import workflow

        workflow.VERB_LABELS.update(VERB_LABELS)
