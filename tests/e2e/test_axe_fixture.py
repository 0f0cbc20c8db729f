"""The accessibility check itself fails when it should: a fixture page with a field left without its label, or
with text too pale to read, makes `axe_check` fail naming the WCAG rule broken; the same page whole passes.
Without this, a check that never fails (a wrong tag list, axe not injected) would pass every journey."""

import pytest

pytestmark = pytest.mark.urls("tests.e2e.axe_urls")


def test_axe_check_fails_on_a_missing_label_or_a_low_contrast(page, live_server, axe_check):
    url = f"{live_server.url}/temoin-axe/"

    page.goto(url)
    results = axe_check(page)
    assert results.response["passes"]  # axe really ran: the rules below were evaluated and passed
    assert {"label", "color-contrast"} <= {rule["id"] for rule in results.response["passes"]}

    page.goto(f"{url}?defect=label")
    with pytest.raises(AssertionError) as failure:
        axe_check(page)
    assert "label (critical)" in str(failure.value)
    assert "#reference" in str(failure.value)  # and says which element

    page.goto(f"{url}?defect=contrast")
    with pytest.raises(AssertionError) as failure:
        axe_check(page)
    assert "color-contrast (serious)" in str(failure.value)
    assert "label (" not in str(failure.value)  # only the defect introduced
