"""The conformity verdict engine (procurement.conformity): the seeded catalogue's thresholds at the limit and one
step on each side, the red flags of DOMAIN.md §4 that caught the 2020 fakes, and properties no combination of
evidence may break (a missing mandatory piece never yields "conform").

The engine is pure: the catalogue is read once per module from the test database (seeded by migration 0006) and
the notified bodies are built here in memory, so these tests do not depend on the bodies' sample data."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from procurement import conformity
from procurement.catalogue import Product
from procurement.conformity import BodyIndex, assess, threshold_rows
from procurement.models import ConformityCheck, ConformityEvidence, EvidenceKind, Legislation, NormClass, NotifiedBody

# The catalogue comes from the test database: every test declares it (and runs in a rolled-back transaction).
pytestmark = pytest.mark.django_db

Verdict = ConformityCheck.Verdict
Kind = EvidenceKind

EN149, EN14683, S76, EN455 = "EN 149:2001+A1:2009", "EN 14683:2019+AC:2019", "AFNOR Spec S76-001", "EN 455"
GB2626 = "GB 2626-2006"
DAY = date(2020, 4, 1)  # within the 2020 FFP2 derogation (20 March – 31 December 2020)
MODEL = "X-100"

# The notified bodies the rules need, one of each kind (DOMAIN.md §4).
PPE_BODY = NotifiedBody(
    pk=1, number="2163", name="Universal Certification and Surveillance Services", country="TR", legislations=["ppe"]
)
MD_BODY = NotifiedBody(pk=2, number="0123", name="TÜV SÜD Product Service GmbH", country="DE", legislations=["md"])
MACHINERY_BODY = NotifiedBody(
    pk=3,
    number="1282",
    name="Ente Certificazione Macchine Srl",
    country="IT",
    legislations=["other"],
    aliases=["ECM"],
)
ICR_POLSKA = NotifiedBody(pk=4, name="ICR Polska", country="PL", aliases=["ICR Polska Sp. z o.o."])
CELAB = NotifiedBody(pk=5, name="CELAB", country="IT")
BODIES = [PPE_BODY, MD_BODY, MACHINERY_BODY, ICR_POLSKA, CELAB]


@pytest.fixture(scope="module")
def catalogue(django_db_setup, django_db_blocker):
    """Every class seeded by the migration, with its norm and required evidence, keyed by (standard, class)."""
    with django_db_blocker.unblock():
        classes = list(NormClass.objects.select_related("norm").prefetch_related("requirements"))
    return {(norm_class.norm.code, norm_class.label): norm_class for norm_class in classes}


@pytest.fixture(scope="module")
def bodies():
    return BodyIndex(BODIES)


def requirements_of(norm_class):
    return [row.kind for row in norm_class.requirements.all()]


def good_evidence(kind, *, day=DAY, model=MODEL, **fields):
    """A genuine piece of evidence of this kind: the manufacturer's declaration, certificates from the body
    notified for PPE, reports from a laboratory."""
    defaults = {"kind": kind, "model_reference": model, "issued_on": day - timedelta(days=200)}
    if kind == Kind.DECLARATION:
        defaults.update(issuer="Shenzhen Safe Masks Co., Ltd", by_manufacturer=True)
    elif kind in conformity.CERTIFICATES:
        defaults.update(notified_body=PPE_BODY, number=f"2163-{kind}-001", expires_on=day + timedelta(days=900))
    else:
        defaults.update(issuer="Laboratoire d'essais Provence")
    defaults.update(fields)
    return ConformityEvidence(**defaults)


def full_evidence(norm_class, **fields):
    return [good_evidence(kind, **fields) for kind in requirements_of(norm_class)]


def passing_values(norm_class):
    """Measured values meeting every threshold of the class (strictly below a "below" limit)."""
    values = {}
    for threshold in conformity.THRESHOLDS:
        limit = getattr(norm_class, threshold.limit)
        if limit is not None:
            values[threshold.field] = limit - Decimal("0.1") if threshold.comparison == "below" else limit
    return values


def make_check(norm_class, **fields):
    values = {"model_reference": MODEL, "ce_number": "2163", **(passing_values(norm_class) if norm_class else {})}
    values.update(fields)
    return ConformityCheck(norm_class=norm_class, **values)


def run(norm_class, *, check=None, evidence=None, product=None, day=DAY, bodies=None, **fields):
    check = check or make_check(norm_class, **fields)
    return assess(
        check=check,
        evidence=full_evidence(norm_class) if evidence is None else evidence,
        requirements=requirements_of(norm_class) if norm_class else [],
        product=product or (norm_class.product if norm_class else Product.FFP2),
        day=day,
        bodies=bodies or BodyIndex(BODIES),
    )


def codes(assessment, level=None):
    return [finding.code for finding in assessment.findings if level is None or finding.level == level]


def passing_verdict(norm_class):
    return Verdict.DEROGATION if norm_class.is_derogation else Verdict.CONFORM


# --- thresholds: every standard and class of the catalogue, at the limit and one step on each side -------------
# (standard, class, field, limit): written out so that a change to the seeded figures fails here.
LIMITS = [
    (EN149, "FFP1", "filtration", "80"),
    (EN149, "FFP1", "inward_leakage", "25"),
    (EN149, "FFP2", "filtration", "94"),
    (EN149, "FFP2", "inward_leakage", "11"),
    (EN149, "FFP3", "filtration", "99"),
    (EN149, "FFP3", "inward_leakage", "5"),
    (EN14683, "Type I", "bacterial_filtration", "95"),
    (EN14683, "Type I", "breathing_resistance", "40"),
    (EN14683, "Type II", "bacterial_filtration", "98"),
    (EN14683, "Type II", "breathing_resistance", "40"),
    (EN14683, "Type IIR", "bacterial_filtration", "98"),
    (EN14683, "Type IIR", "breathing_resistance", "60"),
    (EN14683, "Type IIR", "splash_resistance", "16"),
    (S76, "UNS1", "filtration", "90"),
    (S76, "UNS2", "filtration", "70"),
    (EN455, "AQL 1,5", "aql", "1.5"),
    ("NIOSH 42 CFR 84", "N95", "filtration", "95"),
    (GB2626, "KN95", "filtration", "95"),
    ("GB/T 32610-2016", "Classe A", "filtration", "95"),
    ("AS/NZS 1716:2012", "P2", "filtration", "94"),
    ("KMOEL-2017-64", "KF94", "filtration", "94"),
    ("JMHLW Notification 214, 2018", "DS2", "filtration", "95"),
    ("ABNT NBR 13698:2011", "PFF2", "filtration", "94"),
    ("NOM-116-STPS-2009", "N95", "filtration", "95"),
]
COMPARISONS = {threshold.field: threshold.comparison for threshold in conformity.THRESHOLDS}
STEP = Decimal("0.1")


def threshold_cases():
    for code, label, field, limit in LIMITS:
        limit = Decimal(limit)
        comparison = COMPARISONS[field]
        for value in (limit - STEP, limit, limit + STEP):
            passes = {"min": value >= limit, "max": value <= limit, "below": value < limit}[comparison]
            yield pytest.param(code, label, field, value, passes, id=f"{code}-{label}-{field}-{value}")


@pytest.mark.parametrize(("code", "label", "field", "value", "passes"), list(threshold_cases()))
def test_each_threshold_decides_at_the_limit_and_one_step_each_side(catalogue, code, label, field, value, passes):
    norm_class = catalogue[(code, label)]
    assessment = run(norm_class, **{field: value})
    if passes:
        assert assessment.verdict == passing_verdict(norm_class), assessment.findings
        assert codes(assessment, "danger") == []
    else:
        assert assessment.verdict == Verdict.NON_CONFORM
        assert codes(assessment, "danger") == [f"{field}_out_of_range"]


def test_the_threshold_table_covers_every_threshold_of_the_catalogue(catalogue):
    seeded = {
        (code, label, threshold.field)
        for (code, label), norm_class in catalogue.items()
        for threshold in conformity.THRESHOLDS
        if getattr(norm_class, threshold.limit) is not None
    }
    assert seeded == {(code, label, field) for code, label, field, _limit in LIMITS}
    for code, label, field, limit in LIMITS:
        threshold = next(t for t in conformity.THRESHOLDS if t.field == field)
        assert getattr(catalogue[(code, label)], threshold.limit) == Decimal(limit)


@pytest.mark.parametrize(
    ("code", "label", "verdict"),
    [
        ("EN ISO 374-5", "VIRUS", Verdict.CONFORM),
        ("EN 13795-1", "Performance standard", Verdict.CONFORM),
        ("EN 14476", "Virucide", Verdict.CONFORM),
        ("Formules OMS (arrêté du 13 mars 2020)", "Formule OMS", Verdict.DEROGATION),
    ],
)
def test_classes_without_figures_pass_on_their_evidence_alone(catalogue, code, label, verdict):
    assert run(catalogue[(code, label)]).verdict == verdict


def test_the_reasons_name_the_measured_value_the_limit_and_the_standard(catalogue):
    with translation.override("en"):
        ffp2 = run(catalogue[(EN149, "FFP2")], filtration=Decimal("93.9"))
        iir = run(catalogue[(EN14683, "Type IIR")], breathing_resistance=Decimal("60"), splash_resistance=None)
        gloves = run(catalogue[(EN455, "AQL 1,5")], aql=Decimal("1.6"))
    assert "Filtration 93.9 % is below the 94 % FFP2 requires (EN 149:2001+A1:2009)." in reasons(ffp2)
    assert "Breathing resistance 60 Pa/cm² is not below the 60 Pa/cm² limit of Type IIR" in reasons(iir)
    assert iir.verdict == Verdict.NON_CONFORM
    assert "splash_resistance_missing" in codes(iir, "missing")
    assert "AQL 1.6 is above the 1.5 maximum of AQL 1,5 (EN 455)." in reasons(gloves)


def test_a_value_not_measured_leaves_the_check_incomplete(catalogue):
    assessment = run(catalogue[(EN149, "FFP3")], inward_leakage=None)
    assert assessment.verdict == Verdict.INCOMPLETE
    assert codes(assessment) == ["inward_leakage_missing"]


def test_threshold_rows_show_each_limit_of_the_class(catalogue):
    with translation.override("en"):
        iir = threshold_rows(catalogue[(EN14683, "Type IIR")])
        gloves = threshold_rows(catalogue[(EN455, "AQL 1,5")])
    assert [(row["field"], row["comparison"]) for row in iir] == [
        ("bacterial_filtration", "≥ 98 %"),
        ("breathing_resistance", "< 60 Pa/cm²"),
        ("splash_resistance", "≥ 16 kPa"),
    ]
    assert [(row["label"], row["comparison"], row["unit"]) for row in gloves] == [("AQL", "≤ 1.5", "")]
    assert threshold_rows(None) == []
    with translation.override("fr"):
        assert threshold_rows(catalogue[(EN455, "AQL 1,5")])[0]["comparison"] == "≤ 1,5"


def reasons(assessment):
    return " | ".join(finding.reason for finding in assessment.findings)


# --- the demo's offers and the red flags of DOMAIN.md §4 --------------------------------------------------------
def test_a_voluntary_certificate_from_icr_polska_makes_an_ffp2_offer_non_conform(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    certificate = ConformityEvidence(
        kind=Kind.OTHER_CERTIFICATE, issuer="ICR POLSKA Sp. z o.o.", number="ICR-2020-118", model_reference=MODEL
    )
    with translation.override("en"):
        assessment = run(ffp2, evidence=[*full_evidence(ffp2), certificate])
    assert assessment.verdict == Verdict.NON_CONFORM
    assert codes(assessment, "danger") == ["voluntary_certificate"]
    assert "Voluntary certificate from ICR Polska, a body not notified for PPE Regulation (EU) 2016/425." in reasons(
        assessment
    )


def test_the_maker_whose_only_proof_is_a_voluntary_certificate_is_non_conform_not_merely_incomplete(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    declaration = good_evidence(Kind.DECLARATION)
    voluntary = ConformityEvidence(kind=Kind.TYPE_EXAMINATION, issuer="ECM", number="ECM-0451", model_reference=MODEL)
    with translation.override("en"):
        assessment = run(ffp2, evidence=[declaration, voluntary], ce_number="1282")
    assert assessment.verdict == Verdict.NON_CONFORM
    assert {"voluntary_certificate", "ce_body_not_notified"} <= set(codes(assessment, "danger"))
    text = reasons(assessment)
    assert "1282 Ente Certificazione Macchine Srl, a body not notified for PPE Regulation (EU) 2016/425" in text
    assert "CE 1282 is the number of Ente Certificazione Macchine Srl" in text


def test_a_certificate_from_a_body_notified_only_for_other_legislation_is_a_voluntary_certificate(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    for body in (MACHINERY_BODY, MD_BODY):
        evidence = [
            good_evidence(Kind.TYPE_EXAMINATION, notified_body=body) if item.kind == Kind.TYPE_EXAMINATION else item
            for item in full_evidence(ffp2)
        ]
        assessment = run(ffp2, evidence=evidence)
        assert assessment.verdict == Verdict.NON_CONFORM
        assert codes(assessment, "danger") == ["voluntary_certificate"]


def test_a_test_report_from_a_laboratory_that_is_no_notified_body_is_legitimate(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    evidence = [
        good_evidence(Kind.TEST_REPORT, issuer="CELAB") if item.kind == Kind.TEST_REPORT else item
        for item in full_evidence(ffp2)
    ]
    assert run(ffp2, evidence=evidence).verdict == Verdict.CONFORM


def test_the_kn95_offer_of_21_march_2020_is_conform_under_derogation_with_its_legal_reference(catalogue):
    kn95 = catalogue[(GB2626, "KN95")]
    evidence = [good_evidence(Kind.DECLARATION), good_evidence(Kind.TEST_REPORT)]
    assessment = run(kn95, evidence=evidence, ce_number="", day=date(2020, 3, 21), product=Product.FFP2)
    assert assessment.verdict == Verdict.DEROGATION
    assert assessment.passes
    assert assessment.derogation_reference.startswith("Recommandation (UE) 2020/403")
    assert assessment.derogation_reference == kn95.derogation_reference
    info = [finding.reason for finding in assessment.findings if finding.level == "info"]
    assert any("aérosols huileux" in reason for reason in info)
    assert any(kn95.derogation_reference in reason for reason in info)


def test_the_same_kn95_claim_after_the_derogation_ended_is_non_conform(catalogue):
    kn95 = catalogue[(GB2626, "KN95")]
    evidence = [good_evidence(Kind.DECLARATION), good_evidence(Kind.TEST_REPORT)]
    with translation.override("fr"):
        late = run(kn95, evidence=evidence, ce_number="", day=date(2026, 6, 1))
    assert late.verdict == Verdict.NON_CONFORM
    assert late.derogation_reference == ""
    assert codes(late, "danger") == ["derogation_not_in_force"]
    assert "20/03/2020" in reasons(late)
    assert "31/12/2020" in reasons(late)
    assert "01/06/2026" in reasons(late)
    early = run(kn95, evidence=evidence, day=date(2020, 3, 19))
    assert early.verdict == Verdict.NON_CONFORM


@pytest.mark.parametrize(
    ("code", "label", "need"),
    [
        (EN149, "FFP2", Product.MEDICAL_IIR),
        (EN149, "FFP3", Product.MEDICAL_I),
        (EN14683, "Type IIR", Product.FFP2),
        (GB2626, "KN95", Product.MEDICAL_II),
        (S76, "UNS1", Product.FFP1),
        (EN455, "AQL 1,5", Product.PROTECTIVE_GLOVES),
    ],
)
def test_a_claim_of_another_product_category_is_non_conform(catalogue, code, label, need):
    assessment = run(catalogue[(code, label)], product=need)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert codes(assessment, "danger") == ["category_mismatch"]


def test_an_ffp2_claim_on_a_medical_mask_need_names_both(catalogue):
    with translation.override("en"):
        assessment = run(catalogue[(EN149, "FFP2")], product=Product.MEDICAL_IIR)
    assert "Category mismatch: FFP2 (EN 149:2001+A1:2009) claimed on a need for Medical mask type IIR." in reasons(
        assessment
    )


@pytest.mark.parametrize(
    ("code", "label", "need", "verdict"),
    [
        (EN149, "FFP3", Product.FFP2, Verdict.CONFORM),
        (EN149, "FFP2", Product.FFP1, Verdict.CONFORM),
        (EN14683, "Type IIR", Product.MEDICAL_I, Verdict.CONFORM),
        (EN149, "FFP1", Product.FFP2, Verdict.NON_CONFORM),
        (EN14683, "Type II", Product.MEDICAL_IIR, Verdict.NON_CONFORM),
        (GB2626, "KN95", Product.FFP3, Verdict.NON_CONFORM),
        (EN149, "FFP2", Product.OTHER, Verdict.CONFORM),
    ],
)
def test_a_higher_class_of_the_same_family_meets_the_need_a_lower_one_does_not(catalogue, code, label, need, verdict):
    assert run(catalogue[(code, label)], product=need).verdict == verdict


@pytest.mark.parametrize(
    ("ce_number", "marking", "verdict", "code"),
    [
        ("216", "", Verdict.NON_CONFORM, "ce_number_malformed"),
        ("CE 216", "", Verdict.NON_CONFORM, "ce_number_malformed"),
        ("21630", "", Verdict.NON_CONFORM, "ce_number_malformed"),
        ("", "", Verdict.NON_CONFORM, "ce_number_missing"),
        ("", "CE NR", Verdict.NON_CONFORM, "ce_number_missing"),
        ("1282", "", Verdict.NON_CONFORM, "ce_body_not_notified"),
        ("0123", "", Verdict.NON_CONFORM, "ce_body_not_notified"),
        ("9999", "", Verdict.INCOMPLETE, "ce_number_unknown"),
        ("CE 2163", "", Verdict.CONFORM, None),
        ("", "CE 2163 NR D", Verdict.CONFORM, None),
    ],
)
def test_the_number_after_the_ce_mark_is_that_of_a_body_notified_for_ppe(catalogue, ce_number, marking, verdict, code):
    assessment = run(catalogue[(EN149, "FFP2")], ce_number=ce_number, marking=marking)
    assert assessment.verdict == verdict
    assert codes(assessment) == ([code] if code else [])


def test_the_ce_reasons_say_what_is_wrong(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    with translation.override("en"):
        three_digits = run(ffp2, ce_number="216")
        none = run(ffp2, ce_number="")
        unknown = run(ffp2, ce_number="9999")
    assert "CE 216: a notified body number has 4 digits." in reasons(three_digits)
    assert "CE mark with no notified body number on FFP2 (EN 149:2001+A1:2009)" in reasons(none)
    assert "check it in NANDO" in reasons(unknown)


def test_no_ce_number_is_asked_of_medical_masks_community_masks_or_foreign_equivalents(catalogue):
    for key in [(EN14683, "Type IIR"), (S76, "UNS1"), (GB2626, "KN95")]:
        assert run(catalogue[key], ce_number="").passes


def test_an_expired_type_examination_certificate_makes_the_offer_non_conform(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    expired = good_evidence(Kind.TYPE_EXAMINATION, number="2163-PPE-0042", expires_on=DAY - timedelta(days=1))
    evidence = [expired if item.kind == Kind.TYPE_EXAMINATION else item for item in full_evidence(ffp2)]
    with translation.override("en"):
        assessment = run(ffp2, evidence=evidence)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert codes(assessment, "danger") == ["expired_type_exam"]
    assert "2163-PPE-0042 expired on" in reasons(assessment)
    still_valid = good_evidence(Kind.TYPE_EXAMINATION, expires_on=DAY)
    evidence = [still_valid if item.kind == Kind.TYPE_EXAMINATION else item for item in full_evidence(ffp2)]
    assert run(ffp2, evidence=evidence).verdict == Verdict.CONFORM


@pytest.mark.parametrize(
    ("issued_on", "verdict"),
    [
        (date(2015, 4, 1), Verdict.CONFORM),
        (date(2015, 3, 31), Verdict.NON_CONFORM),
        (None, Verdict.INCOMPLETE),
    ],
)
def test_a_type_examination_certificate_is_at_most_five_years_old(catalogue, issued_on, verdict):
    ffp2 = catalogue[(EN149, "FFP2")]
    certificate = good_evidence(Kind.TYPE_EXAMINATION, issued_on=issued_on, expires_on=None)
    evidence = [certificate if item.kind == Kind.TYPE_EXAMINATION else item for item in full_evidence(ffp2)]
    assert run(ffp2, evidence=evidence).verdict == verdict


@pytest.mark.parametrize(
    ("certificate_model", "offered", "verdict"),
    [
        ("X-100", "x 100", Verdict.CONFORM),
        ("X 100 , X-200", "X-100", Verdict.CONFORM),
        ("X-200", "X-100", Verdict.NON_CONFORM),
        ("", "X-100", Verdict.INCOMPLETE),
        ("X-100", "", Verdict.INCOMPLETE),
    ],
)
def test_the_type_examination_certificate_covers_the_exact_model_offered(
    catalogue, certificate_model, offered, verdict
):
    ffp2 = catalogue[(EN149, "FFP2")]
    evidence = [
        good_evidence(item.kind, model=certificate_model) if item.kind == Kind.TYPE_EXAMINATION else item
        for item in full_evidence(ffp2, model=offered)
    ]
    assessment = run(ffp2, evidence=evidence, model_reference=offered)
    assert assessment.verdict == verdict


def test_a_type_examination_from_a_body_unknown_to_the_reference_must_be_checked_in_nando(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    unknown = good_evidence(Kind.TYPE_EXAMINATION, notified_body=None, issuer="Nordic Cert Oy")
    evidence = [unknown if item.kind == Kind.TYPE_EXAMINATION else item for item in full_evidence(ffp2)]
    assessment = run(ffp2, evidence=evidence)
    assert assessment.verdict == Verdict.INCOMPLETE
    assert codes(assessment) == ["issuer_unknown_type_exam"]


def test_the_issuer_is_found_by_its_name_or_alias_whatever_the_accents_and_case(bodies):
    assert bodies.by_name("TUV SUD PRODUCT SERVICE") is MD_BODY
    assert bodies.by_name("tüv süd product service gmbh") is MD_BODY
    assert bodies.by_name("ECM Ente Certificazione Macchine S.r.l.") is MACHINERY_BODY
    assert bodies.by_name("Certificat ECM n° 0451") is MACHINERY_BODY
    assert bodies.by_name("icr polska") is ICR_POLSKA
    assert bodies.by_name("2163") is PPE_BODY
    assert bodies.by_name("Laboratoire d'essais Provence") is None
    assert bodies.by_name("") is None
    assert bodies.by_number("0123") is MD_BODY
    assert bodies.by_number("0000") is None


def test_a_declaration_on_a_test_laboratorys_letterhead_makes_the_offer_non_conform(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    lab_declaration = good_evidence(Kind.DECLARATION, issuer="Shanghai Testing Lab", by_manufacturer=False)
    evidence = [lab_declaration if item.kind == Kind.DECLARATION else item for item in full_evidence(ffp2)]
    with translation.override("en"):
        assessment = run(ffp2, evidence=evidence)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert codes(assessment, "danger") == ["declaration_not_by_manufacturer"]
    assert "letterhead of Shanghai Testing Lab" in reasons(assessment)


def test_a_document_for_another_model_is_caught(catalogue):
    iir = catalogue[(EN14683, "Type IIR")]
    evidence = [
        good_evidence(item.kind, model="MM-3 PLY") if item.kind == Kind.TEST_REPORT else item
        for item in full_evidence(iir)
    ]
    assessment = run(iir, evidence=evidence)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert codes(assessment, "danger") == ["model_mismatch_test_report"]


def test_each_missing_piece_of_evidence_is_named(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    with translation.override("en"):
        assessment = run(ffp2, evidence=[good_evidence(Kind.DECLARATION)])
    assert assessment.verdict == Verdict.INCOMPLETE
    assert codes(assessment) == [
        "evidence_missing_type_exam",
        "evidence_missing_production",
        "evidence_missing_test_report",
    ]
    assert "Missing: EU type-examination certificate (module B), required for FFP2" in reasons(assessment)
    iir = run(
        catalogue[(EN14683, "Type IIR")], evidence=[good_evidence(Kind.DECLARATION), good_evidence("test_report")]
    )
    assert codes(iir) == ["evidence_missing_bioburden"]


def test_without_a_claimed_class_the_check_is_incomplete_but_a_voluntary_certificate_still_shows():
    check = ConformityCheck(norm_class=None, model_reference=MODEL)
    assessment = run(None, check=check, evidence=[])
    assert assessment.verdict == Verdict.INCOMPLETE
    assert codes(assessment) == ["no_class"]
    voluntary = ConformityEvidence(kind=Kind.OTHER_CERTIFICATE, issuer="CELAB", number="CE-CELAB-1")
    assert run(None, check=check, evidence=[voluntary]).verdict == Verdict.NON_CONFORM


def test_findings_serialise_for_the_check_row(catalogue):
    assessment = run(catalogue[(EN149, "FFP2")], filtration=Decimal("90"))
    assert assessment.findings[0].as_dict() == {
        "code": "filtration_out_of_range",
        "reason": assessment.findings[0].reason,
        "level": "danger",
    }


def test_the_engine_reads_saved_rows_without_querying_the_database(db, django_assert_num_queries):
    """As the services call it: the class chosen in a form, bodies from the table, evidence naming a body by id."""
    body, _created = NotifiedBody.objects.update_or_create(
        number="2163", defaults={"name": PPE_BODY.name, "legislations": [Legislation.PPE], "aliases": []}
    )
    ffp2 = NormClass.objects.select_related("norm").prefetch_related("requirements").get(norm__code=EN149, label="FFP2")
    index = BodyIndex(NotifiedBody.objects.all())
    evidence = [
        ConformityEvidence(**vars_of(item), notified_body_id=body.pk if item.kind in conformity.CERTIFICATES else None)
        for item in full_evidence(ffp2)
    ]
    with django_assert_num_queries(0):
        assessment = assess(
            check=make_check(ffp2),
            evidence=evidence,
            requirements=requirements_of(ffp2),
            product=Product.FFP2,
            day=DAY,
            bodies=index,
        )
    assert assessment.verdict == Verdict.CONFORM


def vars_of(evidence):
    """The plain field values of an unsaved evidence row, without the cached body (so that only its id is set)."""
    fields = ("kind", "issuer", "number", "model_reference", "issued_on", "expires_on", "by_manufacturer")
    return {name: getattr(evidence, name) for name in fields}


# --- properties -------------------------------------------------------------------------------------------------
# The strategies lean towards genuine claims and evidence (half the draws), so that conform, incomplete and
# non-conform verdicts all occur; the forged evidence covers every kind, issuer, body, model and date.
DAYS = st.dates(min_value=date(2019, 1, 1), max_value=date(2027, 12, 31))
MEASURES = st.none() | st.decimals(min_value=0, max_value=120, places=1)
CE_NUMBERS = st.sampled_from(["", "2163", "216", "1282", "0123", "9999", "CE 2163"])
ISSUERS = st.sampled_from(["", "Shenzhen Safe Masks", "Laboratoire d'essais Provence", "ICR Polska", "ECM", "CELAB"])
MODELS = st.sampled_from(["", MODEL, "x 100", "X-200"])


@st.composite
def forged_evidence(draw):
    """Any piece of evidence, genuine or not."""
    return ConformityEvidence(
        kind=draw(st.sampled_from(EvidenceKind.values)),
        issuer=draw(ISSUERS),
        notified_body=draw(st.none() | st.sampled_from(BODIES)),
        number=draw(st.sampled_from(["", "2163-PPE-1", "ICR-118"])),
        model_reference=draw(MODELS),
        issued_on=draw(st.none() | DAYS),
        expires_on=draw(st.none() | DAYS),
        by_manufacturer=draw(st.booleans()),
    )


@st.composite
def claims(draw, catalogue):
    """A class of the catalogue, a check claiming it, the product needed and the day of the check."""
    norm_class = catalogue[draw(st.sampled_from(sorted(catalogue)))]
    genuine = passing_values(norm_class)
    measures = {t.field: draw(st.just(genuine.get(t.field)) | MEASURES) for t in conformity.THRESHOLDS}
    check = ConformityCheck(
        norm_class=norm_class,
        model_reference=draw(st.just(MODEL) | MODELS),
        ce_number=draw(st.just("2163") | CE_NUMBERS),
        **measures,
    )
    product = draw(st.just(norm_class.product) | st.sampled_from(Product.values))
    return norm_class, check, product, draw(st.just(DAY) | DAYS)


@st.composite
def evidence_lists(draw, kinds, day, *, min_size=0):
    """Genuine evidence of some of `kinds`, and a few forged pieces of the same kinds."""
    genuine = [good_evidence(kind, day=day) for kind in draw(st.lists(st.sampled_from(kinds), unique=True))]
    forged = draw(st.lists(forged_evidence().filter(lambda item: item.kind in kinds), max_size=2))
    evidence = draw(st.permutations(genuine + forged))
    if len(evidence) < min_size:
        evidence.append(good_evidence(draw(st.sampled_from(kinds)), day=day))
    return evidence


def assess_claim(claim, evidence):
    norm_class, check, product, day = claim
    return assess(
        check=check,
        evidence=evidence,
        requirements=requirements_of(norm_class),
        product=product,
        day=day,
        bodies=BodyIndex(BODIES),
    )


PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_claim_missing_a_mandatory_piece_of_evidence_is_ever_conform(catalogue, data):
    claim = data.draw(claims(catalogue))
    norm_class, _check, _product, day = claim
    missing = data.draw(st.sampled_from(requirements_of(norm_class)))
    # Anything else at all, genuine or forged, as long as no piece is of the missing kind.
    others = [kind for kind in EvidenceKind.values if kind != missing]
    assessment = assess_claim(claim, data.draw(evidence_lists(others, day)))
    event(f"verdict: {assessment.verdict}")
    assert assessment.verdict in (Verdict.NON_CONFORM, Verdict.INCOMPLETE)
    assert not assessment.passes
    assert assessment.derogation_reference == ""


@PROPERTY_SETTINGS
@given(data=st.data())
def test_adding_evidence_never_clears_a_red_flag(catalogue, data):
    """Evidence can fill a gap, never excuse a fault: every danger found stays, so a non-conform check stays
    non-conform whatever is added to it."""
    claim = data.draw(claims(catalogue))
    day = claim[3]
    before_items = data.draw(evidence_lists(EvidenceKind.values, day))
    added = data.draw(evidence_lists(EvidenceKind.values, day, min_size=1))
    before, after = assess_claim(claim, before_items), assess_claim(claim, before_items + added)
    event(f"verdict: {before.verdict} → {after.verdict}")
    dangers = {finding for finding in before.findings if finding.level == "danger"}
    assert dangers <= set(after.findings)
    if before.verdict == Verdict.NON_CONFORM:
        assert after.verdict == Verdict.NON_CONFORM


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_passing_verdict_means_no_reason_against_it_and_every_figure_within_limits(catalogue, data):
    claim = data.draw(claims(catalogue))
    norm_class, check, product, day = claim
    kinds = requirements_of(norm_class) if data.draw(st.booleans()) else EvidenceKind.values
    evidence = data.draw(evidence_lists(kinds, day))
    assessment = assess_claim(claim, evidence)
    event(f"verdict: {assessment.verdict}")
    levels = {finding.level for finding in assessment.findings}
    assert assessment.passes == (levels <= {"info"})
    if assessment.passes:
        assert set(requirements_of(norm_class)) <= {item.kind for item in evidence}
        for threshold in conformity.THRESHOLDS:
            limit = getattr(norm_class, threshold.limit)
            if limit is not None:
                assert conformity.within(threshold.comparison, getattr(check, threshold.field), limit)
        assert (assessment.verdict == Verdict.DEROGATION) == norm_class.is_derogation
        assert norm_class.accepted_on(day)
        assert bool(assessment.derogation_reference) == norm_class.is_derogation


# --- imitations and ended notifications -------------------------------------------------------------------------
def with_type_exam(norm_class, **fields):
    evidence = [item for item in full_evidence(norm_class) if item.kind != Kind.TYPE_EXAMINATION]
    return evidence + [good_evidence(Kind.TYPE_EXAMINATION, **fields)]


def test_a_name_that_only_contains_a_notified_bodys_name_is_an_imitation(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    imitation = with_type_exam(
        ffp2, notified_body=None, issuer="Universal Certification and Surveillance Services Ltd HK"
    )
    assessment = run(ffp2, evidence=imitation)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert "issuer_lookalike" in codes(assessment, "danger")
    genuine = with_type_exam(ffp2, notified_body=None, issuer="Universal Certification and Surveillance Services")
    assert run(ffp2, evidence=genuine).verdict == Verdict.CONFORM


def test_the_body_chosen_in_the_list_must_be_the_one_printed(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    evidence = with_type_exam(ffp2, notified_body=PPE_BODY, issuer="ICR Polska Sp. z o.o.")
    assessment = run(ffp2, evidence=evidence)
    assert assessment.verdict == Verdict.NON_CONFORM
    assert "issuer_mismatch" in codes(assessment, "danger")


def test_a_body_whose_notification_ended_no_longer_counts(catalogue):
    ffp2 = catalogue[(EN149, "FFP2")]
    ended = NotifiedBody(
        pk=9, number="0086", name="BSI Assurance UK Ltd", legislations=["ppe", "md"], notified_until=date(2020, 12, 31)
    )
    index = BodyIndex([*BODIES, ended])
    evidence = [good_evidence(kind, notified_body=ended) for kind in requirements_of(ffp2)]
    in_2020 = run(ffp2, evidence=evidence, bodies=index, ce_number="0086", day=date(2020, 6, 1))
    assert in_2020.verdict == Verdict.CONFORM
    later = run(ffp2, evidence=evidence, bodies=index, ce_number="0086", day=date(2021, 6, 1))
    assert later.verdict == Verdict.NON_CONFORM
    assert {"ce_body_notification_ended", "issuer_notification_ended"} <= set(codes(later, "danger"))
