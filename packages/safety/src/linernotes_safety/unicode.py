"""Unicode tricks: invisible characters and look-alike letters from another script."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, Fact, FactPack, Verdict
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.text import tokens

from .screening import INVISIBLE, strip_invisible


class UnicodeTricks:
    """Blocks drafts with invisible characters or mixed-script look-alike words.

    Zero-width and bidi-control characters can hide a word from a filter
    ("f\\u200buck"); a Cyrillic "а" inside a Latin word can dress up a name the
    catalog does not hold ("Rаdiohead"). Words whose letters all come from one
    script (Björk, Кровосток), mixes that cannot pass for Latin (宇多田ヒカル) and the
    catalog's own words are fine. ``screen`` removes invisible characters
    from facts, noting each fact it changed.
    """

    name: ClassVar[str] = "unicode"

    def fit(self, catalog: Catalog) -> None:
        """Learn the catalog's own words: a real name ("HINOIチーム") is no trick."""
        self.known = cached("unicode", catalog, {}, lambda: _words(catalog))

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        verdicts = []
        for draft in drafts:
            text = draft.text
            verdict = Verdict(self.name, "pass")
            for i, c in enumerate(text):
                if c in INVISIBLE:
                    verdict.reasons.append(f"unicode_invisible: U+{ord(c):04X}")
                    verdict.spans.append((i, i + 1))
            for _, start, end in tokens(text):
                word = text[start:end]
                if not word.isascii() and word not in self.known and _dangerous(word):
                    verdict.reasons.append(f"unicode_homoglyph: {word!r}")
                    verdict.spans.append((start, end))
            if verdict.reasons:
                verdict.action = "block"
            verdicts.append(verdict)
        return verdicts

    def screen(self, packs: Sequence[FactPack]) -> list[FactPack]:
        """Remove invisible characters from every fact."""
        out = []
        for pack in packs:
            facts, notes = [], []
            for fact in pack.facts:
                clean = _clean(fact)
                if clean != fact:
                    notes.append(f"{self.name}: removed invisible characters from fact {fact.id}")
                facts.append(clean)
            out.append(dataclasses.replace(pack, facts=facts, notes=[*pack.notes, *notes]))
        return out


def _clean(fact: Fact) -> Fact:
    values = {k: strip_invisible(v) if isinstance(v, str) else v for k, v in fact.values.items()}
    return dataclasses.replace(fact, text=strip_invisible(fact.text), values=values)


def _dangerous(word: str) -> bool:
    """Whether ``word`` mixes scripts to pass for Latin (the tables load on first use)."""
    from confusable_homoglyphs import confusables

    return bool(confusables.is_dangerous(word, preferred_aliases=["latin"]))


def _words(catalog: Catalog) -> set[str]:
    """Every word of the catalog's artist names, as written."""
    return {text[s:e] for text in catalog.items["name"].to_list() for _, s, e in tokens(text)}
