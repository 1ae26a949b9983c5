"""The batch (vectorised) retrieval, merge and ranking give the picks of the simple
per-request logic they replaced, kept here as the reference, on 200 mirror listeners."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from linernotes import Candidate, Context, Listener, Request
from linernotes.pipeline import RRF_K

pytestmark = pytest.mark.slow


def _heard(req, index, seed=True):
    items = [*req.listener.history, *([req.context.seed] if seed else [])]
    return {index[i] for i in items if i in index}


def _top(scores, n, heard, ids, name, positive=True):
    """The n best items of a dense row or (columns, values) not heard, ties by column."""
    cols, vals = scores if isinstance(scores, tuple) else (np.arange(len(scores)), scores)
    order = np.lexsort((cols, -vals))
    picked = [
        (cols[j], float(vals[j]))
        for j in order
        if cols[j] not in heard and (vals[j] > 0 or not positive)
    ][:n]
    return [Candidate(ids[c], s, {name: s}) for c, s in picked]


def colisten(r, req, n):
    index, ids = r.catalog.item_index, r.catalog.item_ids
    weights = {i: np.log1p(p) for i, p in req.listener.history.items() if i in index}
    if req.context.seed in index:
        seed = req.context.seed
        weights[seed] = weights.get(seed, 0) + max(sum(weights.values()), 1.0)
    query = np.zeros(len(ids))
    for item, w in weights.items():
        query[index[item]] = w
    row = sp.csr_matrix(query) @ r.similarity
    return _top((row.indices, row.data), n, _heard(req, index, seed=False), ids, r.name)


def social(r, req, n):
    catalog = r.catalog
    index, people = catalog.item_index, catalog.listener_index
    own = np.zeros(len(index))
    for item, p in req.listener.history.items():
        if item in index:
            own[index[item]] = np.log1p(p)
    friends = [people[f] for f in catalog.friends(req.listener.id) if f in people]
    dots = r.plays[friends] @ own
    cosine = dots / np.maximum(np.linalg.norm(own) * r.norms[friends], 1e-12)
    weights = sp.csr_matrix(
        (1 + r.overlap_weight * cosine, (np.zeros(len(friends), int), friends)),
        shape=(1, len(people)),
    )
    row = (weights @ r.plays).tocsr()
    return _top((row.indices, row.data), n, _heard(req, index), catalog.item_ids, r.name, False)


def tags(r, req, n):
    index, item_tags = r.catalog.item_index, r.item_tags
    rows = [index[i] for i in req.listener.history if i in index]
    q = np.zeros(len(item_tags.tags))
    if rows:
        w = np.log1p(
            np.array([req.listener.history[i] for i in req.listener.history if i in index])
        )
        totals = item_tags.shares[rows].T @ w
        order = np.lexsort((np.arange(len(totals)), -totals))[: r.profile_tags]
        keep = [(t, float(totals[t])) for t in order if totals[t] > 0]
        for t, v in keep:
            q[t] = v / sum(x for _, x in keep)
    context = item_tags.vector(r.words.tags(req.context.words()))
    if context.sum() > 0:
        q += r.context_weight * context / context.sum()
    if req.context.seed in index:
        own = item_tags.shares[index[req.context.seed]].toarray().ravel()
        q += own / own.sum() if own.sum() > 0 else 0
    scores = (sp.csr_matrix(q) @ r.scores).toarray().ravel()
    return _top(scores, n, _heard(req, index), r.catalog.item_ids, r.name)


def context(r, req, n):
    index = r.catalog.item_index
    scores = np.zeros(len(index))
    words = r.item_tags.vector(r.words.tags(req.context.words()))
    if words.sum() > 0:
        fit = r.item_tags.shares @ (words / words.max())
        scores += fit * r.popularity**r.popularity_weight
    if req.context.seed in index:
        near = colisten(r.colisten, Request(Listener(), req.context), n + len(req.listener.history))
        for c in near:
            scores[index[c.item_id]] += c.score / near[0].score
    return _top(scores, n, _heard(req, index), r.catalog.item_ids, r.name)


def merge(lists, weights, budget, exclude):
    merged: dict[str, Candidate] = {}
    for name, candidates in lists.items():
        for rank, c in enumerate(candidates, 1):
            if c.item_id not in exclude:
                m = merged.setdefault(c.item_id, Candidate(c.item_id, 0.0, {}))
                m.sources.update(c.sources)
                m.score += weights.get(name, 1.0) / (RRF_K + rank)
    return sorted(merged.values(), key=lambda c: (-c.score, c.item_id))[:budget]


REFERENCE = {"colisten": colisten, "social": social, "tags": tags, "context": context}


@pytest.fixture(scope="module")
def requests(pipeline):
    """200 mirror listeners; some with a mood and an activity, some with a seed artist."""
    items = pipeline.catalog.item_ids
    out = []
    for n, listener in enumerate(pipeline.catalog.listener_ids[:200]):
        req = pipeline.request(listener=listener)
        seed = items[n * 7] if n % 5 == 2 else None
        words = ("rainy late night", "dinner") if n % 3 == 1 else (None, None)
        req = dataclasses.replace(req, context=Context(None, *words, seed))
        out.append(pipeline._resolve(req))
    return out


def same(got, want):
    assert [c.item_id for c in got] == [c.item_id for c in want]
    for g, w in zip(got, want, strict=True):
        assert g.score == pytest.approx(w.score, rel=1e-9, abs=1e-12)
        assert g.sources == pytest.approx(w.sources, rel=1e-9, abs=1e-12)


def test_the_default_retrievers_and_the_merge_give_the_reference_picks(pipeline, requests):
    merged = pipeline._retrieve(requests)
    for name, (retriever, quota) in pipeline.retrievers.items():
        got = retriever.retrieve(requests, quota)
        for req, cands in zip(requests, got, strict=True):
            same(cands, REFERENCE[name](retriever, req, quota))
    for n, req in enumerate(requests):
        lists = {name: REFERENCE[name](r, req, q) for name, (r, q) in pipeline.retrievers.items()}
        exclude = {*req.listener.history, req.context.seed}
        same(merged[n], merge(lists, pipeline.weights, pipeline.candidates, exclude))


def test_the_blend_ranks_a_batch_as_it_ranks_each_request(pipeline, requests):
    merged = pipeline._retrieve(requests)
    ranked = pipeline.ranker.rank(requests, merged)
    features = pipeline.ranker.features(requests, merged)
    start = 0
    for req, cands, got in zip(requests, merged, ranked, strict=True):
        np.testing.assert_allclose(  # the tag match is float32 (BLAS: a row or a block)
            pipeline.ranker.features([req], [cands]),
            features[start : start + len(cands)],
            rtol=1e-6,
            atol=1e-9,
        )
        start += len(cands)
        same(got, pipeline.ranker.rank([req], [cands])[0])
        same(got, sorted(got, key=lambda c: (-c.score, c.item_id)))
        assert {c.item_id for c in got} == {c.item_id for c in cands}
