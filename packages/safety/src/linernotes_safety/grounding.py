"""The grounding verifier: a story may only name what it may name and state what it cites."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, FactPack, Verdict
from linernotes.catalog import Catalog
from linernotes.text import (
    FUNCTION_WORDS,
    NameMatch,
    NameMatcher,
    name_key,
    numbers,
    sentences,
    tokens,
)

_CITE = re.compile(r"\[(\d+)\]")


class Grounding:
    """Blocks a draft unless every citation, artist name and number in it is supported.

    - Citations: every ``[n]`` must point to a fact of the pack (and, with
      ``require_citations``, a story must cite at least one).
    - Names: every catalog artist named (matched against all catalog names,
      ignoring case and accents) must be a pick or in the listener's history;
      words quoted from a cited fact's values (a tag such as "k-pop") are no name.
    - Numbers: every number (outside a name such as "Blink-182") must be a value
      of a fact cited in the same sentence.
    """

    name: ClassVar[str] = "grounding"

    def __init__(self, require_citations: bool = True):
        self.require_citations = require_citations
        self.matcher: NameMatcher | None = None

    def fit(self, catalog: Catalog) -> None:
        self.matcher = NameMatcher(catalog.items["name"].to_list())

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        if self.matcher is None:
            raise RuntimeError("call fit(catalog) before check()")
        return [self._check(d, p) for d, p in zip(drafts, packs, strict=True)]

    def _check(self, draft: Draft, pack: FactPack) -> Verdict:
        text = draft.text
        reasons: list[str] = []
        spans: list[tuple[int, int]] = []

        def flag(reason: str, start: int, end: int) -> None:
            reasons.append(reason)
            spans.append((start, end))

        for m in _CITE.finditer(text):
            if pack.fact(int(m.group(1))) is None:
                flag(f"citation {m.group()} points to no fact", m.start(), m.end())
        if self.require_citations and text.strip() and not _CITE.search(text):
            flag("the story cites no fact", 0, len(text))
        allowed = {name_key(n) for n in pack.allowed_names()}
        bare_text = _CITE.sub(lambda m: " " * len(m.group()), text)
        names = self.matcher.find(bare_text)
        # a name's own full stop ("T.I.", "Harry Connick, Jr.") does not end a sentence
        name_spans = [(m.start, m.end + (text[m.end : m.end + 1] == ".")) for m in names]
        for sentence, offset in sentences(text, keep=name_spans):
            cited = [f for n in _CITE.findall(sentence) if (f := pack.fact(int(n))) is not None]
            end = offset + len(sentence)
            # words quoted from a cited fact ("the k-pop tag") are not artist names
            quoted = [
                (offset + m.start(), offset + m.end())
                for f in cited
                for v in f.values.values()
                if isinstance(v, str) and v.strip()
                for m in re.finditer(re.escape(v), sentence, re.IGNORECASE)
            ]
            for match in names:
                inside = offset <= match.start < end
                if (
                    inside
                    and name_key(match.name) not in allowed
                    and not _quoted(text, match, quoted)
                ):
                    flag(f"unsupported name {match.name!r}", match.start, match.end)
            supported = {v for f in cited for v in _numbers_of(f.values)}
            bare = bare_text[offset:end]
            for value, start, stop in numbers(bare):
                a, b = offset + start, offset + stop
                in_name = any(s <= a and b <= e for s, e in name_spans)
                if not in_name and value not in supported:
                    flag(f"unsupported number {bare[start:stop]}", a, b)
        return Verdict(self.name, "block" if reasons else "pass", reasons, spans)


def _quoted(text: str, match: NameMatch, quoted: list[tuple[int, int]]) -> bool:
    """Whether a name match is words of a cited fact plus function words ("the k-pop")."""
    if not any(a < match.end and match.start < b for a, b in quoted):
        return False
    rest = [
        t
        for t, s, e in tokens(text[match.start : match.end])
        if not any(a <= match.start + s and match.start + e <= b for a, b in quoted)
    ]
    return all(t in FUNCTION_WORDS for t in rest)


def _numbers_of(values: dict) -> set[float]:
    out: set[float] = set()
    for v in values.values():
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            out.add(float(v))
        elif isinstance(v, str):
            out.update(n for n, _, _ in numbers(v))
    return out
