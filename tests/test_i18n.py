"""French catalogue: complete, consistent with the committed .mo, and served by default.

The .po is parsed with a small reader below (no polib in the project); msgfmt checks what gettext itself checks.
"""

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")
_PLACEHOLDER = re.compile(r"%\([^)]+\)[sdif]|%[sdif]|\{[^{}]*\}")


def _msgfmt():
    path = shutil.which("msgfmt")
    if path is None:
        if os.environ.get("TANDEM_REQUIRE_SERVICES") == "1":
            pytest.fail("msgfmt (gettext) is missing but TANDEM_REQUIRE_SERVICES=1")
        pytest.skip("msgfmt (gettext) is not installed; set TANDEM_REQUIRE_SERVICES=1 to make it fail")
    return path


def _read_po(path: Path) -> list[dict]:
    """Entries of a .po file (obsolete "#~" entries dropped), each with its flags, msgid, msgstr or msgstr[n]."""
    entries, current, field = [], None, None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line or line.startswith("#~"):
            if current is not None and "msgid" in current:
                entries.append(current)
            current = None
            continue
        if current is None:
            current = {"flags": set()}
        if line.startswith("#,"):
            current["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[field] += ast.literal_eval(line)
        else:
            match = _KEYWORD.match(line)
            assert match, f"unexpected line in {path.name}: {raw!r}"
            keyword, index, value = match.groups()
            field = (int(index),) if index is not None else keyword
            current[field] = ast.literal_eval(value)
    return entries


def _po_catalog(entries: list[dict]) -> dict:
    """The catalogue the .mo should hold, keyed like gettext.GNUTranslations._catalog (fuzzy entries excluded)."""
    catalog = {}
    for entry in entries:
        if "fuzzy" in entry["flags"] and entry["msgid"]:
            continue
        key = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if "msgid_plural" in entry:
            for field, value in entry.items():
                if isinstance(field, tuple):
                    catalog[(key, field[0])] = value
        else:
            catalog[key] = entry["msgstr"]
    return catalog


def test_msgfmt_check_reports_every_message_translated():
    result = subprocess.run(  # noqa: S603
        [_msgfmt(), "--statistics", "--check", "-o", os.devnull, str(PO_FILE)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert re.search(r"\d+ translated messages?\.", report), report
    assert "fuzzy" not in report, report
    assert "untranslated" not in report, report


def test_po_has_no_fuzzy_nor_empty_entry_and_keeps_placeholders():
    entries = _read_po(PO_FILE)
    assert len(entries) > 1
    problems = []
    for entry in entries:
        if not entry["msgid"]:  # header
            assert "fuzzy" not in entry["flags"], "the header is still fuzzy"
            continue
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid']!r}")
        if "msgid_plural" in entry:
            pairs = [
                (entry["msgid"] if f == (0,) else entry["msgid_plural"], v)
                for f, v in entry.items()
                if isinstance(f, tuple)
            ]
            assert len(pairs) == 2, f"French has two plural forms: {entry['msgid']!r}"
        else:
            pairs = [(entry["msgid"], entry["msgstr"])]
        for source, translation in pairs:
            if not translation:
                problems.append(f"untranslated: {source!r}")
            elif sorted(_PLACEHOLDER.findall(source)) != sorted(_PLACEHOLDER.findall(translation)):
                problems.append(f"placeholders differ: {source!r} -> {translation!r}")
    assert not problems, "\n".join(problems)


def test_committed_mo_matches_the_po():
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected = _po_catalog(_read_po(PO_FILE))
    # msgfmt drops POT-Creation-Date, which makemessages bumps on every run anyway.
    for catalog in (compiled, expected):
        catalog[""] = re.sub(r"^POT-Creation-Date:.*\n", "", catalog.get("", ""), flags=re.MULTILINE)
    differences = sorted(
        str(key) for key in expected.keys() | compiled.keys() if expected.get(key) != compiled.get(key)
    )
    assert not differences, (
        "locale/fr/LC_MESSAGES/django.mo is out of date: run `manage.py compilemessages -l fr --ignore=.venv`\n"
        + "\n".join(differences)[:2000]
    )


@pytest.mark.django_db
def test_login_page_is_french_by_default(client):
    response = client.get("/comptes/connexion/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "<h1>Connexion</h1>" in html
    assert "Mot de passe" in html
    assert "Password" not in html
