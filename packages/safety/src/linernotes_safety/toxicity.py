"""Toxicity and profanity: a bundled classifier, a word list, and rules for threats and hate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Draft, FactPack, Verdict
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.text import sentences, tokens

from .screening import drop_facts, fact_text, mask_names, visible

# alt-profanity-check under-scores threats and hate, so these rules catch them.
THREATS = re.compile(
    r"\b(?:i|we|i'll|we'll|gonna)\b[^.!?]{0,20}\b(?:kill|murder|shoot|stab|hurt|beat up|"
    r"find you)\b|\bkill (?:yo)?urself\b|\b(?:you|they) (?:should|must|deserve to|will) die\b|"
    r"\bdeath to\b|\bi hope you die\b",
    re.IGNORECASE,
)
# Word parts that are offensive wherever they occur ("fanfuckingtastic", "slutcore"), and
# sexual terms; whole-word lists miss such compounds.
STEMS = {
    "profanity": re.compile(r"fuck|shit|cunt|bitch|nigg|faggot|whore|slut|retard", re.IGNORECASE),
    "sexual": re.compile(
        r"\bsex(?!tet|ton)\w*|\bporn\w*|\bhorny\b|\berotic\w*|\borgasm", re.IGNORECASE
    ),
}
HATE = re.compile(
    r"\b(?:all|those|these|the|filthy|dirty) (?:\w+ )?(?:jews|muslims|christians|gays|lesbians|"
    r"immigrants|blacks|whites|asians|mexicans|women|trans people)\b[^.!?]{0,30}\b(?:are|should|"
    r"must|deserve)\b[^.!?]{0,30}\b(?:vermin|animals|subhuman|die|disgusting|inferior|"
    r"eradicated|gassed|deported)\b",
    re.IGNORECASE,
)


SCREENED_TEXTS = 1 << 16
"""Most fact texts whose verdicts :meth:`Toxicity.screen` remembers."""


class Toxicity:
    """Blocks drafts with profanity, slurs, threats or hate; screens such facts out first.

    Three signals, any of which blocks: ``alt-profanity-check``'s probability for
    a sentence at or above ``threshold``; with ``wordlist``, a word of the
    ``better-profanity`` list (leetspeak-insensitive, after removing invisible
    characters) or an offensive or sexual word part (``STEMS``); and with ``rules``, the
    ``THREATS``/``HATE`` rules. Artist names among the picks and the history are
    blanked out first: a band's name is data, not the story's words. ``screen``
    drops facts (user tags, notes) that trip any signal before they reach a generator.
    """

    name: ClassVar[str] = "toxicity"

    def __init__(self, threshold: float = 0.8, wordlist: bool = True, rules: bool = True):
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.wordlist = wordlist
        self.rules = rules
        self._predict = None
        self._words: frozenset[str] = frozenset()
        self._screened: dict[str, str | None] = {}  # masked fact text -> its first problem

    def fit(self, catalog: Catalog) -> None:
        from importlib.metadata import version

        versions = {p: version(p) for p in ("alt-profanity-check", "scikit-learn")}
        self._predict = cached("toxicity", catalog, versions, ProfanityModel.convert)
        if self.wordlist:
            path = files("better_profanity") / "profanity_wordlist.txt"
            self._words = frozenset(
                w.strip().lower() for w in path.read_text().splitlines() if w.strip()
            )

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        return self._judge([mask_names(d.text, p) for d, p in zip(drafts, packs, strict=True)])

    def screen(self, packs: Sequence[FactPack]) -> list[FactPack]:
        """Drop facts that are toxic or profane."""
        texts = {mask_names(fact_text(f), p) for p in packs for f in p.facts}
        if len(self._screened) + len(texts) > SCREENED_TEXTS:
            self._screened.clear()
        new = sorted(texts - self._screened.keys())
        for text, verdict in zip(new, self._judge(new), strict=True):
            self._screened[text] = next(iter(verdict.codes), None)
        return drop_facts(
            packs, self.name, lambda fact, pack: self._screened[mask_names(fact_text(fact), pack)]
        )

    def _judge(self, texts: list[str]) -> list[Verdict]:
        """One verdict per text; the classifier scores every sentence of the batch at once."""
        if self._predict is None:
            raise RuntimeError("call fit(catalog) before check()")
        parts = [sentences(t) for t in texts]
        flat = [visible(s) for ps in parts for s, _ in ps]
        scores = iter(self._predict(flat) if flat else [])
        return [self._verdict(t, ps, scores) for t, ps in zip(texts, parts, strict=True)]

    def _verdict(self, text: str, parts: list[tuple[str, int]], scores) -> Verdict:
        verdict = Verdict(self.name, "pass")
        seen = visible(text)
        for (sentence, start), score in zip(parts, scores, strict=False):
            if score >= self.threshold:
                verdict.reasons.append(f"toxicity: score {score:.2f} >= {self.threshold}")
                verdict.spans.append((start, start + len(sentence)))
        for word, start, end in _words_and_pairs(seen):
            if word in self._words:
                verdict.reasons.append(f"profanity: {seen[start:end]!r}")
                verdict.spans.append(_span_in(text, seen[start:end]))
        if self.wordlist:
            for code, stem in STEMS.items():
                for m in stem.finditer(seen):
                    verdict.reasons.append(f"{code}: {m.group()!r}")
                    verdict.spans.append(_span_in(text, m.group()))
        if self.rules:
            for code, rule in (("threat", THREATS), ("hate", HATE)):
                for m in rule.finditer(seen):
                    verdict.reasons.append(f"{code}: {m.group()!r}")
                    verdict.spans.append(_span_in(text, m.group()))
        if verdict.reasons:
            verdict.action = "block"
        return verdict


class ProfanityModel:
    """alt-profanity-check's classifier as plain arrays, so scoring needs no scikit-learn.

    The same computation as its ``predict_prob``: TF-IDF of the lowercased words
    (l2-normalised), then the mean over its linear SVMs of their sigmoid-calibrated
    probabilities ``1 / (1 + exp(a * (x . coef + intercept) + b))``.
    """

    def __init__(self, pattern: str, vocabulary: dict[str, int], idf: np.ndarray, svms: tuple):
        self.words = re.compile(pattern)
        self.vocabulary = vocabulary
        self.idf = idf
        self.coef, self.intercept, self.a, self.b = svms  # one row / value per SVM

    @classmethod
    def convert(cls) -> ProfanityModel:
        """Read the packaged model (this imports scikit-learn: seconds)."""
        from profanity_check import profanity_check

        vectorizer, svms = profanity_check.vectorizer, profanity_check.model.calibrated_classifiers_
        return cls(
            vectorizer.token_pattern,
            {w: int(c) for w, c in vectorizer.vocabulary_.items()},
            vectorizer.idf_,
            (
                np.vstack([s.estimator.coef_.ravel() for s in svms]),
                np.array([s.estimator.intercept_[0] for s in svms]),
                np.array([s.calibrators[0].a_ for s in svms]),
                np.array([s.calibrators[0].b_ for s in svms]),
            ),
        )

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The probability that each text is profane."""
        rows, cols = [], []
        for row, text in enumerate(texts):
            for word in self.words.findall(text.lower()):
                if word in self.vocabulary:
                    rows.append(row)
                    cols.append(self.vocabulary[word])
        counts = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(self.idf))
        )  # repeated words add up
        x = counts.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = sp.diags(1 / np.where(norms > 0, norms, 1.0)) @ x
        decisions = np.asarray(x @ self.coef.T) + self.intercept
        return (1 / (1 + np.exp(self.a * decisions + self.b))).mean(axis=1)


def _words_and_pairs(text: str) -> list[tuple[str, int, int]]:
    """Each word (leetspeak folded) and each pair of words, with spans."""
    words = [(_unleet(w), s, e) for w, s, e in tokens(text)]
    pairs = [(f"{a} {b}", s, e) for (a, s, _), (b, _, e) in zip(words, words[1:], strict=False)]
    return words + pairs


_LEET = str.maketrans("013457@$!", "oieastasi")


def _unleet(word: str) -> str:
    return word.translate(_LEET) if any(c.isalpha() for c in word) else word


def _span_in(text: str, found: str) -> tuple[int, int]:
    """Where ``found`` (seen in the visible form of ``text``) sits in ``text``.

    When invisible characters hide it, the whole text is the span.
    """
    at = text.lower().find(found.lower())
    return (at, at + len(found)) if at >= 0 else (0, len(text))
