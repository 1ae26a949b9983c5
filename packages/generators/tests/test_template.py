import copy
import re

import pytest
from linernotes import Context
from linernotes.ground import Grounder
from linernotes.testing import GeneratorContract, tiny_catalog, tiny_requests
from linernotes_generators import TemplateGenerator
from linernotes_safety import Grounding


class TestTemplateContract(GeneratorContract):
    @pytest.fixture(params=["varied", "plain", "story"])
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
    for style in ("varied", "plain", "story"):
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


def test_story_style_tells_a_short_cited_story_about_the_picks(world):
    _, packs, grounding = world
    drafts = [d[0] for d in TemplateGenerator(style="story").generate(packs, 1)]
    for draft, pack, verdict in zip(drafts, packs, grounding.check(drafts, packs), strict=True):
        assert verdict.action == "pass", (draft.text, verdict.reasons)
        sentences = re.split(r"(?<=\.) ", draft.text)
        assert 3 <= len(sentences) <= 5, draft.text
        assert all(re.search(r"\[\d+\]\.$", s) for s in sentences), draft.text
        assert 40 <= len(draft.text.split()) <= 100, draft.text
        with_facts = [p.name for p in pack.picks if any(f.item_id == p.id for f in pack.facts)]
        assert sum(name in draft.text for name in with_facts) >= min(3, len(with_facts))
        if pack.context.mood == "calm":  # (another test gives packs[0] a mood that is no word)
            assert "calm moment" in sentences[0], draft.text


def test_story_style_sets_a_moment_with_the_right_article(world):
    _, packs, _ = world
    for mood, phrase in (("energetic", "an energetic moment"), ("rainy", "a rainy moment")):
        pack = copy.deepcopy(packs[0])
        pack.context = Context(mood=mood)
        text = TemplateGenerator(style="story").generate([pack], 1)[0][0].text
        assert phrase in text.lower(), text


def test_story_style_opens_without_a_context_and_is_deterministic(world):
    _, packs, _ = world
    pack = copy.deepcopy(packs[0])
    pack.context = Context()
    gen = TemplateGenerator(seed=3, style="story")
    story = gen.generate([pack], 2)
    assert story == gen.generate([pack], 2)
    assert "moment" not in story[0][0].text
    assert TemplateGenerator(seed=4, style="story").generate(packs, 1) != gen.generate(packs, 1)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="style must be one of varied, plain, story"):
        TemplateGenerator(style="florid")
