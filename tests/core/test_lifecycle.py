"""The pipeline's stages, hooks, timings and fallback rule, on the tiny catalog."""

import threading

import pytest
from linernotes import Draft, Listener, PipelineError, Request, Verdict, hookimpl
from linernotes.ground import Grounder
from linernotes.pipeline import Pipeline
from linernotes.plugins import register_plugin, unregister_plugin
from linernotes.registry import get_registry
from linernotes.testing import tiny_catalog


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


def build(catalog, ranker=None, generator=None, filters=None):
    reg = get_registry()
    pipe = Pipeline(
        catalog,
        {
            "colisten": (reg.create("retriever", "colisten"), 50),
            "popular": (reg.create("retriever", "popular"), 10),
        },
        ranker or reg.create("ranker", "popcolisten", {"sources": ["colisten"]}),
        generator or reg.create("generator", "template"),
        reg.create("generator", "template", {"style": "plain"}),
        filters if filters is not None else {"grounding": reg.create("safety_filter", "grounding")},
        Grounder(catalog),
        k=5,
    )
    pipe.fit()
    return pipe


def requests(catalog, n=3):
    return [Request(Listener(lid)) for lid in catalog.listener_ids[:n]]


class Recorder:
    """Implements every hook: registers one component of each kind and records the stages."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def register_datasets(self, register):
        from linernotes.datasets.hetrec import HetRec2011

        register(type("RecordedDataset", (HetRec2011,), {"name": "recorded-dataset"}))

    @hookimpl
    def register_retrievers(self, register):
        from linernotes_retrievers import Popular

        register(type("RecordedRetriever", (Popular,), {"name": "recorded-retriever"}))

    @hookimpl
    def register_rankers(self, register):
        from linernotes_rankers import PopularityCoListening

        register(type("RecordedRanker", (PopularityCoListening,), {"name": "recorded-ranker"}))

    @hookimpl
    def register_generators(self, register):
        from linernotes_generators import TemplateGenerator

        register(type("RecordedGenerator", (TemplateGenerator,), {"name": "recorded-generator"}))

    @hookimpl
    def register_safety_filters(self, register):
        from linernotes_safety import Grounding

        register(type("RecordedFilter", (Grounding,), {"name": "recorded-filter"}))

    @hookimpl
    def before_stage(self, stage, requests):
        self.calls.append(("before", stage, len(requests)))

    @hookimpl
    def after_stage(self, stage, requests, output, seconds):
        assert len(output) == len(requests) and seconds >= 0
        self.calls.append(("after", stage, len(requests)))

    @hookimpl
    def on_stage_error(self, stage, requests, error):
        self.calls.append(("error", stage, type(error).__name__))


@pytest.fixture
def recorder():
    rec = Recorder()
    register_plugin(rec, name="recorder")
    yield rec
    unregister_plugin("recorder")


def test_registration_hooks_add_components(recorder):
    reg = get_registry()
    for kind, name in [
        ("dataset", "recorded-dataset"),
        ("retriever", "recorded-retriever"),
        ("ranker", "recorded-ranker"),
        ("generator", "recorded-generator"),
        ("safety_filter", "recorded-filter"),
    ]:
        assert reg.entries[kind][name].plugin == "recorder"


def test_lifecycle_hooks_see_every_stage_in_order(catalog, recorder):
    pipe = build(catalog)
    results = pipe.run(requests(catalog))
    stages = ["retrieve", "rank", "ground", "screen", "generate", "safety"]
    assert [c for c in recorder.calls if c[0] != "error"] == [
        (when, s, 3) for s in stages for when in ("before", "after")
    ]
    for r in results:
        assert set(stages) <= set(r.trace.timings)
        assert all(v >= 0 for v in r.trace.timings.values())


def test_a_failing_ranker_raises_a_pipeline_error_naming_the_stage(catalog, recorder):
    class Broken:
        name = "broken"

        def fit(self, catalog):
            pass

        def rank(self, requests, candidates):
            raise ZeroDivisionError("boom")

    with pytest.raises(PipelineError, match="stage 'rank' failed: ZeroDivisionError: boom"):
        build(catalog, ranker=Broken()).run(requests(catalog, 1))
    assert ("error", "rank", "ZeroDivisionError") in recorder.calls


class FailingGenerator:
    name = "failing"

    def fit(self, catalog):
        pass

    def generate(self, packs, n):
        raise RuntimeError("model fell over")


def test_a_failing_generator_falls_back_to_the_template(catalog, recorder):
    [result] = build(catalog, generator=FailingGenerator()).run(requests(catalog, 1))
    assert result.story is not None and result.story.fallback
    assert result.trace.fallback
    assert any("generator failed: RuntimeError: model fell over" in e for e in result.trace.events)
    assert ("error", "generate", "RuntimeError") in recorder.calls


def test_a_filter_that_errors_blocks_the_draft(catalog):
    class Crashing:
        name = "crashing"

        def fit(self, catalog):
            pass

        def check(self, drafts, packs):
            raise ValueError("bad filter")

    [result] = build(catalog, filters={"crashing": Crashing()}).run(requests(catalog, 1))
    assert result.story is None
    verdict = result.reviews[0].verdicts[0]
    assert (
        verdict.action == "block" and "filter_error: ValueError: bad filter" in verdict.reasons[0]
    )
    assert "no draft and no fallback passed the safety filters" in result.trace.events


def test_a_redacting_filter_changes_the_delivered_text(catalog):
    class Redactor:
        name = "redactor"

        def fit(self, catalog):
            pass

        def check(self, drafts, packs):
            return [
                Verdict(self.name, "redact", ["tidy"], [], d.text.replace("Enjoy.", "").strip())
                for d in drafts
            ]

    [result] = build(catalog, filters={"redactor": Redactor()}).run(requests(catalog, 1))
    assert result.story is not None and "Enjoy." not in result.story.text


def test_first_passing_draft_is_delivered_and_trace_says_no_fallback(catalog):
    [result] = build(catalog).run(requests(catalog, 1))
    assert result.story is not None and not result.story.fallback and not result.trace.fallback
    assert result.story.text == result.reviews[0].draft.text


def test_an_ungrounded_draft_leads_to_the_verified_fallback(catalog):
    class Inventor:
        name = "inventor"

        def fit(self, catalog):
            pass

        def generate(self, packs, n):
            return [
                [Draft("Their 1999 world tour was legendary [99].", self.name)] * n for _ in packs
            ]

    [result] = build(catalog, generator=Inventor()).run(requests(catalog, 1))
    assert not result.reviews[0].passed
    reasons = result.reviews[0].verdicts[0].reasons
    assert "citation_invalid: [99] points to no fact" in reasons
    assert "unsupported_number: 1999" in reasons
    assert result.trace.fallback and result.story is not None and result.story.fallback
    assert result.reviews[-1].passed and result.story.generator == "template"
    assert "no draft passed the safety filters; used the fallback" in result.trace.events


class MeetingGenerator:
    """The template generator, whose fit passes only while the ranker's fit runs too."""

    name = "meeting"

    def __init__(self, meeting, threads):
        self.meeting = meeting
        self.threads = threads
        self.inner = get_registry().create("generator", "template")

    def fit(self, catalog):
        self.threads.append(threading.current_thread())
        self.meeting.wait()  # raises BrokenBarrierError when fits run one after the other
        self.inner.fit(catalog)

    def generate(self, packs, n):
        return self.inner.generate(packs, n)


class MeetingRanker:
    """The popcolisten ranker, whose fit passes only while the generator's fit runs too."""

    name = "meeting"

    def __init__(self, meeting):
        self.meeting = meeting
        self.inner = get_registry().create("ranker", "popcolisten", {"sources": ["colisten"]})

    def fit(self, catalog):
        self.meeting.wait()
        self.inner.fit(catalog)

    def rank(self, requests, candidates):
        return self.inner.rank(requests, candidates)


def test_the_generator_fits_in_the_background_while_the_ranker_fits(catalog):
    meeting, threads = threading.Barrier(2, timeout=30), []
    pipe = build(catalog, MeetingRanker(meeting), MeetingGenerator(meeting, threads))
    assert threads and threads[0] is not threading.main_thread()
    assert pipe.recommend(listener=catalog.listener_ids[0]).story is not None


def test_a_generator_whose_fit_fails_fails_the_pipeline_fit(catalog):
    class BrokenModel:
        name = "broken-model"

        def fit(self, catalog):
            raise OSError("no weights here")

        def generate(self, packs, n):
            return []

    with pytest.raises(OSError, match="no weights here"):
        build(catalog, generator=BrokenModel())
