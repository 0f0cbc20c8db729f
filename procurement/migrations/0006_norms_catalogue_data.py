"""The norms catalogue of DOMAIN.md §4 as data: standards, classes with their thresholds, the French 2020
FFP2 equivalents (accepted under derogation, with their legal reference and dates), and the evidence each
class requires. Administrators keep it up to date in the admin."""

from datetime import date
from decimal import Decimal

from django.db import migrations

PPE, MD, NONE, OTHER = "ppe", "md", "none", "other"
DECLARATION, TYPE_EXAM, PRODUCTION, TEST_REPORT, BIOBURDEN = (
    "declaration",
    "type_exam",
    "production",
    "test_report",
    "bioburden",
)
FFP_EVIDENCE = [DECLARATION, TYPE_EXAM, PRODUCTION, TEST_REPORT]
MEDICAL_EVIDENCE = [DECLARATION, TEST_REPORT, BIOBURDEN]
# Under the 2020 derogation, imported respirators came with the manufacturer's declaration against their own
# standard and a test report of an accredited laboratory; no EU type-examination.
EQUIVALENT_EVIDENCE = [DECLARATION, TEST_REPORT]

FFP2_DEROGATION = (
    "Recommandation (UE) 2020/403 de la Commission du 13 mars 2020 et note interministérielle DGT-DGS "
    "du 20 mars 2020 : équivalents FFP2 importés, réservés aux professionnels de santé"
)
FFP2_DEROGATION_FROM, FFP2_DEROGATION_UNTIL = date(2020, 3, 20), date(2020, 12, 31)
SANITISER_DEROGATION = (
    "Arrêté du 13 mars 2020 autorisant par dérogation la mise à disposition sur le marché et l'utilisation "
    "temporaire de certains produits hydro-alcooliques (formules OMS)"
)

# code, title, legislation, country, [(label, product, thresholds, evidence, derogation, from, until, note)]
NORMS = [
    (
        "EN 149:2001+A1:2009",
        "Appareils de protection respiratoire — Demi-masques filtrants contre les particules",
        PPE,
        "",
        [
            ("FFP1", "ffp1", {"filtration_min": "80", "inward_leakage_max": "25"}, FFP_EVIDENCE),
            ("FFP2", "ffp2", {"filtration_min": "94", "inward_leakage_max": "11"}, FFP_EVIDENCE),
            ("FFP3", "ffp3", {"filtration_min": "99", "inward_leakage_max": "5"}, FFP_EVIDENCE),
        ],
    ),
    (
        "EN 14683:2019+AC:2019",
        "Masques à usage médical — Exigences et méthodes d'essai",
        MD,
        "",
        [
            (
                "Type I",
                "med_i",
                {"bacterial_filtration_min": "95", "breathing_resistance_max": "40"},
                MEDICAL_EVIDENCE,
            ),
            (
                "Type II",
                "med_ii",
                {"bacterial_filtration_min": "98", "breathing_resistance_max": "40"},
                MEDICAL_EVIDENCE,
            ),
            (
                "Type IIR",
                "med_iir",
                {
                    "bacterial_filtration_min": "98",
                    "breathing_resistance_max": "60",
                    "splash_resistance_min": "16",
                },
                MEDICAL_EVIDENCE,
            ),
        ],
    ),
    (
        "AFNOR Spec S76-001",
        "Masques barrières — Guide d'exigences minimales, de méthodes d'essais, de confection et d'usage",
        NONE,
        "FR",
        [
            ("UNS1", "community", {"filtration_min": "90"}, [TEST_REPORT]),
            ("UNS2", "community", {"filtration_min": "70"}, [TEST_REPORT]),
        ],
    ),
    (
        "EN 455",
        "Gants médicaux non réutilisables (parties 1 à 4)",
        MD,
        "",
        [("AQL 1,5", "exam_gloves", {"aql_max": "1.5"}, [DECLARATION, TEST_REPORT])],
    ),
    (
        "EN ISO 374-5",
        "Gants de protection contre les micro-organismes (mention VIRUS avec l'essai ISO 16604)",
        PPE,
        "",
        [("VIRUS", "prot_gloves", {}, [DECLARATION, TYPE_EXAM, TEST_REPORT])],
    ),
    (
        "EN 13795-1",
        "Vêtements et champs chirurgicaux — Exigences et méthodes d'essai",
        MD,
        "",
        [("Performance standard", "gowns", {}, [DECLARATION, TEST_REPORT])],
    ),
    (
        "EN 14476",
        "Antiseptiques et désinfectants chimiques — Activité virucide",
        OTHER,
        "",
        [("Virucide", "sanitiser", {}, [TEST_REPORT])],
    ),
]

# Foreign respirator standards accepted as FFP2 in France in 2020 (DOMAIN.md §4).
FFP2_EQUIVALENTS = [
    ("NIOSH 42 CFR 84", "Respirateurs approuvés par le NIOSH (États-Unis)", "US", "N95", "95", ""),
    (
        "GB 2626-2006",
        "Respiratory protective equipment — Non-powered air-purifying particle respirator (Chine)",
        "CN",
        "KN95",
        "95",
        "Non testé contre les aérosols huileux.",
    ),
    ("GB/T 32610-2016", "Technical specification of daily protective mask (Chine)", "CN", "Classe A", "95", ""),
    ("AS/NZS 1716:2012", "Respiratory protective devices (Australie, Nouvelle-Zélande)", "AU", "P2", "94", ""),
    ("KMOEL-2017-64", "Masques filtrants « Korea Filter » (Corée du Sud)", "KR", "KF94", "94", ""),
    ("JMHLW Notification 214, 2018", "Masques anti-poussière (Japon)", "JP", "DS2", "95", ""),
    ("ABNT NBR 13698:2011", "Peça semifacial filtrante para partículas (Brésil)", "BR", "PFF2", "94", ""),
    ("NOM-116-STPS-2009", "Respiradores purificadores de aire (Mexique)", "MX", "N95", "95", ""),
]


def seed(apps, schema_editor):
    Norm = apps.get_model("procurement", "Norm")
    NormClass = apps.get_model("procurement", "NormClass")
    EvidenceRequirement = apps.get_model("procurement", "EvidenceRequirement")

    def add_class(norm, label, product, thresholds, evidence, **extra):
        values = {name: Decimal(value) for name, value in thresholds.items()}
        norm_class, _created = NormClass.objects.get_or_create(
            norm=norm, label=label, defaults={"product": product, **values, **extra}
        )
        for kind in evidence:
            EvidenceRequirement.objects.get_or_create(norm_class=norm_class, kind=kind)

    for code, title, legislation, country, classes in NORMS:
        norm, _created = Norm.objects.get_or_create(
            code=code, defaults={"title": title, "legislation": legislation, "country": country}
        )
        for label, product, thresholds, evidence in classes:
            add_class(norm, label, product, thresholds, evidence)
    for code, title, country, label, filtration, note in FFP2_EQUIVALENTS:
        norm, _created = Norm.objects.get_or_create(
            code=code, defaults={"title": title, "legislation": NONE, "country": country}
        )
        add_class(
            norm,
            label,
            "ffp2",
            {"filtration_min": filtration},
            EQUIVALENT_EVIDENCE,
            derogation_reference=FFP2_DEROGATION,
            valid_from=FFP2_DEROGATION_FROM,
            valid_until=FFP2_DEROGATION_UNTIL,
            note=note,
        )
    norm, _created = Norm.objects.get_or_create(
        code="Formules OMS (arrêté du 13 mars 2020)",
        defaults={"title": "Produits hydro-alcooliques dérogatoires", "legislation": NONE, "country": "FR"},
    )
    add_class(
        norm,
        "Formule OMS",
        "sanitiser",
        {},
        [DECLARATION],
        derogation_reference=SANITISER_DEROGATION,
        valid_from=date(2020, 3, 13),
        note="Ces formules peuvent ne pas citer l'EN 14476.",
    )


class Migration(migrations.Migration):
    dependencies = [("procurement", "0005_norms_catalogue")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
