"""Prompt injection: text in the data that tries to instruct the model is treated as data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, FactPack, Verdict
from linernotes.catalog import Catalog

from .screening import drop_facts, fact_text, visible

PATTERNS = {
    "override": r"\b(?:ignore|disregard|forget|override)\s+(?:(?:all|any|the|your|my|these|"
    r"those)\s+)?(?:(?:previous|prior|above|earlier|preceding|system|original)\s+)?"
    r"(?:instructions?|rules|prompts?|directions|guidelines|context)\b",
    "role": r"\b(?:you are now|from now on,? you|act as|pretend to be|roleplay as|"
    r"new instructions?:?|system prompt|developer mode|jailbreak|do anything now)\b",
    "markup": r"<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>|\[/?INST\]|"
    r"^\s*(?:system|assistant)\s*:|###\s*(?:instruction|system)",
    "exfiltration": r"\b(?:reveal|print|repeat|show)\b[^.!?]{0,20}\b(?:system prompt|your "
    r"instructions|hidden prompt)\b",
}
RULES = {code: re.compile(p, re.IGNORECASE | re.MULTILINE) for code, p in PATTERNS.items()}


class Injection:
    """Screens instruction-like text out of facts, and blocks drafts that carry it.

    ``screen`` drops every fact whose text or values try to instruct the model
    ("ignore previous instructions", chat-template markup, role play), so user
    tags and notes stay data; the trace records each dropped fact. ``check``
    blocks a draft that repeats such text, a sign that an injection got through.
    """

    name: ClassVar[str] = "injection"

    def fit(self, catalog: Catalog) -> None:
        """Nothing to fit: the rules are fixed."""

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        verdicts = []
        for draft in drafts:
            found = _find(draft.text)
            verdicts.append(
                Verdict(
                    self.name,
                    "block" if found else "pass",
                    [f"injection_{code}: {draft.text[a:b]!r}" for code, a, b in found],
                    [(a, b) for _, a, b in found],
                )
            )
        return verdicts

    def screen(self, packs: Sequence[FactPack]) -> list[FactPack]:
        """Drop facts with instruction-like text."""
        return drop_facts(
            packs,
            self.name,
            lambda fact, pack: next((f"injection_{c}" for c, _, _ in _find(fact_text(fact))), None),
        )


def _find(text: str) -> list[tuple[str, int, int]]:
    seen = visible(text)
    return [(code, m.start(), m.end()) for code, rule in RULES.items() for m in rule.finditer(seen)]
