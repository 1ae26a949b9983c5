"""Text helpers shared by catalog lookup, generators and verifiers.

Names are compared after :func:`normalize`: Unicode compatibility folding,
accents stripped, case folded, zero-width characters removed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_TOKEN = re.compile(r"\w+(?:['’]\w+)*")
_NUMBER = re.compile(
    r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])\d+(?:\.\d+)?(?![\w])"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LEADING_CITES = re.compile(r"^((?:\[\d+\]\s*)+)")


@functools.lru_cache(maxsize=1 << 16)
def normalize(text: str) -> str:
    """Fold ``text`` for comparison: NFKD, no accents, no zero-width characters, casefolded."""
    text = unicodedata.normalize("NFKD", text.translate(_ZERO_WIDTH))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold()


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Word tokens of ``text`` as ``(normalized token, start, end)`` with offsets into ``text``."""
    out = []
    for m in _TOKEN.finditer(text):
        out.append((normalize(m.group()).replace("’", "'"), m.start(), m.end()))
    return out


@functools.lru_cache(maxsize=1 << 16)
def name_key(name: str) -> tuple[str, ...]:
    """The token sequence a name is matched by."""
    return tuple(t for t, _, _ in tokens(normalize(name)))


def numbers(text: str) -> list[tuple[float, int, int]]:
    """Numbers written with digits in ``text`` (``1,234`` and ``3.5`` included), with spans."""
    return [(float(m.group().replace(",", "")), m.start(), m.end()) for m in _NUMBER.finditer(text)]


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {w: float(i) for i, w in enumerate(_UNITS.split())} | {
    "thirty": 30.0,
    "forty": 40.0,
    "fifty": 50.0,
    "sixty": 60.0,
    "seventy": 70.0,
    "eighty": 80.0,
    "ninety": 90.0,
    "hundred": 100.0,
    "thousand": 1000.0,
    "million": 1e6,
    "dozen": 12.0,
    "twice": 2.0,
}


def number_words(text: str) -> list[tuple[float, int, int]]:
    """Numbers written as words ("three", "a dozen", "twice") in ``text``, with spans."""
    return [(_NUMBER_WORDS[t], a, b) for t, a, b in tokens(text) if t in _NUMBER_WORDS]


def sentences(text: str, keep: Iterable[tuple[int, int]] = ()) -> list[tuple[str, int]]:
    """Split ``text`` into sentences with their start offsets.

    No split falls inside a ``keep`` span (such as a name like "B.B. King").
    A citation that opens a sentence (``... plays. [3] Next``) belongs to the
    sentence before it, as writers often put it there.
    """
    keep = list(keep)
    parts: list[tuple[str, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if any(a < m.start() <= b for a, b in keep):
            continue
        parts.append((text[pos : m.start()], pos))
        pos = m.end()
    parts.append((text[pos:], pos))
    merged: list[tuple[str, int]] = []
    for s, start in parts:
        lead = _LEADING_CITES.match(s)
        if lead and merged:
            prev, pstart = merged[-1]
            merged[-1] = (prev + " " + lead.group(1).strip(), pstart)
            s, start = s[lead.end() :], start + lead.end()
        if s.strip():
            merged.append((s, start))
    return merged


@dataclass(frozen=True)
class NameMatch:
    """A catalog name found in a text."""

    name: str
    start: int
    end: int


# Function words that are also one-word artist names ("And", "Then", "If"...): they
# only count as names where a sentence does not start with them.
FUNCTION_WORDS = frozenset(
    """
    a about above after again against all also an and another any as at back be because
    before below but by could did do does down during each even ever every few first for
    from further had has have he her here hers him his how i if in into is it its just last
    let like more most my next no nor not now of off on once one only or other our out over
    own same she so some still such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who why
    will with would yet you your
    """.split()  # noqa: SIM905
)


class NameMatcher:
    """Finds known names in text, longest match first, ignoring case and accents.

    A one-word name, or one made of function words and digits only ("And One",
    "The 88"), matches only where the text capitalises it, so ordinary words such
    as "love", "and one" or "the 88" are not taken for artists; one that starts
    with a function word ("And", "Then") does not match at the start of a
    sentence either. Names made only of digits ("3") are left to number checks.
    With ``any_case`` every phrase matches in any case (for tag vocabularies).
    """

    def __init__(self, names: Iterable[str], max_words: int = 8, any_case: bool = False):
        self.any_case = any_case
        self._names: dict[tuple[str, ...], str] = {}
        for name in names:
            key = name_key(name)
            if key and len(key) <= max_words and not (len(key) == 1 and key[0].isdigit()):
                self._names.setdefault(key, name)
        self._longest: dict[str, int] = {}  # first token -> the most words a name with it has
        for key in self._names:
            self._longest[key[0]] = max(self._longest.get(key[0], 0), len(key))

    def find(self, text: str) -> list[NameMatch]:
        """Every non-overlapping name occurrence in ``text``, left to right."""
        toks = tokens(text)
        found: list[NameMatch] = []
        i = 0
        while i < len(toks):
            for n in range(min(self._longest.get(toks[i][0], 0), len(toks) - i), 0, -1):
                key = tuple(t for t, _, _ in toks[i : i + n])
                name = self._names.get(key)
                if name is None:
                    continue
                start, end = toks[i][1], toks[i + n - 1][2]
                surface = text[start:end]
                if self._longer_overlap(toks, i, n):
                    continue
                common = not self.any_case and (
                    n == 1 or all(t in FUNCTION_WORDS or t.isdigit() for t in key)
                )
                if common and (
                    surface.islower()
                    or (key[0] in FUNCTION_WORDS and _starts_sentence(text, start))
                ):
                    continue
                found.append(NameMatch(name, start, end))
                i += n
                break
            else:
                i += 1
        return found

    def _longer_overlap(self, toks: list[tuple[str, int, int]], i: int, n: int) -> bool:
        """Whether a name starting inside tokens ``i..i+n`` runs past them ("Dead or Alive")."""
        for j in range(i + 1, i + n):
            for m in range(min(self._longest.get(toks[j][0], 0), len(toks) - j), i + n - j, -1):
                if tuple(t for t, _, _ in toks[j : j + m]) in self._names:
                    return True
        return False


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\n\"'“‘(")
    return not before or before[-1] in ".!?:;"
