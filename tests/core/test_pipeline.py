"""The default pipeline end to end on the mirror's real Last.fm data."""

import pytest
from linernotes import Context, DataError, Listener, Request
from linernotes.text import NameMatcher, name_key


@pytest.fixture(scope="module")
def matcher(pipeline):
    return NameMatcher(pipeline.catalog.items["name"].to_list())


def named_artists(matcher, text):
    return {name_key(m.name) for m in matcher.find(text)}


def test_listener_2_gets_picks_and_a_grounded_story(pipeline, matcher):
    result = pipeline.recommend(listener="2")
    history = set(pipeline.catalog.history("2"))
    assert len(result.picks) == 10
    assert not {p.item.id for p in result.picks} & history
    scores = [p.score for p in result.picks]
    assert scores == sorted(scores, reverse=True)
    story = result.story
    assert story is not None and story.citations
    fact_ids = {f.id for f in result.facts.facts}
    for n, fact_id in story.citations.items():
        assert fact_id in fact_ids and result.facts.fact(n).id == fact_id
    allowed = {name_key(p.item.name) for p in result.picks}
    allowed |= {name_key(pipeline.catalog.item(i).name) for i in history}
    assert named_artists(matcher, story.text) <= allowed
    assert named_artists(matcher, story.text) & {name_key(p.item.name) for p in result.picks}


def test_retrieval_in_blocks_gives_every_request_the_same_candidates(pipeline, monkeypatch):
    import linernotes.pipeline as module

    ids = pipeline.catalog.listener_ids[:7]
    requests = [pipeline._resolve(Request(Listener(i), Context(mood="calm"))) for i in ids]
    whole = pipeline._retrieve(requests)
    monkeypatch.setattr(module, "RETRIEVE_BLOCK", 3)  # blocks of 3, 3 and 1
    assert pipeline._retrieve(requests) == whole
    assert all(whole)


def test_a_batch_serves_every_listener_the_same_as_one_by_one(pipeline):
    ids = pipeline.catalog.listener_ids[:25]
    batch = pipeline.run([Request(Listener(i)) for i in ids])
    assert [r.request.listener.id for r in batch] == ids
    for i in (0, 7, 24):
        alone = pipeline.recommend(listener=ids[i])
        assert [p.item.id for p in alone.picks] == [p.item.id for p in batch[i].picks]
        assert alone.story.text == batch[i].story.text


def test_stories_vary_between_listeners(pipeline):
    results = pipeline.run([Request(Listener(i)) for i in pipeline.catalog.listener_ids[:40]])
    sentences = [s for r in results for s in r.story.text.split(". ")[1:-1]]
    assert len(set(sentences)) > 0.9 * len(sentences)


def test_an_inline_history_serves_an_unknown_listener(pipeline):
    request = pipeline.request(
        history=["radiohead", "portished", "no such band zzzq"], k=5, mood="mellow"
    )
    result = pipeline.recommend(request)
    names = {pipeline.catalog.item(i).name for i in request.listener.history}
    assert names == {"Radiohead", "Portishead"}
    assert len(result.picks) == 5 and result.story is not None
    assert "no artist matches 'no such band zzzq'; ignored" in result.trace.events
    assert "mellow" in result.story.text


def test_a_seed_alone_is_a_cold_start(pipeline):
    result = pipeline.recommend(seed="Massive Attack", k=5)
    seed = pipeline.catalog.match_names(["Massive Attack"])["Massive Attack"]
    assert result.request.context.seed == seed
    assert seed not in {p.item.id for p in result.picks}
    assert len(result.picks) == 5 and result.story is not None


def test_a_history_and_a_seed_both_count(pipeline):
    plain = pipeline.recommend(history=["Metallica"], k=10)
    seeded = pipeline.recommend(history=["Metallica"], seed="Miles Davis", k=10)
    assert [p.item.id for p in plain.picks] != [p.item.id for p in seeded.picks]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"listener": "99999"}, "unknown listener '99999'"),
        ({"history": ["zzzqqq xxyyww"]}, "no artist in the catalog matches"),
        ({"listener": "2", "seed": "zzzqqq xxyyww"}, "no artist in the catalog matches the seed"),
    ],
)
def test_bad_requests_fail_clearly(pipeline, kwargs, message):
    with pytest.raises(DataError, match=message):
        pipeline.recommend(**kwargs)


def test_an_empty_history_without_a_seed_fails(pipeline):
    with pytest.raises(DataError, match="empty history"):
        pipeline.run([Request(Listener(None, {}), Context())])


def test_every_listener_gets_a_story_that_passes_grounding(pipeline):
    results = pipeline.run([Request(Listener(i)) for i in pipeline.catalog.listener_ids])
    assert all(r.story is not None for r in results)
    first_draft = sum(not r.trace.fallback for r in results)
    assert first_draft / len(results) > 0.95


def test_on_fallback_gets_the_verified_fallback_before_generation(pipeline):
    seen = []

    def on_fallback(results):
        assert "generate" not in results[0].trace.timings  # called before generation
        seen.append(results)

    requests = [Request(Listener("2")), Request(Listener("3"), Context(mood="mellow"))]
    results = pipeline.run(requests, on_fallback=on_fallback)
    [early] = seen
    for fallback, result in zip(early, results, strict=True):
        assert fallback.request.id == result.request.id
        assert [p.item.id for p in fallback.picks] == [p.item.id for p in result.picks]
        assert fallback.trace.fallback and fallback.story.fallback
        assert fallback.story.generator == pipeline.fallback.name
        assert fallback.reviews and all(r.fallback for r in fallback.reviews)
        assert (
            fallback.trace is not result.trace and fallback.trace.events is not result.trace.events
        )
    assert pipeline.run(requests)[0].story.text == results[0].story.text


def test_run_fallback_serves_the_fallback_without_generating(pipeline):
    requests = [Request(Listener("2")), Request(Listener("3"), Context(mood="mellow"))]
    fallbacks = pipeline.run_fallback(requests)
    results = pipeline.run(requests)
    for fallback, result in zip(fallbacks, results, strict=True):
        assert "generate" not in fallback.trace.timings
        assert fallback.story.fallback and fallback.story.generator == pipeline.fallback.name
        assert fallback.story.citations
        assert [p.item.id for p in fallback.picks] == [p.item.id for p in result.picks]
