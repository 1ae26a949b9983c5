"""Post-hoc citation: code, not the model, attaches each sentence's ``[n]``.

A small model cannot keep fact numbers straight, so a generator lets it write
plain sentences and :class:`Citer` aligns each one to the facts of the pack
that support what it states: every artist name, every number (in digits or
words) and every tag word. The sentence then cites the fewest facts that cover
all of it, preferring the facts it was asked to tell. Whatever no fact
supports is returned as a problem, so the generator can re-sample the
sentence instead of shipping it (the grounding verifier checks it again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .catalog import Catalog
from .text import NameMatch, NameMatcher, name_key, normalize, number_words, numbers, tokens
from .types import Fact, FactPack

_END = re.compile(r"[.!?…]*[\"'’”)]*\s*$")
NAME_KEYS = ("name", "artist")  # fact values that name an artist


@dataclass
class Alignment:
    """A sentence with its citations attached, the facts cited and what nothing supports."""

    text: str
    facts: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Citer:
    """Aligns plain sentences to the facts that support them (fit once on a catalog)."""

    def __init__(self, catalog: Catalog):
        self.names = NameMatcher(catalog.items["name"].to_list())
        self.tags = NameMatcher(catalog.item_tags["tag"].unique().to_list(), any_case=True)
        self.item_names = dict(catalog.items.select("item_id", "name").iter_rows())

    def align(self, sentence: str, pack: FactPack, prefer: Sequence[int] = ()) -> Alignment:
        """Cite ``sentence`` (no ``[n]`` in it yet) with the facts of ``pack`` that support it."""
        sentence = " ".join(sentence.split())
        names = self.names.find(sentence)
        claims, problems = self._claims(sentence, pack, names)
        # a sentence may cite only facts about (or naming) an artist it names
        named = {name_key(m.name) for m in names}
        numbered = [
            (n, f)
            for n, f in enumerate(pack.facts, start=1)
            if named & {name_key(s) for s in _names_in(f, self.item_names)}
        ]
        support = [{n for n, f in numbered if covers(f)} for _, covers in claims]
        problems += [what for (what, _), s in zip(claims, support, strict=True) if not s]
        chosen: list[int] = []
        open_ = [s for s in support if s]
        while open_:  # greedy set cover: planned facts first, then the one covering most
            pick = max((n for n, _ in numbered), key=lambda m, o=open_: _gain(m, o, prefer))
            chosen.append(pick)
            open_ = [s for s in open_ if pick not in s]
        chosen.sort()
        marks = " ".join(f"[{n}]" for n in chosen)
        end = _END.search(sentence).start()
        text = f"{sentence[:end]} {marks}{sentence[end:]}" if marks else sentence
        return Alignment(text, chosen, problems)

    def _claims(self, sentence: str, pack: FactPack, names: list[NameMatch]):
        """The sentence's claims as ``(description, supports)`` and the names it may not name."""
        allowed = {name_key(n) for n in pack.allowed_names()}
        spans = [(m.start, m.end) for m in names]
        claims = []
        problems = []
        for m in names:
            key = name_key(m.name)
            surface = normalize(sentence[m.start : m.end])
            if key not in allowed and not any(surface in _tag_values(f) for f in pack.facts):
                problems.append(f"unsupported_name: {m.name!r}")
                continue
            claims.append((f"name {m.name!r}", _mentions(key, surface, self.item_names)))
        found = numbers(sentence) + number_words(sentence)
        for value, a, b in found:
            if not any(s <= a and b <= e for s, e in spans):
                claims.append((f"number {sentence[a:b]!r}", _states_number(value)))
        context = normalize(pack.context.words())
        for m in self.tags.find(sentence):
            if any(s <= m.start and m.end <= e for s, e in spans):
                continue
            tag = normalize(m.name)
            if not has_phrase(context, tag):
                claims.append((f"tag {m.name!r}", lambda f, t=tag: _has_tag(f, t)))
        return claims, problems


def _gain(m: int, open_: list[set[int]], prefer: Sequence[int]) -> tuple[bool, bool, int, int]:
    covered = sum(m in s for s in open_)
    return covered > 0, m in prefer, covered, -m


def _names_in(fact: Fact, item_names: dict[str, str]) -> list[str]:
    """The artists a fact is about or names."""
    strings = [v for k, v in fact.values.items() if k in NAME_KEYS and isinstance(v, str)]
    return [*strings, item_names.get(fact.item_id, "")]


def _mentions(key, surface, item_names):
    def covers(fact: Fact) -> bool:
        names = {name_key(s) for s in _names_in(fact, item_names)}
        return key in names or surface in _tag_values(fact)

    return covers


def _has_tag(fact: Fact, tag: str) -> bool:
    return any(has_phrase(v, tag) for v in _tag_values(fact))


def _tag_values(fact: Fact) -> set[str]:
    return {
        normalize(v)
        for k, v in fact.values.items()
        if k not in NAME_KEYS and isinstance(v, str) and v.strip()
    }


def _states_number(value: float):
    return lambda fact: value in fact_numbers(fact)


def fact_numbers(fact: Fact) -> set[float]:
    """Every number a fact's values state (numbers inside strings included)."""
    out: set[float] = set()
    for v in fact.values.values():
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            out.add(float(v))
        elif isinstance(v, str):
            out.update(n for n, _, _ in numbers(v))
    return out


def has_phrase(text: str, phrase: str) -> bool:
    """Whether normalised ``text`` contains ``phrase`` as whole words."""
    words = [t for t, _, _ in tokens(phrase)]
    pattern = r"\W+".join(re.escape(w) for w in words)
    return bool(words) and re.search(rf"(?<!\w){pattern}(?!\w)", text) is not None
