"""Story evaluation: how grounded and safe are raw drafts and delivered stories.

Raw drafts are what the configured generator wrote; delivered stories are
what a listener would read (a passing draft or the fallback). Delivered
stories are re-checked by fresh grounding, toxicity and personal-data filters,
whatever the pipeline was configured with, so a misconfigured pipeline cannot
grade itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..cite import has_phrase
from ..errors import DataError
from ..text import normalize, sentences, tokens
from ..types import Context, Draft, Listener, Request, Result, Sentence, Story

AUDITORS = ("grounding", "toxicity", "pii")
MIN_WORDS = 8
NAME_CODES = ("unsupported_name", "uncited_name")
STORY_PICKS = 5
CONTEXTS = {  # words of the retrievers' mood/activity/time lexicon, for seeded contexts
    "mood": ["rainy", "calm", "happy", "melancholic", "chill", "romantic", "energetic", "cozy"],
    "activity": ["running", "workout", "study", "cooking", "party", "driving", "yoga", "reading"],
    "time": ["morning", "late night", "sunday", "evening", "midnight", "weekend"],
}


@dataclass
class StoryReport:
    """What ``linernotes eval stories`` reports (all rates in [0, 1]).

    The ``raw_`` collapse checks: ``raw_repetition_rate`` is the mean share of a
    draft's word trigrams that repeat an earlier one in it; a draft is
    degenerate when it is empty, under ``MIN_WORDS`` words, or mostly repetition.

    Of delivered stories: ``model_written_rate`` is the share whose every
    sentence the model wrote (none from a fallback or a template);
    ``model_sentence_share`` counts sentences, partial fallbacks included;
    ``picks_named_mean`` is how many of the top ``STORY_PICKS`` picks a story
    names; ``context_mention_rate`` is the share of stories for a request with
    a context that use one of its words;
    ``novelty_median`` is the median share of a story's word bigrams that the
    template generator's story for the same listener lacks; ``top_opening_share``
    is the share of the most common first sentence; ``length_ok_rate`` is the
    share with 3-5 sentences and 40-100 words.
    """

    dataset: str
    generator: str
    listeners: int
    raw_drafts: int
    raw_grounded_rate: float
    raw_unsupported_names_per_100_words: float
    raw_unsupported_numbers_per_100_words: float
    raw_block_rate_by_reason: dict[str, float]
    delivered: int
    delivered_grounded_rate: float
    fallback_rate: float
    no_story_rate: float
    toxicity_hits: int
    pii_hits: int
    distinct_2: float
    mean_words: float
    raw_distinct_2: float
    raw_mean_words: float
    raw_repetition_rate: float
    raw_degenerate_rate: float
    latency_ms_per_listener: dict[str, float]
    model_written_rate: float = 0.0
    model_sentence_share: float = 0.0
    repaired_sentence_share: float = 0.0
    picks_named_mean: float = 0.0
    context_listeners: int = 0
    context_mention_rate: float = 0.0
    novelty_median: float = 0.0
    top_opening_share: float = 0.0
    mean_sentences: float = 0.0
    length_ok_rate: float = 0.0
    examples: list[dict] = field(default_factory=list)
    stories: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_stories(
    overrides: Sequence[str] = (),
    listeners: list[str] | None = None,
    limit: int = 50,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
    context_share: float = 0.0,
) -> StoryReport:
    """Run the configured pipeline on ``limit`` listeners and grade drafts and stories.

    Listeners are ``listeners`` when given, else the seeded holdout split's test
    listeners (served with their whole history). A seeded ``context_share`` of
    them get a context: a mood, activity or time from :data:`CONTEXTS`.
    """
    from ..pipeline import build_pipeline
    from ..registry import get_registry
    from ..split import holdout_split

    if limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    if not 0 <= context_share <= 1:
        raise DataError(f"--context-share must be in [0, 1], got {context_share}")
    pipe = build_pipeline(overrides, progress=progress)
    catalog = pipe.catalog
    if listeners is None:
        listeners = holdout_split(catalog, seed=seed).listeners("test")
    unknown = [i for i in listeners if not catalog.has_listener(i)]
    if unknown:
        raise DataError(f"unknown listener(s) {', '.join(unknown[:5])} in {catalog.name}")
    ids = listeners[:limit]
    requests = seeded_contexts([Request(Listener(i)) for i in ids], context_share, seed)
    results: list[Result] = []
    timings: Counter = Counter()
    with progress_bar(progress, len(ids)) as advance:
        for start in range(0, len(ids), batch_size):
            batch = pipe.run(requests[start : start + batch_size])
            for stage, seconds in batch[0].trace.timings.items():
                if stage != "fit":
                    timings[stage] += seconds
            results.extend(batch)
            advance(len(batch))
    auditors = {}
    for name in AUDITORS:
        auditors[name] = get_registry().create("safety_filter", name)
        auditors[name].fit(catalog)
    template = get_registry().create("generator", "template")
    template.fit(catalog)
    reference = [d[0].text for d in template.generate([r.facts for r in results], 1)]
    return _grade(pipe, results, auditors, timings, reference)


def seeded_contexts(requests: list[Request], share: float, seed: int = 0) -> list[Request]:
    """Give a seeded ``share`` of the requests one context word (mood, activity or time)."""
    rng = random.Random(seed)
    out = []
    for r in requests:
        if rng.random() < share:
            kind = rng.choice(sorted(CONTEXTS))
            r = dataclasses.replace(r, context=Context(**{kind: rng.choice(CONTEXTS[kind])}))
        out.append(r)
    return out


def _grade(
    pipe, results: list[Result], auditors: dict, timings: Counter, reference: list[str]
) -> StoryReport:
    raw = [(rv, r.facts) for r in results for rv in r.reviews if not rv.fallback]
    words = sum(len(rv.draft.text.split()) for rv, _ in raw) or 1
    codes = Counter(c for rv, _ in raw for v in rv.verdicts for c in v.codes)
    blocked_by = Counter(c for rv, _ in raw for c in {c for v in rv.verdicts for c in v.codes})
    configured = any(f.name == "grounding" for f in pipe.filters.values())

    def grounded(review, pack) -> bool:
        if configured:  # the pipeline's own grounding verdict, with its settings
            return all(v.action != "block" for v in review.verdicts if v.filter == "grounding")
        return _passes(auditors["grounding"], review.draft, pack)

    stories = [(r.story, r.facts) for r in results if r.story is not None]
    audit = {
        name: sum(not _passes(f, Draft(s.text, s.generator), pack) for s, pack in stories)
        for name, f in auditors.items()
    }
    texts = [s.text for s, _ in stories]
    told = [(r, _sentences(r.story)) for r in results if r.story is not None]
    written = [s for _, ss in told for s in ss]
    with_context = [(r, ss) for r, ss in told if r.request.context.words()]
    openings = Counter(_bare(ss[0].text) for _, ss in told if ss)
    drafts = [rv.draft.text for rv, _ in raw]
    repetition = [_repetition(t) for t in drafts]
    n = len(results)
    return StoryReport(
        dataset=pipe.catalog.name,
        generator=pipe.generator.name,
        listeners=n,
        raw_drafts=len(raw),
        raw_grounded_rate=_rate(sum(grounded(rv, pack) for rv, pack in raw), len(raw)),
        raw_unsupported_names_per_100_words=100 * sum(codes[c] for c in NAME_CODES) / words,
        raw_unsupported_numbers_per_100_words=100 * codes["unsupported_number"] / words,
        raw_block_rate_by_reason={c: _rate(k, len(raw)) for c, k in blocked_by.most_common()},
        delivered=len(stories),
        delivered_grounded_rate=_rate(len(stories) - audit["grounding"], len(stories)),
        fallback_rate=_rate(sum(r.trace.fallback for r in results), n),
        no_story_rate=_rate(n - len(stories), n),
        toxicity_hits=audit["toxicity"],
        pii_hits=audit["pii"],
        distinct_2=_distinct_2(texts),
        mean_words=_mean_words(texts),
        raw_distinct_2=_distinct_2(drafts),
        raw_mean_words=_mean_words(drafts),
        raw_repetition_rate=statistics.fmean(repetition) if drafts else 0.0,
        raw_degenerate_rate=_rate(
            sum(
                len(t.split()) < MIN_WORDS or r > 0.5
                for t, r in zip(drafts, repetition, strict=True)
            ),
            len(drafts),
        ),
        latency_ms_per_listener={k: 1000 * v / n for k, v in timings.items()},
        model_written_rate=_rate(
            sum(all(s.writer == "model" for s in ss) for _, ss in told), len(told)
        ),
        model_sentence_share=_rate(sum(s.writer == "model" for s in written), len(written)),
        repaired_sentence_share=_rate(sum(s.tries > 1 for s in written), len(written)),
        picks_named_mean=statistics.fmean(_picks_named(r) for r, _ in told) if told else 0.0,
        context_listeners=len(with_context),
        context_mention_rate=_rate(
            sum(_mentions_context(r) for r, _ in with_context), len(with_context)
        ),
        novelty_median=statistics.median(
            _novelty(r.story.text, ref)
            for r, ref in zip(results, reference, strict=True)
            if r.story is not None
        )
        if told
        else 0.0,
        top_opening_share=_rate(max(openings.values(), default=0), len(told)),
        mean_sentences=statistics.fmean(len(ss) for _, ss in told) if told else 0.0,
        length_ok_rate=_rate(
            sum(3 <= len(ss) <= 5 and 40 <= len(r.story.text.split()) <= 100 for r, ss in told),
            len(told),
        ),
        examples=_examples(results),
        stories=[_shown(r) for r in results[:STORIES_SHOWN] if r.story is not None],
    )


STORIES_SHOWN = 20


def _sentences(story: Story) -> list[Sentence]:
    """The story's sentences with their writer: recorded by a planned generator, else split."""
    if story.sentences:
        return story.sentences
    writer = "fallback" if story.fallback else "model"
    return [Sentence(text, [], writer) for text, _ in sentences(story.text)]


def _bare(text: str) -> str:
    """A sentence's words without numbers or citations, for comparing openings."""
    return " ".join(t for t, _, _ in tokens(text) if not t.isdigit())


def _picks_named(result: Result) -> int:
    text = normalize(result.story.text)
    return sum(has_phrase(text, normalize(p.name)) for p in result.facts.picks[:STORY_PICKS])


def _mentions_context(result: Result) -> bool:
    text = normalize(result.story.text)
    words = [t for t, _, _ in tokens(result.request.context.words()) if len(t) > 2]
    return any(has_phrase(text, w) for w in words)


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = [w for w, _, _ in tokens(text)]
    return set(zip(words, words[1:], strict=False))


def _novelty(text: str, reference: str) -> float:
    """The share of ``text``'s word bigrams that ``reference`` lacks."""
    mine = _bigrams(text)
    return len(mine - _bigrams(reference)) / len(mine) if mine else 0.0


def _shown(result: Result) -> dict:
    """A delivered story for the report: its text, context and sentences with their facts."""
    story = result.story
    return {
        "listener": result.request.listener.id,
        "context": result.request.context.words(),
        "text": story.text,
        "fallback": story.fallback,
        "sentences": [
            {
                "text": s.text,
                "writer": s.writer,
                "tries": s.tries,
                "facts": [result.facts.facts[n - 1].text for n in s.facts],
            }
            for s in _sentences(story)
        ],
    }


def _passes(f, draft: Draft, pack) -> bool:
    return f.check([draft], [pack])[0].action != "block"


def _rate(k: int, n: int) -> float:
    return k / n if n else 0.0


def _distinct_2(texts: list[str]) -> float:
    """Distinct bigrams over all bigrams, across every story."""
    bigrams = []
    for text in texts:
        words = [w for w, _, _ in tokens(text)]
        bigrams += zip(words, words[1:], strict=False)
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def _mean_words(texts: list[str]) -> float:
    return statistics.fmean(len(t.split()) for t in texts) if texts else 0.0


def _repetition(text: str) -> float:
    """The share of a text's word trigrams that repeat an earlier one."""
    words = [w for w, _, _ in tokens(text)]
    grams = list(zip(words, words[1:], words[2:], strict=False))
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def _examples(results: list[Result], limit: int = 5) -> list[dict]:
    """A few blocked raw drafts with their reasons and offending spans."""
    out = []
    for r in results:
        for rv in (rv for rv in r.reviews if not rv.fallback):
            blocking = [v for v in rv.verdicts if v.action == "block"]
            if blocking and len(out) < limit:
                out.append(
                    {
                        "listener": r.request.listener.id,
                        "text": rv.draft.text,
                        "reasons": [x for v in blocking for x in v.reasons],
                        "spans": sorted({s for v in blocking for s in v.spans}),
                    }
                )
    return out


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str = "writing and checking stories"):
    """A rich progress bar; yields a function that advances it."""
    from rich.progress import Progress

    with Progress(transient=True, disable=not enabled) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def write_report(report: StoryReport, path: Path) -> None:
    """An HTML report: the numbers, and blocked drafts with their offending spans marked."""
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>"
        for k, v in report.to_dict().items()
        if k not in ("examples", "stories", "raw_block_rate_by_reason", "latency_ms_per_listener")
    )
    reasons = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.1%}</td></tr>"
        for k, v in report.raw_block_rate_by_reason.items()
    )
    latency = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.1f} ms</td></tr>"
        for k, v in report.latency_ms_per_listener.items()
    )
    examples = "".join(
        f"<li><p>{_marked(e['text'], e['spans'])}</p><p class=r>listener {e['listener']}: "
        f"{html.escape('; '.join(e['reasons']))}</p></li>"
        for e in report.examples
    )
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>linernotes story evaluation</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td{padding:.2em .8em;border-bottom:1px solid #ddd}mark{background:#fbb}"
        ".r{color:#666;font-size:.9em}</style>"
        f"<h1>Story evaluation: {html.escape(report.generator)} on "
        f"{html.escape(report.dataset)}</h1><table>{rows}</table>"
        f"<h2>Raw drafts blocked, by reason</h2><table>{reasons}</table>"
        f"<h2>Latency per listener</h2><table>{latency}</table>"
        f"<h2>Delivered stories</h2><ol>{''.join(map(_story_html, report.stories))}</ol>"
        f"<h2>Blocked drafts</h2><ol>{examples or '<p>none</p>'}</ol>"
    )


def _story_html(story: dict) -> str:
    """One delivered story: each sentence with its writer, tries and the facts it cites."""
    rows = "".join(
        f"<tr><td>{html.escape(s['text'])}</td><td>{html.escape(s['writer'])}"
        f"{' (repaired)' if s['tries'] > 1 else ''}</td>"
        f"<td class=r>{html.escape(' '.join(s['facts']))}</td></tr>"
        for s in story["sentences"]
    )
    context = f", context {html.escape(story['context'])}" if story["context"] else ""
    return (
        f"<li><p class=r>listener {html.escape(str(story['listener']))}{context}"
        f"{' (fallback)' if story['fallback'] else ''}</p><table>{rows}</table></li>"
    )


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def _marked(text: str, spans: list) -> str:
    """``text`` as HTML with every span wrapped in ``<mark>`` (overlaps merged)."""
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        pos = b
    return "".join(out) + html.escape(text[pos:])
