"""contracts.W001: WeasyPrint renders several times slower without Debian's libharfbuzz-subset0."""

import ctypes.util

from django.core import checks

from contracts.checks import harfbuzz_subset_check


def _w001():
    return [message for message in checks.run_checks() if message.id == "contracts.W001"]


def test_no_warning_when_libharfbuzz_subset_is_installed():
    assert ctypes.util.find_library("harfbuzz-subset"), "install the Debian package libharfbuzz-subset0"
    assert harfbuzz_subset_check(None) == []
    assert _w001() == []


def test_warning_when_libharfbuzz_subset_is_missing(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    [warning] = _w001()
    assert warning.level == checks.WARNING
    assert "libharfbuzz-subset0" in warning.hint
