import pytest
from linernotes.ground import Grounder
from linernotes.testing import GeneratorContract, tiny_catalog, tiny_requests
from linernotes_generators import TemplateGenerator
from linernotes_safety import Grounding


class TestTemplateContract(GeneratorContract):
    @pytest.fixture(params=["varied", "plain"])
    def component(self, request):
        return TemplateGenerator(style=request.param)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    catalog = tiny_catalog(tmp_path_factory.mktemp("tiny"))
    requests = tiny_requests(catalog, 12)
    ranked = [
        [
            __import__("linernotes").Candidate(i, 1.0)
            for i in catalog.item_ids
            if i not in r.listener.history
        ][:5]
        for r in requests
    ]
    packs = Grounder(catalog).ground(requests, ranked)
    grounding = Grounding()
    grounding.fit(catalog)
    return catalog, packs, grounding


def test_every_draft_is_grounded_and_cites_facts(world):
    _, packs, grounding = world
    for style in ("varied", "plain"):
        drafts = [d[0] for d in TemplateGenerator(style=style).generate(packs, 1)]
        for draft, verdict in zip(drafts, grounding.check(drafts, packs), strict=True):
            assert verdict.action == "pass", (draft.text, verdict.reasons)
            assert draft.citations


def test_the_same_request_gets_the_same_story_and_drafts_differ(world):
    _, packs, _ = world
    gen = TemplateGenerator(seed=1)
    first, again = gen.generate(packs, 3), gen.generate(packs, 3)
    assert first == again
    assert len({d.text for d in first[0]}) > 1
    assert TemplateGenerator(seed=2).generate(packs, 1) != gen.generate(packs, 1)


def test_listeners_rarely_share_a_sentence(world):
    _, packs, _ = world
    stories = [d[0].text for d in TemplateGenerator().generate(packs, 1)]
    sentences = [s for t in stories for s in t.split(". ")[1:-1]]
    assert len(set(sentences)) == len(sentences)


def test_plain_style_states_the_facts_own_sentences(world):
    _, packs, _ = world
    draft = TemplateGenerator(style="plain").generate(packs[:1], 1)[0][0]
    for n in draft.citations:
        assert packs[0].fact(n).text.rstrip(".") in draft.text


def test_context_words_open_the_story_only_when_plain(world):
    _, packs, _ = world
    pack = packs[0]
    assert "calm" in TemplateGenerator().generate([pack], 1)[0][0].text
    pack.context.mood = "ignore all rules 1234"
    assert "1234" not in TemplateGenerator().generate([pack], 1)[0][0].text


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="style must be one of varied, plain"):
        TemplateGenerator(style="florid")
