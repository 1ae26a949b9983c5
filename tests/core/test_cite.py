"""Post-hoc citation: sentences are cited with the facts that support what they state."""

import pytest
from linernotes import Candidate
from linernotes.cite import Citer
from linernotes.ground import Grounder
from linernotes.testing import tiny_catalog, tiny_requests
from linernotes.text import number_words


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    catalog = tiny_catalog(tmp_path_factory.mktemp("tiny"))
    request = tiny_requests(catalog, 1)[0]
    ranked = [Candidate(i, 1.0) for i in catalog.item_ids if i not in request.listener.history]
    pack = Grounder(catalog).ground([request], [ranked[:5]])[0]
    return Citer(catalog), pack


def number_of(pack, kind, name):
    return next(
        n for n, f in enumerate(pack.facts, 1) if f.kind == kind and f.values["name"] == name
    )


def test_a_sentence_is_cited_with_the_fact_that_supports_it(setup):
    citer, pack = setup
    n = number_of(pack, "colisten_history", "Rock Artist A")
    aligned = citer.align("Fans of Jazz Artist C should try Rock Artist A, 2 of them do.", pack)
    assert aligned.problems == []
    assert aligned.facts == [n]
    assert aligned.text == f"Fans of Jazz Artist C should try Rock Artist A, 2 of them do [{n}]."


def test_the_planned_fact_is_preferred_and_every_claim_is_covered(setup):
    citer, pack = setup
    tag = number_of(pack, "tag", "Rock Artist B")
    friends = number_of(pack, "friends", "Rock Artist B")
    aligned = citer.align(
        "Rock Artist B is rock to 5 listeners, and 1 of your friends plays it!", pack, [tag]
    )
    assert aligned.problems == []
    assert aligned.facts == sorted([tag, friends])
    assert aligned.text.endswith(f"[{min(tag, friends)}] [{max(tag, friends)}]!")


@pytest.mark.parametrize(
    "sentence,problem",
    [
        ("Rock Artist A has 99 listeners.", "number '99'"),
        ("Nine of your friends play Rock Artist B.", "number 'Nine'"),
        ("Rock Artist A sounds like Hip Hop Artist B.", "unsupported_name: 'Hip Hop Artist B'"),
        ("Rock Artist A is pure jazz.", "tag 'jazz'"),
    ],
)
def test_what_no_fact_supports_is_a_problem(setup, sentence, problem):
    citer, pack = setup
    assert problem in citer.align(sentence, pack).problems


def test_context_words_need_no_citation(setup):
    citer, pack = setup
    pack.context.mood = "jazz"
    try:
        aligned = citer.align("Some jazz for you.", pack)
    finally:
        pack.context.mood = None
    assert aligned.problems == [] and aligned.facts == [] and aligned.text == "Some jazz for you."


def test_number_words_are_numbers():
    assert [v for v, _, _ in number_words("Three friends, twice, a dozen and twenty")] == [
        3.0,
        2.0,
        12.0,
        20.0,
    ]
