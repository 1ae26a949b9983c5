"""Domain types shared by every stage and plugin.

Every stage works on batches: lists of these values, one entry per request.
All types are plain dataclasses, so a result serialises with :func:`to_dict`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

CITATION = re.compile(r"\[(\d+)\]")


@dataclass
class Context:
    """What the listener is doing now: free-text time, mood and activity, and a seed item id."""

    time: str | None = None
    mood: str | None = None
    activity: str | None = None
    seed: str | None = None

    def words(self) -> str:
        """The context as one line of text (seed excluded), for lexical and embedding queries."""
        return " ".join(x for x in (self.time, self.mood, self.activity) if x)


def normalize_context(context: Context) -> Context:
    """The context with its free-text fields lower-cased, spaces collapsed, empty ones None
    (the seed as it is): how the server and the batch job both key a context."""

    def norm(text: str | None) -> str | None:
        return " ".join((text or "").split()).lower() or None

    return Context(norm(context.time), norm(context.mood), norm(context.activity), context.seed)


@dataclass
class Listener:
    """A listener: a catalog id, an inline history (item id -> plays), or both."""

    id: str | None = None
    history: dict[str, float] = field(default_factory=dict)


@dataclass
class Request:
    """One ask: what should this listener play next in this context, ``k`` picks
    (None: the pipeline's ``k``).

    ``notes`` are remarks made while building the request (e.g. unmatched names).
    """

    listener: Listener
    context: Context = field(default_factory=Context)
    k: int | None = None
    id: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Item:
    """A catalog item (an artist for HetRec) with its popularity."""

    id: str
    name: str
    listeners: int = 0
    plays: int = 0


@dataclass
class Candidate:
    """An item proposed for a request; ``sources`` maps retriever name -> its score."""

    item_id: str
    score: float
    sources: dict[str, float] = field(default_factory=dict)


@dataclass
class Fact:
    """One curated, citable statement about an item (or the listener).

    ``values`` holds every name and number stated in ``text``, so a verifier can
    check a story against it.
    """

    id: str
    item_id: str
    kind: str
    text: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class FactPack:
    """Everything a generator may say for one request. Facts are cited as ``[n]``, 1-based.

    ``notes`` record what screening changed (dropped or neutralised facts).
    """

    request_id: str
    listener_id: str | None
    picks: list[Item]
    history: list[Item]
    facts: list[Fact]
    context: Context = field(default_factory=Context)
    notes: list[str] = field(default_factory=list)

    def fact(self, n: int) -> Fact | None:
        """The fact cited as ``[n]``, or None if ``n`` is out of range."""
        return self.facts[n - 1] if 1 <= n <= len(self.facts) else None

    def allowed_names(self) -> set[str]:
        """Names a story may mention: the picks and the listener's own history."""
        return {i.name for i in self.picks} | {i.name for i in self.history}


@dataclass
class Sentence:
    """One sentence of a planned draft: its text, the facts it tells, and who wrote it.

    ``facts`` are the 1-based fact numbers the sentence cites; ``writer`` is
    ``"model"``, ``"template"`` (the template generator) or ``"fallback"`` (a
    fact's own sentence standing in for a model sentence none of whose samples
    passed); ``tries`` counts the sampling rounds.
    """

    text: str
    facts: list[int]
    writer: str = "model"
    tries: int = 1


@dataclass
class Draft:
    """A story written by a generator, citing facts as ``[n]``.

    A planned generator also records its ``sentences`` (see :class:`Sentence`).
    """

    text: str
    generator: str
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def citations(self) -> list[int]:
        """Cited fact numbers, in order of first appearance."""
        return list(dict.fromkeys(int(n) for n in CITATION.findall(self.text)))


Action = Literal["pass", "redact", "block"]


@dataclass
class Claim:
    """One checked claim of a draft: a name, number, tag, citation or sentence.

    ``score`` is set for scored claims (e.g. a sentence's support by its citations).
    """

    kind: str
    text: str
    start: int
    end: int
    supported: bool
    detail: str = ""
    score: float | None = None


@dataclass
class Verdict:
    """A safety filter's judgement of one draft.

    ``reasons`` are machine-readable ``"code: detail"`` strings (``code`` such as
    ``unsupported_name`` or ``pii_email``); ``spans`` are ``(start, end)`` offsets of
    the offending text; ``text`` is the redacted text when ``action == "redact"``;
    ``claims`` are per-claim results a report can show.
    """

    filter: str
    action: Action
    reasons: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    text: str | None = None
    claims: list[Claim] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        """The reason codes, e.g. ``["unsupported_number", "pii_email"]``."""
        return [r.split(":", 1)[0] for r in self.reasons]


@dataclass
class Pick:
    """A ranked item in the result, with its final score and provenance."""

    item: Item
    score: float
    sources: dict[str, float] = field(default_factory=dict)


@dataclass
class Story:
    """The delivered story and the facts its citations resolve to.

    ``id`` names the exact text shown to this request's listener, so feedback on
    it can be joined back to it (see :mod:`linernotes.feedback`).
    """

    text: str
    generator: str
    citations: dict[int, str]
    fallback: bool = False
    id: str = ""
    sentences: list[Sentence] = field(default_factory=list)


@dataclass
class DraftReview:
    """One draft and every filter's verdict on it; ``fallback`` marks the fallback's draft."""

    draft: Draft
    verdicts: list[Verdict]
    fallback: bool = False

    @property
    def passed(self) -> bool:
        return all(v.action != "block" for v in self.verdicts)


@dataclass
class Trace:
    """How a result was made: stage timings (seconds), events, components and config id."""

    timings: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    components: dict[str, Any] = field(default_factory=dict)
    config_id: str = ""
    fallback: bool = False


@dataclass
class Result:
    """The answer to one request: picks, story (None if nothing safe could be written), trace."""

    request: Request
    picks: list[Pick]
    story: Story | None
    facts: FactPack
    reviews: list[DraftReview]
    trace: Trace


def to_dict(value: Any) -> Any:
    """A JSON-ready dict of any linernotes dataclass."""
    return dataclasses.asdict(value)


def to_json(value: Any, indent: int | None = None) -> str:
    """Any linernotes dataclass as JSON text: the schema of ``linernotes recommend --json``
    and of the ``linernotes serve`` API."""
    return json.dumps(to_dict(value), indent=indent, ensure_ascii=False, default=str)
