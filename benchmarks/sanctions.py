"""Sanctions screening: one supplier name against a 20 000-entry list, target under 50 ms per name (issue 3).

A deterministic synthetic list (companies and persons, each with aliases) is loaded into the same matcher the
application uses (suppliers.sanctions.SanctionsMatcher), then N names are screened: half are listed names
written differently (case, accents, word order, legal form, one typo), half are unlisted names sharing common
words with the list. The baseline, measured on the same names in the same run, is what any screening costs at
least: normalising the name and looking it up in a dict of exact keys.

The "quality" line is a sanity check, not a budget: names are built from a small pool of syllables, so an
unlisted name is often a near-homonym of a listed one ("SUBRAZUKEL MINING" vs "BRAZUKEL MINING GMBH") and a few
are flagged as possible matches, which is what a jurist should then look at.
"""

import random
import statistics
import sys
import time

from suppliers.sanctions import ListedEntry, SanctionsMatcher, normalise

TARGET_MS = 50.0

SYLLABLES = (
    "ka lo mi ra to ve su na de ri bo zu fa ge ni po sha tri vo xen mar kel dor vin tas lum gor pel "
    "bra sto ten var mon zek lia dru fen hol"
).split()
SECTORS = (
    "TRADING|LOGISTICS|SHIPPING|INDUSTRIES|HOLDING|MEDICAL SUPPLIES|EQUIPMENT|ENERGY|MINING|IMPORT EXPORT|"
    "PETROLEUM|TECHNOLOGIES|CONSTRUCTION|NEGOCE|DISTRIBUTION|MARITIME|DEFENCE SYSTEMS|GENERAL TRADING"
).split("|")
LEGAL_FORMS = ["LLC", "LTD", "SARL", "JSC", "FZE", "GMBH", "SA", "CO., LTD.", ""]
FIRST_NAMES = (
    "Dmytro Ivan Sergei Arkadi Oleg Nikolai Pavel Yuri Andrei Viktor Samir Karim Nadia Olga Irina Elena "
    "Tatiana Youssef Omar Hassan Li Wei Kim Chol Jae Ahmad Reza Farid Leila Mariam"
).split()
PATRONYMICS = (
    "Ivanovych Sergeyevich Petrovich Nikolaevich Andreevna Viktorovna Olegovich Pavlovich Yurievich "
    "Mikhailovich Borisovna Alexandrovich"
).split()
SURNAME_ENDINGS = ["ENKO", "OV", "SKI", "IDI", "ANI", "EV", "IN", "UK", "AR"]
ACCENTS = str.maketrans({"e": "é", "a": "à", "o": "ô", "i": "ï", "u": "ü"})


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables)).upper()


def _company(rng: random.Random) -> tuple[str, list[str]]:
    head = f"{_word(rng, rng.randint(2, 3))} {_word(rng, 2)}" if rng.random() < 0.4 else _word(rng, rng.randint(2, 3))
    sector = rng.choice(SECTORS)
    name = f"{head} {sector} {rng.choice(LEGAL_FORMS)}".strip()
    initials = "".join(word[0] for word in f"{head} {sector}".split())
    aliases = [f"{initials} {rng.choice(['TRADING', 'GROUP', 'INTL', 'HOLDING'])}", f"{head} {sector[:4]} INTL"]
    return name, aliases[: rng.randint(1, 2)]


def _person(rng: random.Random) -> tuple[str, list[str]]:
    surname = _word(rng, 2) + rng.choice(SURNAME_ENDINGS)
    first, patronymic = rng.choice(FIRST_NAMES), rng.choice(PATRONYMICS)
    name = f"{surname} {first} {patronymic}"
    aliases = [f"{first} {patronymic} {surname}".replace("y", "i"), f"{surname} {first}"]
    return name, aliases[: rng.randint(1, 2)]


def synthetic_list(entries: int, *, seed: int) -> list[ListedEntry]:
    rng = random.Random(seed)
    listed = []
    for pk in range(1, entries + 1):
        name, aliases = _company(rng) if rng.random() < 0.6 else _person(rng)
        listed.append(ListedEntry(pk=pk, reference=f"SYN.{pk:05d}", names=[name, *aliases]))
    return listed


def _disguise(rng: random.Random, name: str) -> str:
    """The same name as a buyer would type it: other case, accents, word order, a legal form, maybe a typo."""
    words = name.split()
    rng.shuffle(words)
    text = " ".join(words).title()
    if rng.random() < 0.5:
        text = text.translate(ACCENTS)
    if rng.random() < 0.3:
        text += rng.choice([" SARL", " S.A.S.", " Ltd", ""])
    if rng.random() < 0.3:
        longest = max(range(len(text.split())), key=lambda i: len(text.split()[i]))
        parts = text.split()
        if len(parts[longest]) > 6:
            position = rng.randrange(1, len(parts[longest]) - 1)
            parts[longest] = parts[longest][:position] + parts[longest][position + 1 :]
        text = " ".join(parts)
    return text


def screened_names(listed: list[ListedEntry], count: int, *, seed: int) -> list[tuple[str, int | None]]:
    """(name, pk of the entry it should find, or None) — half listed names in disguise, half unlisted names."""
    rng = random.Random(seed + 1)
    names = []
    for index in range(count):
        if index % 2 == 0:
            entry = rng.choice(listed)
            names.append((_disguise(rng, rng.choice(entry.names)), entry.pk))
        else:
            # Unlisted: a new head word with the list's common words (sector, legal form), or a new person.
            if rng.random() < 0.6:
                names.append((f"{_word(rng, 4)} {rng.choice(SECTORS)} {rng.choice(LEGAL_FORMS)}".strip(), None))
            else:
                surname = _word(rng, 3) + rng.choice(SURNAME_ENDINGS)
                names.append((f"{rng.choice(FIRST_NAMES)} {surname}", None))
    return names


def _ms(seconds: list[float]) -> tuple[float, float]:
    values = sorted(s * 1000 for s in seconds)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return statistics.median(values), p95


def run(*, entries: int = 20_000, names: int = 200, seed: int = 20200320, out=None) -> dict:
    out = out or sys.stdout
    listed = synthetic_list(entries, seed=seed)
    started = time.perf_counter()
    for entry in listed:
        entry.keys.extend(normalise(name) for name in entry.names)  # as stored at import
    matcher = SanctionsMatcher(listed)
    build_s = time.perf_counter() - started
    exact = {key: entry.pk for entry in listed for key in entry.keys}
    queries = screened_names(listed, names, seed=seed)

    for name, _expected in queries[:10]:  # warm-up
        matcher.search(name)
    screening, baseline, found, false_alarms = [], [], 0, 0
    for name, expected in queries:
        started = time.perf_counter()
        matches = matcher.search(name)
        screening.append(time.perf_counter() - started)
        started = time.perf_counter()
        exact.get(normalise(name))
        baseline.append(time.perf_counter() - started)
        if expected is not None:
            found += any(match.entry == expected for match in matches)
        else:
            false_alarms += bool(matches)

    median, p95 = _ms(screening)
    base_median, base_p95 = _ms(baseline)
    hits = sum(1 for _name, expected in queries if expected is not None)
    figures = {
        "entries": entries,
        "keys": len(matcher),
        "names": len(queries),
        "build_ms": build_s * 1000,
        "median_ms": median,
        "p95_ms": p95,
        "baseline_median_ms": base_median,
        "baseline_p95_ms": base_p95,
        "ratio": median / base_median if base_median else float("inf"),
        "hits_found": found,
        "hits": hits,
        "false_alarms": false_alarms,
        "misses": len(queries) - hits,
        "ok": p95 < TARGET_MS,
    }
    verdict = "OK" if figures["ok"] else "FAILED"
    print(
        f"sanctions screening: {entries} entries ({figures['keys']} names), {len(queries)} names screened\n"
        f"  matcher built in {figures['build_ms']:.0f} ms (normalising every listed name)\n"
        f"  screening  : median {median:.2f} ms, p95 {p95:.2f} ms per name\n"
        f"  baseline   : median {base_median:.4f} ms, p95 {base_p95:.4f} ms (normalise + exact dict lookup)\n"
        f"  ratio      : screening / baseline = {figures['ratio']:.0f}x (median)\n"
        f"  quality    : {found}/{hits} disguised listed names found, {false_alarms}/{figures['misses']} "
        "unlisted names flagged\n"
        f"  verdict    : {verdict}: p95 {p95:.2f} ms vs target < {TARGET_MS:.0f} ms per name",
        file=out,
    )
    return figures
