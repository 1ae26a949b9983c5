"""Shared pieces of the filters that also screen facts before generation."""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable, Sequence

from linernotes import Fact, FactPack
from linernotes.types import CITATION

# Characters that render as nothing or reorder text: zero-width, joiners, bidi controls.
INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters."""
    return "".join(c for c in text if c not in INVISIBLE)


def visible(text: str) -> str:
    """``text`` in NFKC form without invisible characters: what a reader actually sees."""
    return unicodedata.normalize("NFKC", strip_invisible(text))


def fact_text(fact: Fact) -> str:
    """A fact's sentence and string values, as one text to screen."""
    strings = [v for v in fact.values.values() if isinstance(v, str)]
    return " ".join([fact.text, *strings])


def drop_facts(
    packs: Sequence[FactPack], name: str, problem: Callable[[Fact, FactPack], str | None]
) -> list[FactPack]:
    """Copies of ``packs`` without the facts for which ``problem(fact, pack)`` names a problem.

    Each dropped fact leaves a note on its pack (the pipeline copies notes into the trace).
    """
    out = []
    for pack in packs:
        kept, notes = [], []
        for fact in pack.facts:
            found = problem(fact, pack)
            if found is None:
                kept.append(fact)
            else:
                notes.append(f"{name}: dropped fact {fact.id} ({found})")
        out.append(dataclasses.replace(pack, facts=kept, notes=[*pack.notes, *notes]))
    return out


def mask_names(text: str, pack: FactPack) -> str:
    """``text`` with the picks' and history's names and the citations blanked out.

    Offsets stay as they were. A band is called what it is called ("Kill Yourself",
    "Howstuffworks.com"): the listener sees the name among the picks anyway, so
    only the words around it count.
    """
    names = _names_pattern(frozenset(pack.allowed_names()))
    if names is not None:
        text = names.sub(_blank, text)
    return CITATION.sub(_blank, text)


@functools.lru_cache(maxsize=1024)
def _names_pattern(names: frozenset[str]) -> re.Pattern | None:
    """One pattern matching any of ``names`` as whole words, longest first (None: no names)."""
    if not names:
        return None
    longest_first = sorted(names, key=lambda name: (-len(name), name))
    alternatives = "|".join(re.escape(name) for name in longest_first)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _blank(match: re.Match) -> str:
    return "_" * len(match.group())
