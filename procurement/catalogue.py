"""Products, CPV codes (DOMAIN.md §7) and Incoterms. The norms catalogue itself is data (norm check)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Product(models.TextChoices):
    FFP1 = "ffp1", _("FFP1 respirator")
    FFP2 = "ffp2", _("FFP2 respirator (or accepted equivalent)")
    FFP3 = "ffp3", _("FFP3 respirator")
    MEDICAL_I = "med_i", _("Medical mask type I")
    MEDICAL_II = "med_ii", _("Medical mask type II")
    MEDICAL_IIR = "med_iir", _("Medical mask type IIR")
    COMMUNITY = "community", _("Community mask (UNS1/UNS2)")
    EXAM_GLOVES = "exam_gloves", _("Examination gloves")
    PROTECTIVE_GLOVES = "prot_gloves", _("Protective gloves")
    GOWNS = "gowns", _("Gowns")
    SANITISER = "sanitiser", _("Hand sanitiser")
    OTHER = "other", _("Other supplies")


class Family(models.TextChoices):
    """Product families the director reads amounts and quantities by."""

    RESPIRATORS = "respirators", _("Respirators (FFP)")
    MEDICAL_MASKS = "medical_masks", _("Medical masks")
    COMMUNITY_MASKS = "community_masks", _("Community masks")
    GLOVES = "gloves", _("Gloves")
    GOWNS = "gowns", _("Gowns")
    SANITISER = "sanitiser", _("Hand sanitiser")
    OTHER = "other", _("Other supplies")


FAMILY = {
    Product.FFP1: Family.RESPIRATORS,
    Product.FFP2: Family.RESPIRATORS,
    Product.FFP3: Family.RESPIRATORS,
    Product.MEDICAL_I: Family.MEDICAL_MASKS,
    Product.MEDICAL_II: Family.MEDICAL_MASKS,
    Product.MEDICAL_IIR: Family.MEDICAL_MASKS,
    Product.COMMUNITY: Family.COMMUNITY_MASKS,
    Product.EXAM_GLOVES: Family.GLOVES,
    Product.PROTECTIVE_GLOVES: Family.GLOVES,
    Product.GOWNS: Family.GOWNS,
    Product.SANITISER: Family.SANITISER,
    Product.OTHER: Family.OTHER,
}

# Masks the State could requisition in 2020 (décret 2020-281: respirators and medical masks).
REQUISITIONABLE = [
    Product.FFP1,
    Product.FFP2,
    Product.FFP3,
    Product.MEDICAL_I,
    Product.MEDICAL_II,
    Product.MEDICAL_IIR,
]


class CPV(models.TextChoices):
    PROTECTIVE_GEAR = "18143000-3", _("18143000-3 Protective gear")
    MEDICAL_CONSUMABLES = "33140000-3", _("33140000-3 Medical consumables")
    DISPOSABLE_GLOVES = "18424300-0", _("18424300-0 Disposable gloves")
    SURGICAL_GLOVES = "33141420-0", _("33141420-0 Surgical gloves")
    SAFETY_VISORS = "18142000-6", _("18142000-6 Safety visors")
    PROTECTIVE_CLOTHING = "35113400-3", _("35113400-3 Protective and safety clothing")
    MEDICAL_CLOTHING = "33199000-1", _("33199000-1 Medical clothing")
    ANTISEPTICS = "33631600-8", _("33631600-8 Antiseptics and disinfectants")


class Incoterm(models.TextChoices):
    EXW = "EXW", "EXW"
    FCA = "FCA", "FCA"
    CPT = "CPT", "CPT"
    CIP = "CIP", "CIP"
    DAP = "DAP", "DAP"
    DPU = "DPU", "DPU"
    DDP = "DDP", "DDP"
    FAS = "FAS", "FAS"
    FOB = "FOB", "FOB"
    CFR = "CFR", "CFR"
    CIF = "CIF", "CIF"


# The standard a product must meet (DOMAIN.md §4).
REQUIRED_STANDARD = {
    Product.FFP1: "EN 149:2001+A1:2009",
    Product.FFP2: "EN 149:2001+A1:2009",
    Product.FFP3: "EN 149:2001+A1:2009",
    Product.MEDICAL_I: "EN 14683:2019+AC:2019",
    Product.MEDICAL_II: "EN 14683:2019+AC:2019",
    Product.MEDICAL_IIR: "EN 14683:2019+AC:2019",
    Product.COMMUNITY: "AFNOR Spec S76-001",
    Product.EXAM_GLOVES: "EN 455",
    Product.PROTECTIVE_GLOVES: "EN ISO 374-5",
    Product.GOWNS: "EN 13795-1",
    Product.SANITISER: "EN 14476",
    Product.OTHER: "",
}
