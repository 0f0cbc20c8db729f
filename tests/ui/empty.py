"""Reading a page as a user does: the empty-state blocks it shows, the legal-rule help it carries."""

import re
from html import unescape
from html.parser import HTMLParser


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", unescape(text)).strip()


class _EmptyStates(HTMLParser):
    """Every element whose class holds "empty-state": its text and the links inside it."""

    VOID = {"br", "img", "input", "meta", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict] = []
        self._open: list[tuple[int, dict]] = []  # (depth where the block started, block)
        self._depth = 0
        self._link: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self._depth += 1
        attributes = dict(attrs)
        if "empty-state" in (attributes.get("class") or "").split():
            block = {"text": "", "links": []}
            self.blocks.append(block)
            self._open.append((self._depth, block))
        if tag == "a" and self._open:
            self._link = {"href": attributes.get("href", ""), "label": ""}

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if tag == "a" and self._link is not None:
            self._link["label"] = squash(self._link["label"])
            for _depth, block in self._open:
                block["links"].append((self._link["href"], self._link["label"]))
            self._link = None
        while self._open and self._open[-1][0] == self._depth:
            self._open.pop()
        self._depth -= 1

    def handle_data(self, data):
        for _depth, block in self._open:
            block["text"] += data
        if self._link is not None:
            self._link["label"] += data


def empty_states(html: str) -> list[dict]:
    parser = _EmptyStates()
    parser.feed(html)
    for block in parser.blocks:
        block["text"] = squash(block["text"])
    return parser.blocks
