"""The pipeline: retrieve, rank, ground, generate, safety, fallback, on batches of requests."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .candidates import CandidateBatch, id_ranks
from .catalog import Catalog
from .errors import DataError, LinernotesError, PipelineError
from .ground import Grounder
from .plugins import get_plugin_manager
from .types import (
    Candidate,
    Context,
    Draft,
    DraftReview,
    FactPack,
    Listener,
    Pick,
    Request,
    Result,
    Story,
    Trace,
    Verdict,
)


class Pipeline:
    """A composed, fitted pipeline. Build one with :func:`build_pipeline` or :meth:`from_config`."""

    def __init__(
        self,
        catalog: Catalog,
        retrievers: dict[str, tuple[Any, int]],
        ranker: Any,
        generator: Any,
        fallback: Any,
        filters: dict[str, Any],
        grounder: Grounder,
        k: int = 10,
        candidates: int = 500,
        drafts: int = 1,
        exclude_heard: bool = True,
        config_id: str = "",
        weights: dict[str, float] | None = None,
        rerankers: dict[str, Any] | None = None,
    ):
        self.catalog = catalog
        self.retrievers = retrievers
        self.ranker = ranker
        self.generator = generator
        self.fallback = fallback
        self.filters = filters
        self.grounder = grounder
        self.k = k
        self.candidates = candidates
        self.drafts = drafts
        self.exclude_heard = exclude_heard
        self.config_id = config_id
        self.weights = weights or {}
        self.rerankers = rerankers or {}
        self.fit_seconds = 0.0

    @classmethod
    def from_config(cls, cfg, progress: bool = True, fit: bool = True) -> Pipeline:
        """Instantiate every configured component from the registry, load the catalog, and
        fit all (with ``fit``; else the caller calls :meth:`fit`, e.g. once it has checked
        its requests against the catalog)."""
        from .config import config_id
        from .datasets import load_catalog
        from .registry import get_registry

        make = get_registry().create_from
        retrievers = {
            name: (make("retriever", e), int(e.quota)) for name, e in cfg.retrievers.items()
        }
        if not retrievers:
            from .errors import ConfigError

            raise ConfigError("no retrievers configured; choose some, e.g. retrievers=[colisten]")
        ranker = make("ranker", cfg.ranker)
        rerankers = {name: make("ranker", r) for name, r in cfg.rerankers.items()}
        generator = make("generator", cfg.generator)
        fallback = make("generator", cfg.fallback)
        filters = {name: make("safety_filter", f) for name, f in cfg.safety.items()}
        catalog = load_catalog(cfg.dataset, progress=progress)
        pipe = cls(
            catalog,
            retrievers,
            ranker,
            generator,
            fallback,
            filters,
            Grounder(
                catalog, cfg.ground.story_picks, cfg.ground.facts_per_pick, cfg.ground.min_shared
            ),
            k=cfg.k,
            candidates=cfg.candidates,
            drafts=cfg.drafts,
            exclude_heard=cfg.exclude_heard,
            config_id=config_id(cfg),
            weights={name: float(e.weight) for name, e in cfg.retrievers.items()},
            rerankers=rerankers,
        )
        if fit:
            pipe.fit(progress=progress)
        return pipe

    def fit(self, progress: bool = False) -> None:
        """Fit every component on the catalog (once); ``progress`` shows a bar on stderr.

        The generators fit in a background thread while the other components fit:
        loading (on a cold start, converting) a model is mostly native work and file
        reading, and a ranker's training leaves a core idle for much of its time.
        """
        from concurrent.futures import ThreadPoolExecutor

        start = time.perf_counter()
        generators = [("generator", self.generator), ("fallback", self.fallback)]
        parts = [(f"retriever {n}", r) for n, (r, _) in self.retrievers.items()]
        parts += [
            ("ranker", self.ranker),
            *((f"reranker {n}", r) for n, r in self.rerankers.items()),
            *((f"safety {n}", f) for n, f in self.filters.items()),
        ]
        pool = ThreadPoolExecutor(1, "fit-generators")
        try:
            with _progress(progress) as bar:
                task = bar.add_task("fitting", total=len(parts) + len(generators))
                pending = [
                    (label, part, pool.submit(part.fit, self.catalog)) for label, part in generators
                ]
                for label, part in parts:
                    bar.update(task, description=f"fitting {label} ({part.name})")
                    part.fit(self.catalog)
                    bar.advance(task)
                for label, part, future in pending:
                    bar.update(task, description=f"fitting {label} ({part.name})")
                    future.result()
                    bar.advance(task)
        finally:  # on an error, report it at once rather than after the generators' fits
            pool.shutdown(wait=False, cancel_futures=True)
        self.fit_seconds = time.perf_counter() - start

    # -- requests --------------------------------------------------------------------------
    def request(
        self,
        listener: str | None = None,
        history: Sequence[str] = (),
        k: int | None = None,
        time: str | None = None,
        mood: str | None = None,
        activity: str | None = None,
        seed: str | None = None,
    ) -> Request:
        """Build a request from a listener id and/or artist names (matched forgivingly).

        If no name matches, a DataError says so; names that match nothing are
        otherwise listed in ``Request.notes`` (and the result's trace events).
        """
        items: dict[str, float] = {}
        unmatched = []
        if history:
            for query, item in self.catalog.match_names(history).items():
                if item is None:
                    unmatched.append(query)
                else:
                    items[item] = items.get(item, 0.0) + 1.0
            if not items:
                raise DataError(f"no artist in the catalog matches {', '.join(map(repr, history))}")
        seed_id = None
        if seed:
            seed_id = self.catalog.match_names([seed])[seed]
            if seed_id is None:
                raise DataError(f"no artist in the catalog matches the seed {seed!r}")
        notes = [f"no artist matches {name!r}; ignored" for name in unmatched]
        return Request(
            Listener(listener, items), Context(time, mood, activity, seed_id), k, notes=notes
        )

    def recommend(self, request: Request | None = None, **kwargs) -> Result:
        """Serve one request (or build one from :meth:`request`'s keyword arguments)."""
        return self.run([request if request is not None else self.request(**kwargs)])[0]

    # -- the stages ------------------------------------------------------------------------
    def run(
        self,
        requests: Sequence[Request],
        on_fallback: Callable[[list[Result]], None] | None = None,
    ) -> list[Result]:
        """Serve a batch of requests; every stage runs once on the whole batch.

        ``on_fallback``, if given, is called once the facts are screened and
        before generation starts, with every request's result as the fallback
        generator alone would make it (its story verified, ``trace.fallback``
        set): what a caller with a deadline can deliver if the generator is late.
        """
        reqs, traces, timings, ranked, packs = self._prepare(requests)
        if on_fallback is not None:
            on_fallback(self._fallback_results(reqs, ranked, packs, traces, timings))
        stage = functools.partial(self._stage, reqs, timings)

        def generator_failed(e: Exception) -> list[list[Draft]]:
            for t in traces:
                t.events.append(f"generator failed: {type(e).__name__}: {e}")
            return [[] for _ in reqs]

        drafts = stage(
            "generate", lambda: self.generator.generate(packs, self.drafts), generator_failed
        )
        reviews = stage("safety", lambda: self.review(drafts, packs))
        stories: list[Story | None] = [None] * len(reqs)
        for n, rs in enumerate(reviews):
            chosen = next((r for r in rs if r.passed), None)
            if chosen is not None:
                stories[n] = _story(chosen.draft, packs[n], self.config_id, fallback=False)
        missing = [n for n, s in enumerate(stories) if s is None]
        if missing:
            sub = [packs[n] for n in missing]

            def fallback_failed(e: Exception) -> list[list[DraftReview]]:
                return [[] for _ in missing]

            fallback = stage("fallback", lambda: self._fallback_reviews(sub), fallback_failed)
            for n, rs in zip(missing, fallback, strict=True):
                traces[n].fallback = True
                reviews[n] = reviews[n] + rs
                chosen = next((r for r in rs if r.passed), None)
                if chosen is None:
                    traces[n].events.append("no draft and no fallback passed the safety filters")
                else:
                    traces[n].events.append("no draft passed the safety filters; used the fallback")
                    stories[n] = _story(chosen.draft, packs[n], self.config_id, fallback=True)
        results = []
        for n, req in enumerate(reqs):
            traces[n].timings = {**timings, "fit": self.fit_seconds}
            picks = _picks(ranked[n], packs[n])
            results.append(Result(req, picks, stories[n], packs[n], reviews[n], traces[n]))
        return results

    def run_fallback(self, requests: Sequence[Request]) -> list[Result]:
        """The results of ``requests`` as the fallback generator alone makes them, without
        running the generator: what ``run`` gives ``on_fallback``, for a caller whose
        deadline passed before its batch started."""
        reqs, traces, timings, ranked, packs = self._prepare(requests)
        return self._fallback_results(reqs, ranked, packs, traces, timings)

    def _prepare(self, requests: Sequence[Request]):
        """Resolve, retrieve, rank, ground and screen: the requests, their traces, the
        stage timings, the ranked candidates and the screened fact packs."""
        reqs = [self._resolve(r) for r in requests]
        traces = [
            Trace(events=list(r.notes), config_id=self.config_id, components=self._components())
            for r in reqs
        ]
        timings: dict[str, float] = {}
        stage = functools.partial(self._stage, reqs, timings)
        merged = stage("retrieve", lambda: self._retrieve(reqs))

        def rank() -> list[list[Candidate]]:
            ranked = self.ranker.rank(reqs, merged)
            for reranker in self.rerankers.values():
                ranked = reranker.rank(reqs, ranked)
            if isinstance(ranked, CandidateBatch):  # only the picks become objects
                return ranked.heads([r.k for r in reqs])
            return [c[: r.k] for r, c in zip(reqs, ranked, strict=True)]

        ranked = stage("rank", rank)
        packs = stage("ground", lambda: self.grounder.ground(reqs, ranked))

        def screen_failed(e: Exception) -> list[FactPack]:  # fail closed: no facts, no story
            note = f"screening failed ({type(e).__name__}: {e}); every fact withheld"
            return [dataclasses.replace(p, facts=[], notes=[*p.notes, note]) for p in packs]

        packs = stage("screen", lambda: self._screen(packs), screen_failed)
        for trace, pack in zip(traces, packs, strict=True):
            trace.events.extend(pack.notes)
        return reqs, traces, timings, ranked, packs

    @staticmethod
    def _stage(
        reqs: list[Request],
        timings: dict[str, float],
        name: str,
        fn: Callable[[], Any],
        recover: Callable[[Exception], Any] | None = None,
    ) -> Any:
        """Run one stage on ``reqs`` between its hooks, adding its seconds to ``timings``;
        an error goes to ``recover`` if given, else is raised as a :class:`PipelineError`."""
        hook = get_plugin_manager().hook
        hook.before_stage(stage=name, requests=reqs)
        start = time.perf_counter()
        try:
            out = fn()
        except Exception as e:
            hook.on_stage_error(stage=name, requests=reqs, error=e)
            if recover is not None:
                return recover(e)
            if isinstance(e, LinernotesError):
                raise
            raise PipelineError(name, f"{type(e).__name__}: {e}") from e
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        hook.after_stage(stage=name, requests=reqs, output=out, seconds=timings[name])
        return out

    def _fallback_reviews(self, packs: list[FactPack]) -> list[list[DraftReview]]:
        """One fallback draft per pack, reviewed by every filter and marked as the fallback's."""
        reviews = self.review(self.fallback.generate(packs, 1), packs)
        for review in (r for rs in reviews for r in rs):
            review.fallback = True
        return reviews

    def _fallback_results(
        self,
        reqs: list[Request],
        ranked: list[list[Candidate]],
        packs: list[FactPack],
        traces: list[Trace],
        timings: dict[str, float],
    ) -> list[Result]:
        """The results the fallback generator alone makes for screened ``packs`` (see ``run``)."""
        notes = []
        try:
            reviews = self._fallback_reviews(packs)
        except Exception as e:
            reviews = [[] for _ in packs]
            notes.append(f"fallback failed: {type(e).__name__}: {e}")
        results = []
        for n, req in enumerate(reqs):
            chosen = next((r for r in reviews[n] if r.passed), None)
            story = _story(chosen.draft, packs[n], self.config_id, True) if chosen else None
            events = [*traces[n].events, *notes]
            if story is None:
                events.append("no fallback passed the safety filters")
            trace = dataclasses.replace(
                traces[n],
                events=events,
                timings={**timings, "fit": self.fit_seconds},
                fallback=True,
            )
            results.append(
                Result(req, _picks(ranked[n], packs[n]), story, packs[n], reviews[n], trace)
            )
        return results

    def _resolve(self, request: Request) -> Request:
        listener = request.listener
        if listener.id is not None and not listener.history:
            listener = Listener(listener.id, self.catalog.history(listener.id))
        if not listener.history and not request.context.seed and not request.context.words():
            who = f"listener '{listener.id}'" if listener.id else "the listener"
            raise DataError(
                f"{who} has an empty history; give a history, a seed or a context "
                "(mood, activity, time)"
            )
        for item in [*listener.history, *filter(None, [request.context.seed])]:
            self.catalog.item(item)
        k = self.k if request.k is None else request.k
        if k < 1:
            raise DataError(f"k must be at least 1, got {k}")
        resolved = dataclasses.replace(request, listener=listener, k=k)
        resolved.id = request.id or _request_id(resolved)
        return resolved

    def _retrieve(self, reqs: list[Request]) -> Sequence[list[Candidate]]:
        """Every retriever's candidates, merged, in blocks of :data:`RETRIEVE_BLOCK`: one
        :class:`~linernotes.candidates.CandidateBatch` where the merge gave batches."""
        out: list[Sequence[list[Candidate]]] = []
        for start in range(0, len(reqs), RETRIEVE_BLOCK):
            block = reqs[start : start + RETRIEVE_BLOCK]
            lists = {n: r.retrieve(block, quota) for n, (r, quota) in self.retrievers.items()}
            excludes = [
                {*req.listener.history, req.context.seed} if self.exclude_heard else set()
                for req in block
            ]
            out.append(merge_batch(lists, self.weights, self.candidates, excludes))
        if out and all(isinstance(b, CandidateBatch) for b in out):
            return out[0] if len(out) == 1 else CandidateBatch.concat(out)
        return [cs for block in out for cs in block]

    def _screen(self, packs: list[FactPack]) -> list[FactPack]:
        """Let every filter with a ``screen`` method clean the facts before generation."""
        for f in self.filters.values():
            screen = getattr(f, "screen", None)
            if screen is not None:
                packs = screen(packs)
        return packs

    def review(self, drafts: list[list[Draft]], packs: list[FactPack]) -> list[list[DraftReview]]:
        """Judge each pack's drafts with every safety filter, in order (a redaction carries on)."""
        flat = [(d, p) for ds, p in zip(drafts, packs, strict=True) for d in ds]
        current = [d for d, _ in flat]
        verdicts: list[list[Verdict]] = [[] for _ in flat]
        for name, f in self.filters.items():
            try:
                out = f.check(current, [p for _, p in flat])
            except Exception as e:
                out = [
                    Verdict(name, "block", [f"filter_error: {type(e).__name__}: {e}"]) for _ in flat
                ]
            for i, v in enumerate(out):
                verdicts[i].append(v)
                if v.action == "redact" and v.text is not None:
                    current[i] = Draft(v.text, current[i].generator)
        reviews: list[list[DraftReview]] = []
        i = 0
        for ds in drafts:
            reviews.append([DraftReview(current[i + j], verdicts[i + j]) for j in range(len(ds))])
            i += len(ds)
        return reviews

    def _components(self) -> dict[str, Any]:
        return {
            "dataset": self.catalog.name,
            "catalog_version": self.catalog.version,
            "retrievers": {n: r.name for n, (r, _) in self.retrievers.items()},
            "ranker": self.ranker.name,
            "rerankers": {n: r.name for n, r in self.rerankers.items()},
            "generator": self.generator.name,
            "fallback": self.fallback.name,
            "safety": {n: f.name for n, f in self.filters.items()},
        }


RRF_K = 60
"""The rank offset of reciprocal rank fusion (Cormack et al., 2009)."""

RETRIEVE_BLOCK = 256
"""Requests retrieved and merged together at most. A request's candidates do not depend
on its block; a larger block sorts more entries at once and takes longer per request (the
mirror's 1,512 listeners: 9.3 s at once, 6.7 s in blocks of 256)."""


def merge(
    lists: dict[str, list[Candidate]],
    weights: dict[str, float],
    budget: int,
    exclude: set[str | None] = frozenset(),
) -> list[Candidate]:
    """Union several retrievers' candidate lists into one, best first, at most ``budget``.

    Each candidate's score is its weighted reciprocal rank fusion,
    ``sum(weight / (RRF_K + rank))`` over the lists that propose it (weight 1
    for retrievers not in ``weights``); ``sources`` keeps every retriever's own
    score. Items in ``exclude`` (what the listener already plays) are dropped.
    Ties go to the smaller item id.
    """
    return merge_batch({name: [c] for name, c in lists.items()}, weights, budget, [exclude])[0]


def merge_batch(
    lists: dict[str, Sequence[list[Candidate]]],
    weights: dict[str, float],
    budget: int,
    excludes: Sequence[set[str | None]],
) -> Sequence[list[Candidate]]:
    """:func:`merge` for a batch at once: ``lists`` holds each retriever's candidate lists,
    one per request, and ``excludes`` each request's items to drop. Where every retriever
    gave a :class:`~linernotes.candidates.CandidateBatch` over the same items, the merge
    reads their columns and returns one too (the same candidates)."""
    batches = list(lists.values())
    if batches and all(isinstance(b, CandidateBatch) and b.ids is batches[0].ids for b in batches):
        return _merge_columns(lists, weights, budget, excludes)  # type: ignore[arg-type]
    size = len(excludes)
    entries: list[Candidate] = []
    rows, gains = [], []
    for name, per_request in lists.items():
        lengths = np.array([len(c) for c in per_request], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        ranks = np.arange(lengths.sum()) - np.repeat(starts, lengths) + 1
        rows.append(np.repeat(np.arange(len(per_request)), lengths))
        gains.append(weights.get(name, 1.0) / (RRF_K + ranks))
        entries.extend(c for cs in per_request for c in cs)
    if not entries:
        return [[] for _ in range(size)]
    codes: dict[str, int] = {}  # item id -> its code in this batch
    items = np.array([codes.setdefault(c.item_id, len(codes)) for c in entries], dtype=np.int64)
    width = len(codes)
    keys = np.concatenate(rows) * width + items  # (request, item) as one number
    dropped = [r * width + codes[i] for r, ex in enumerate(excludes) for i in ex if i in codes]
    keep = ~np.isin(keys, dropped)
    merged, group = np.unique(keys[keep], return_inverse=True)
    scores = np.bincount(group, weights=np.concatenate(gains)[keep])  # summed in list order
    merged_rows, merged_items = np.divmod(merged, width)
    names = list(codes)
    id_order = np.empty(width, dtype=np.int64)  # ties go to the smaller item id
    id_order[sorted(range(width), key=names.__getitem__)] = np.arange(width)
    order = np.lexsort((id_order[merged_items], -scores, merged_rows))
    ordered_rows = merged_rows[order]
    chosen = order[np.arange(len(order)) - np.searchsorted(ordered_rows, ordered_rows) < budget]
    slot = np.full(len(merged), -1)
    slot[chosen] = np.arange(len(chosen))
    sources: list[dict[str, float]] = [{} for _ in chosen]
    kept = (e for e, k in zip(entries, keep.tolist(), strict=True) if k)
    for entry, s in zip(kept, slot[group].tolist(), strict=True):
        if s >= 0:
            sources[s].update(entry.sources)
    out: list[list[Candidate]] = [[] for _ in range(size)]
    picks = zip(
        merged_rows[chosen].tolist(),
        merged_items[chosen].tolist(),
        scores[chosen].tolist(),
        sources,
        strict=True,
    )
    for r, i, score, found in picks:
        out[r].append(Candidate(names[i], score, found))
    return out


def _merge_columns(
    batches: dict[str, CandidateBatch],
    weights: dict[str, float],
    budget: int,
    excludes: Sequence[set[str | None]],
) -> CandidateBatch:
    """:func:`merge_batch` on the columns of candidate batches over the same ``ids``."""
    ids = next(iter(batches.values())).ids
    width = len(ids)
    keys = np.concatenate([b.rows * width + b.items for b in batches.values()])
    gains = np.concatenate([
        weights.get(name, 1.0) / (RRF_K + 1 + np.arange(len(b.items)) - b.offsets[b.rows])
        for name, b in batches.items()
    ])  # fmt: skip
    present = np.unique(keys % width).tolist()
    column = {ids[i]: i for i in present}
    dropped = [r * width + column[i] for r, ex in enumerate(excludes) for i in ex if i in column]
    keep = ~np.isin(keys, dropped)
    merged, group = np.unique(keys[keep], return_inverse=True)
    scores = np.bincount(group, weights=gains[keep])  # summed in the lists' order
    rows, items = np.divmod(merged, width)
    order = np.lexsort((id_ranks(ids)[items], -scores, rows))  # ties: the smaller item id
    starts = np.searchsorted(rows, np.arange(len(excludes)))
    within = np.arange(len(order)) - starts[rows[order]]
    chosen = order[within < budget]
    slot = np.full(len(merged), -1)
    slot[chosen] = np.arange(len(chosen))
    entry_slot = np.full(len(keys), -1)  # each entry's place among the chosen, or -1
    entry_slot[keep] = slot[group]
    sources: dict[str, np.ndarray] = {}
    start = 0
    for b in batches.values():  # a later list's value of a source wins, as dict.update does
        part = entry_slot[start : start + len(b.items)]
        for name, values in b.sources.items():
            found = (part >= 0) & ~np.isnan(values)
            sources.setdefault(name, np.full(len(chosen), np.nan))[part[found]] = values[found]
        start += len(b.items)
    return CandidateBatch.from_rows(
        len(excludes), rows[chosen], items[chosen], scores[chosen], sources, ids
    )


def _progress(show: bool):
    """A transient rich progress bar on stderr, when ``show`` and stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (*Progress.get_default_columns()[:-1], TimeElapsedColumn())
    return Progress(
        *columns, console=console, transient=True, disable=not (show and console.is_terminal)
    )


def _request_id(request: Request) -> str:
    """A stable id for a request without one: same listener, history and context, same id."""
    key = json.dumps(
        [
            request.listener.id,
            sorted(request.listener.history.items()),
            dataclasses.astuple(request.context),
            request.k,
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _picks(ranked: list[Candidate], pack: FactPack) -> list[Pick]:
    scored = {c.item_id: c for c in ranked}
    return [Pick(item, scored[item.id].score, scored[item.id].sources) for item in pack.picks]


def _story(draft: Draft, pack: FactPack, config_id: str, fallback: bool) -> Story:
    cites = {n: pack.facts[n - 1].id for n in draft.citations if 1 <= n <= len(pack.facts)}
    key = json.dumps([pack.request_id, pack.listener_id, config_id, draft.generator, draft.text])
    story_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Story(draft.text, draft.generator, cites, fallback, story_id, draft.sentences)


def build_pipeline(
    overrides: Sequence[str] = (), progress: bool = True, fit: bool = True
) -> Pipeline:
    """Compose the config with Hydra ``overrides`` and build the pipeline, fitted unless
    ``fit`` is False (see :meth:`Pipeline.from_config`)."""
    from .config import compose

    return Pipeline.from_config(compose(overrides), progress=progress, fit=fit)
