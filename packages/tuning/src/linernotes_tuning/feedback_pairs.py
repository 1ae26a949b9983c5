"""Preference pairs from logged feedback: the story a listener played beats the one they skipped.

Each shown story (an impression) scores +1 per ``play``, ``save`` or ``thumbs_up``
and -1 per ``skip`` or ``thumbs_down`` that the same listener gave the same
``story_id``. For one listener, every story with a positive score is preferred
over every story with a negative score whose context is similar
(:func:`context_similarity` at least ``similarity``). The chosen story's fact pack,
as logged with its impression, becomes the pair's pack, so the prompt is rebuilt
from what the generator saw when it wrote the preferred story.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
from linernotes import Context, DataError, Fact, FactPack, Item
from linernotes.feedback import NEGATIVE, POSITIVE

from .pairs import Pair

log = logging.getLogger(__name__)

STOPWORDS = frozenset({"a", "an", "the", "and", "of", "in", "at", "on", "for", "to", "with"})
_WORD = re.compile(r"[^\W_]+")


@dataclass
class FeedbackStats:
    """What :func:`feedback_pairs` saw: pass one in to have it filled."""

    excluded_events: int = 0  # events of excluded listeners, not used
    impressions: int = 0  # distinct (listener, story) impressions
    scored: int = 0  # shown stories with feedback
    orphans: int = 0  # (listener, story) with feedback but no impression
    bad_impressions: int = 0  # scored stories whose logged pack or context is malformed
    duplicates: int = 0  # pairs dropped because the same (chosen, rejected) texts came first
    pairs: int = 0


@dataclass(frozen=True)
class _Shown:
    """A shown story with its feedback score."""

    listener: str
    story_id: str
    text: str
    context: Context
    pack: FactPack
    score: int


def pack_from_dict(d: Mapping[str, Any]) -> FactPack:
    """Rebuild a :class:`FactPack` from ``to_dict(pack)`` (or its JSON); DataError if malformed."""
    try:
        return FactPack(
            request_id=str(d["request_id"]),
            listener_id=d.get("listener_id"),
            picks=[Item(**i) for i in d["picks"]],
            history=[Item(**i) for i in d["history"]],
            facts=[Fact(**f) for f in d["facts"]],
            context=Context(**(d.get("context") or {})),
            notes=list(d.get("notes") or []),
        )
    except (KeyError, TypeError) as e:
        raise DataError(f"bad fact pack: {type(e).__name__}: {e}") from None


def context_words(context: Context) -> frozenset[str]:
    """The time, mood and activity as a set of lower-case words, common short words dropped."""
    return frozenset(_WORD.findall(context.words().lower())) - STOPWORDS


def context_similarity(a: Context, b: Context) -> float:
    """Jaccard similarity of the context words; 0 if the seeds differ, 1 if both have no words."""
    if a.seed != b.seed:
        return 0.0
    wa, wb = context_words(a), context_words(b)
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def feedback_pairs(
    events: pl.DataFrame,
    similarity: float = 0.5,
    exclude_listeners: set[str] | frozenset[str] = frozenset(),
    stats: FeedbackStats | None = None,
) -> list[Pair]:
    """Preference pairs from ``events`` (as :func:`linernotes_tuning.store.read_events` reads them).

    Listeners in ``exclude_listeners`` are ignored entirely. A pair with the same
    chosen and rejected text is kept once, with its largest margin. ``stats``,
    if given, is filled with counts (orphan feedback, bad impressions, duplicates).
    """
    if not 0.0 <= similarity <= 1.0:
        raise ValueError(f"similarity must be between 0 and 1, got {similarity}")
    stats = stats if stats is not None else FeedbackStats()
    excluded = pl.col("listener").is_in(sorted(exclude_listeners))
    stats.excluded_events = events.filter(excluded).height
    by_listener: dict[str, list[_Shown]] = defaultdict(list)
    for shown in _scored_stories(events.filter(~excluded), stats):
        by_listener[shown.listener].append(shown)
    pairs: dict[tuple[str, str], Pair] = {}
    stats.duplicates = 0
    for listener in sorted(by_listener):
        for pair in _listener_pairs(by_listener[listener], similarity):
            key = (pair.chosen, pair.rejected)
            if key in pairs:
                stats.duplicates += 1
                if pair.margin <= pairs[key].margin:
                    continue
            pairs[key] = pair
    stats.pairs = len(pairs)
    if stats.orphans or stats.bad_impressions:
        log.warning(
            "feedback pairs: skipped %d stories with feedback but no impression and "
            "%d impressions with a malformed pack or context",
            stats.orphans,
            stats.bad_impressions,
        )
    return list(pairs.values())


def _scored_stories(events: pl.DataFrame, stats: FeedbackStats) -> list[_Shown]:
    """Every shown story with feedback, with its score; counts orphans and bad impressions."""
    keys = ["listener", "story_id"]
    sign = pl.when(pl.col("event").is_in(sorted(POSITIVE))).then(1).otherwise(-1)
    scores = (
        events.filter(pl.col("event").is_in(sorted(POSITIVE | NEGATIVE)))
        .group_by(keys)
        .agg(score=sign.sum())
    )
    shown = (
        events.filter(pl.col("event") == "impression")
        .sort("ts")
        .unique(keys, keep="first", maintain_order=True)
        .select(*keys, "story", "context", "pack")
    )
    stats.impressions = shown.height
    stats.orphans = scores.join(shown, on=keys, how="anti").height
    scored = scores.join(shown, on=keys, how="inner").sort(keys)
    stats.scored = scored.height
    stats.bad_impressions = 0
    stories = []
    for row in scored.iter_rows(named=True):
        try:
            pack = pack_from_dict(_json(row["pack"]))
            context = Context(**(_json(row["context"]) or {}))
        except (DataError, TypeError):
            stats.bad_impressions += 1
            continue
        stories.append(
            _Shown(row["listener"], row["story_id"], row["story"], context, pack, row["score"])
        )
    return stories


def _listener_pairs(stories: list[_Shown], similarity: float) -> Iterator[Pair]:
    """Every (liked, disliked) pair of one listener's stories in similar contexts."""
    liked = sorted((s for s in stories if s.score > 0), key=lambda s: (-s.score, s.story_id))
    disliked = sorted((s for s in stories if s.score < 0), key=lambda s: (s.score, s.story_id))
    for good in liked:
        for bad in disliked:
            sim = context_similarity(good.context, bad.context)
            if sim < similarity or good.text == bad.text:
                continue
            yield Pair(
                pack=good.pack,
                chosen=good.text,
                rejected=bad.text,
                source="feedback",
                listener=good.listener,
                margin=float(good.score - bad.score),
                meta={
                    "chosen_story": good.story_id,
                    "rejected_story": bad.story_id,
                    "similarity": round(sim, 3),
                },
            )


def _json(value: Any) -> Any:
    """A struct cell as is; a JSON text cell decoded (``FeedbackEvent.to_record`` form)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"bad JSON cell: {value[:60]!r}") from None
    return value
