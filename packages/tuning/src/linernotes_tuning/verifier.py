"""AI feedback: score a draft by grounding, safety and specificity, from the safety verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from linernotes import Draft, DraftReview
from linernotes.text import sentences


@dataclass(frozen=True)
class Judgment:
    """What the verifier thinks of one draft.

    ``supported`` is the share of the grounding filter's claims (names, numbers,
    tags, citations) that held; ``facts`` counts distinct shown facts cited;
    ``filler`` counts sentences that cite nothing.
    """

    grounded: bool
    safe: bool
    supported: float
    facts: int
    filler: int
    codes: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """Higher is better: grounded and safe first, then supported claims and specifics."""
        return (
            3.0 * self.grounded
            + 2.0 * self.supported
            + 0.25 * min(self.facts, 8)
            - 0.25 * self.filler
            - 5.0 * (not self.safe)
        )


def judge(review: DraftReview, shown: set[int]) -> Judgment:
    """Judge a reviewed draft; ``shown`` are the fact numbers its prompt showed."""
    grounding = [v for v in review.verdicts if v.filter == "grounding"]
    others = [v for v in review.verdicts if v.filter != "grounding"]
    claims = [c for v in grounding for c in v.claims]
    supported = sum(c.supported for c in claims) / len(claims) if claims else 0.0
    return Judgment(
        grounded=bool(grounding) and all(v.action != "block" for v in grounding),
        safe=all(v.action != "block" for v in others),
        supported=supported,
        facts=len(set(review.draft.citations) & shown),
        filler=_filler(review.draft),
        codes=tuple(sorted({c for v in review.verdicts for c in v.codes})),
    )


def _filler(draft: Draft) -> int:
    return sum(1 for s, _ in sentences(draft.text) if "[" not in s and s.strip())
