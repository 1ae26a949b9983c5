import pytest
from linernotes import Context, Draft, Fact, FactPack, Item
from linernotes.testing import SafetyFilterContract, tiny_catalog
from linernotes_safety import Grounding


class TestGroundingContract(SafetyFilterContract):
    @pytest.fixture
    def component(self):
        return Grounding()


@pytest.fixture(scope="module")
def grounding(tmp_path_factory):
    catalog = tiny_catalog(tmp_path_factory.mktemp("tiny"))
    g = Grounding()
    g.fit(catalog)
    return g


PACK = FactPack(
    "r1",
    "7",
    picks=[Item("1", "Rock Artist A"), Item("2", "Rock Artist B")],
    history=[Item("3", "Rock Artist C")],
    facts=[
        Fact(
            "f1",
            "1",
            "stats",
            "Rock Artist A has 12 listeners, with 3,456 plays in all.",
            {"name": "Rock Artist A", "listeners": 12, "plays": 3456},
        ),
        Fact(
            "f2",
            "1",
            "tag_year",
            "Rock Artist A was first tagged rock in 2007.",
            {"name": "Rock Artist A", "tag": "rock", "year": 2007},
        ),
    ],
)


def grounding_with_artist(tmp_path, old: str, new: str) -> Grounding:
    """A grounding filter fitted on the tiny catalog with artist ``old`` renamed ``new``."""
    from linernotes.catalog import Catalog
    from linernotes.datasets.hetrec import HetRec2011
    from linernotes.testing import write_tiny_dataset

    sources = write_tiny_dataset(tmp_path / "raw")
    artists = sources["lastfm"] / "artists.dat"
    artists.write_text(artists.read_text().replace(old, new))
    (tmp_path / "bundle").mkdir()
    HetRec2011().build(sources, tmp_path / "bundle")
    g = Grounding()
    g.fit(Catalog(tmp_path / "bundle"))
    return g


def verdict(grounding, text, pack=PACK):
    return grounding.check([Draft(text, "t")], [pack])[0]


def test_a_story_of_cited_facts_passes(grounding):
    v = verdict(
        grounding,
        "ROCK ARTIST A has 12 listeners and 3,456 plays [1]. "
        "Enjoy it. It got the rock tag in 2007 [2].",
    )
    assert v.action == "pass", v.reasons


def test_an_invented_number_is_blocked_with_its_span(grounding):
    text = "Rock Artist A has 13 listeners [1]."
    v = verdict(grounding, text)
    assert v.action == "block" and v.reasons == ["unsupported_number: 13"]
    assert [text[a:b] for a, b in v.spans] == ["13"]


def test_a_number_in_words_must_be_supported_too(grounding):
    v = verdict(grounding, "Rock Artist A has twelve listeners, not three [1].")
    assert v.action == "block" and v.reasons == ["unsupported_number: three"]


def test_a_number_must_come_from_a_fact_cited_in_its_sentence(grounding):
    v = verdict(grounding, "Rock Artist A was tagged in 2007 [1]. It has 12 listeners [2].")
    assert v.reasons == ["unsupported_number: 2007", "unsupported_number: 12"]


def test_a_catalog_artist_outside_picks_and_history_is_blocked(grounding):
    v = verdict(grounding, "Like jazz artist a, Rock Artist A has 12 listeners [1].")
    assert v.action == "block" and v.reasons == ["unsupported_name: 'Jazz Artist A'"]


def test_citations_must_exist(grounding):
    assert verdict(grounding, "Rock Artist A [3].").reasons[0] == (
        "citation_invalid: [3] points to no fact"
    )
    assert verdict(grounding, "Rock Artist A rocks.").codes == ["citation_missing", "uncited_name"]


def test_a_citation_after_the_full_stop_belongs_to_its_sentence(grounding):
    assert verdict(grounding, "Rock Artist A has 12 listeners. [1] Enjoy.").action == "pass"


def test_a_name_with_full_stops_does_not_split_sentences(tmp_path):
    g = grounding_with_artist(tmp_path, "Rock Artist A", "B.B. King")
    pack = FactPack(
        "r",
        None,
        [Item("1", "B.B. King")],
        [],
        [
            Fact(
                "f",
                "1",
                "stats",
                "B.B. King has 12 listeners.",
                {"name": "B.B. King", "listeners": 12},
            )
        ],
    )
    assert verdict(g, "Try B.B. King: 12 listeners love it [1].", pack).action == "pass"


def test_words_quoted_from_a_cited_fact_are_not_names(grounding):
    pack = FactPack(
        "r",
        None,
        [Item("1", "Rock Artist A")],
        [],
        [
            Fact(
                "f",
                "1",
                "tag",
                "3 listeners tagged Rock Artist A as jazz artist b.",
                {"name": "Rock Artist A", "tag": "jazz artist b", "listeners": 3},
            )
        ],
    )
    assert (
        verdict(grounding, "Rock Artist A carries the jazz artist b tag [1].", pack).action
        == "pass"
    )
    v = verdict(grounding, "Rock Artist A is like Jazz Artist B.", pack)
    assert "unsupported_name: 'Jazz Artist B'" in v.reasons


def test_a_name_made_of_a_quoted_tag_and_function_words_is_not_a_name(tmp_path):
    g = grounding_with_artist(tmp_path, "Jazz Artist A", "The K")
    pack = FactPack(
        "r",
        None,
        [Item("1", "Rock Artist A")],
        [],
        [
            Fact(
                "f",
                "1",
                "tag_year",
                "Rock Artist A was first tagged k-pop in 2010.",
                {"name": "Rock Artist A", "tag": "k-pop", "year": 2010},
            )
        ],
    )
    assert (
        verdict(g, "For Rock Artist A, the k-pop tag goes back to 2010 [1].", pack).action == "pass"
    )
    assert verdict(g, "Rock Artist A opened for The K in 2010 [1].", pack).reasons == [
        "unsupported_name: 'The K'"
    ]


def test_a_history_artist_needs_a_cited_fact_that_mentions_it(grounding):
    pack = FactPack(
        "r",
        None,
        PACK.picks,
        PACK.history,
        PACK.facts
        + [
            Fact(
                "f3",
                "1",
                "colisten_history",
                "5 listeners who play Rock Artist C also play Rock Artist A.",
                {"name": "Rock Artist A", "artist": "Rock Artist C", "shared": 5},
            )
        ],
    )
    assert verdict(grounding, "Fans of Rock Artist C agree.", pack).codes == [
        "citation_missing",
        "uncited_name",
    ]
    assert (
        verdict(grounding, "5 fans of Rock Artist C play Rock Artist A [3].", pack).action == "pass"
    )
    assert verdict(grounding, "Fans of Rock Artist C love it [1].", pack).codes == ["uncited_name"]


def test_tag_words_must_come_from_cited_facts_or_the_context(grounding):
    assert verdict(grounding, "Rock Artist A is pure jazz with 12 listeners [1].").reasons == [
        "unsupported_tag: 'jazz'"
    ]
    assert verdict(grounding, "Rock Artist A, tagged rock in 2007 [2].").action == "pass"
    calm = FactPack("r", None, PACK.picks, [], PACK.facts, context=Context(mood="jazz"))
    assert (
        verdict(grounding, "Jazz tonight: Rock Artist A has 12 listeners [1].", calm).action
        == "pass"
    )


def test_claims_record_every_check(grounding):
    v = verdict(grounding, "Rock Artist A has 13 listeners [1].")
    kinds = {(c.kind, c.text, c.supported) for c in v.claims}
    assert ("name", "Rock Artist A", True) in kinds
    assert ("number", "13", False) in kinds and ("citation", "[1]", True) in kinds
    assert any(c.kind == "sentence" for c in v.claims)
