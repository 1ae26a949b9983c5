"""Personal data: no email, phone number, URL, handle or listener id ever reaches a story."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, FactPack, Verdict
from linernotes.catalog import Catalog

from .screening import drop_facts, fact_text, mask_names, visible

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(
    r"\b(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|fm|ly|me)"
    r"(?:/\S*)?\b",
    re.IGNORECASE,
)
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z_]\w{1,30}\b")
LONG_DIGITS = re.compile(r"(?<![\w,.])\+?\d(?:[\s().-]?\d){8,}(?![\w,])")
ID_CONTEXT = re.compile(
    r"\b(?:user|listener|friend|member|profile|account|uid|id)\s*(?:id)?\s*"
    r"(?:#|no\.?|number|:)?\s*(\d+)\b",
    re.IGNORECASE,
)
ACTIONS = ("block", "redact")


class PersonalData:
    """Finds emails, phone numbers, URLs, social handles and listener or friend ids.

    Phone numbers are found by Google's libphonenumber (``phonenumbers``) for the
    ``regions`` given, plus any run of nine or more digits. An id counts when it
    follows a word such as "user", "listener" or "friend" and is the listener's
    own id or one of their friends'. ``action`` is ``block`` or ``redact`` (each
    span becomes ``[removed]``). Citations and the picks' and history's names are
    blanked out first ("Howstuffworks.com" is an artist here). ``screen`` drops
    facts holding any of these.
    """

    name: ClassVar[str] = "pii"

    def __init__(self, action: str = "block", regions: list[str] | None = None):
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        self.action = action
        self.regions = list(regions) if regions is not None else ["US", "GB", "DE", "FR"]
        self.catalog: Catalog | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        verdicts = []
        for draft, pack in zip(drafts, packs, strict=True):
            found = self._find(mask_names(draft.text, pack), pack)
            verdict = Verdict(self.name, "pass")
            if found:
                verdict.action = self.action
                verdict.reasons = [f"{code}: {draft.text[a:b]!r}" for code, a, b in found]
                verdict.spans = [(a, b) for _, a, b in found]
                if self.action == "redact":
                    verdict.text = _redact(draft.text, verdict.spans)
            verdicts.append(verdict)
        return verdicts

    def screen(self, packs: Sequence[FactPack]) -> list[FactPack]:
        """Drop facts that hold personal data."""
        return drop_facts(
            packs,
            self.name,
            lambda fact, pack: next(
                (c for c, _, _ in self._find(mask_names(fact_text(fact), pack), pack)), None
            ),
        )

    def _find(self, text: str, pack: FactPack) -> list[tuple[str, int, int]]:
        text = visible(text)
        found = list(_contacts(text, tuple(self.regions)))
        private = self._ids(pack)
        found += [
            ("pii_listener_id", m.start(), m.end())
            for m in ID_CONTEXT.finditer(text)
            if m.group(1) in private
        ]
        return _disjoint(found)

    def _ids(self, pack: FactPack) -> set[str]:
        if pack.listener_id is None:
            return set()
        friends = self.catalog.friends(pack.listener_id) if self.catalog else []
        return {pack.listener_id, *friends}


def _disjoint(found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Spans sorted by start, dropping any inside an earlier one (an email's domain)."""
    out: list[tuple[str, int, int]] = []
    for code, a, b in sorted(found, key=lambda f: (f[1], -f[2])):
        if not out or a >= out[-1][2]:
            out.append((code, a, b))
    return out


def _redact(text: str, spans: list[tuple[int, int]]) -> str:
    for a, b in sorted(spans, reverse=True):
        text = text[:a] + "[removed]" + text[b:]
    return text


@functools.lru_cache(maxsize=1 << 14)
def _contacts(text: str, regions: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """E-mail addresses, URLs, handles and phone numbers in ``text`` (cached: the same fact
    texts come back in many packs)."""
    import phonenumbers

    found = [("pii_email", m.start(), m.end()) for m in EMAIL.finditer(text)]
    found += [("pii_url", m.start(), m.end()) for m in URL.finditer(text)]
    found += [("pii_handle", m.start(), m.end()) for m in HANDLE.finditer(text)]
    for region in regions:
        found += [
            ("pii_phone", m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region)
        ]
    found += [("pii_phone", m.start(), m.end()) for m in LONG_DIGITS.finditer(text)]
    return tuple(found)
