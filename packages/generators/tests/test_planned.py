"""The planned generator: code plans and cites, the model writes each sentence."""

import re
from math import inf
from typing import ClassVar

import pytest
from linernotes import Context, Draft, FactPack
from linernotes.testing import GeneratorContract
from linernotes.text import NameMatcher
from linernotes_generators import PlannedGenerator
from linernotes_generators.decoding import Line
from linernotes_generators.planned import (
    _FIRST_PERSON,
    _INTRODUCES,
    _IS_FAN,
    _MISCOUNTED,
    _NEGATIONS,
    _PICKS_PICKED,
    HEAD,
    INTRO_HEAD,
    INTRO_PROMPTS,
    _a_before_vowel,
    _called,
    _claims,
    _echoes,
    _first_person,
    _fragment,
    _miscast,
    _misplaced,
    _one_sentence,
    _outside_names,
    _stray_unit,
    _unfinished,
    load_golden,
    plan,
    prompt,
    tells_all,
)
from linernotes_safety import Grounding

# small budgets keep the real-model tests fast on a CPU
SMALL = {"sentences": 2, "samples": 1, "retries": 0, "shots": 1, "max_new_tokens": 12}
_FACT = re.compile(r"Fact: (.*)\n(?:Moment: .*\n)?(?:Place: .*\n)?Sentence:$")
INTRO = "A calm hour deserves these picks."  # the packs' mood is calm


class TestPlannedContract(GeneratorContract):
    @pytest.fixture
    def component(self, model_dir):
        return PlannedGenerator(**SMALL)


class Scripted(PlannedGenerator):
    """A planned generator whose "model" answers from a script: fact text -> candidates."""

    def __init__(self, script, **params):
        super().__init__(**{"intro_choices": 1, **params})  # a script writes one intro
        self.script = script
        self.rounds = 0

    def fit(self, catalog):
        from linernotes.cite import Citer

        self.citer = Citer(catalog)  # no model to load

    def _sample(self, prompts, seeds, samples):
        self.rounds += 1
        out = []
        for text in prompts:
            told = _FACT.search(text)
            fact = told.group(1) if told else ""  # "": the intro
            told = self.script(fact, self.rounds) or [""]
            out += [Line(told[k % len(told)], 0.0) for k in range(samples)]
        return out


def retold(fact: str, rounds: int) -> list[str]:
    """A faithful candidate: the fact in other words around it, or a fine intro."""
    return [f"Here is a pick for you, since {fact[0].lower()}{fact[1:]}" if fact else INTRO] * 4


@pytest.fixture(scope="module")
def world(tiny):
    catalog, packs = tiny
    grounding = Grounding()
    grounding.fit(catalog)
    return catalog, packs, grounding


def test_the_plan_tells_one_fact_per_top_pick_and_varies_the_kind(tiny):
    _, packs = tiny
    pack = packs[0]
    intro, *steps = plan(pack, sentences=4)
    assert (intro.place, intro.fact, intro.moment) == ("intro", None, "calm")
    picks = [p.id for p in pack.picks if any(f.item_id == p.id for f in pack.facts)][:4]
    assert [s.fact.item_id for s in steps] == picks
    assert [s.place for s in steps] == ["first", "middle", "middle", "last"]
    assert all(pack.facts[s.number - 1] is s.fact for s in steps)
    assert all(a.fact.kind != b.fact.kind for a, b in zip(steps, steps[1:], strict=False))
    assert not any(s.moment for s in steps)
    no_moment = FactPack(**{**pack.__dict__, "context": Context()})
    assert [s.fact for s in plan(no_moment)] == [s.fact for s in steps]  # no intro


def test_sentences_are_cited_by_code_and_pass_grounding(world):
    catalog, packs, grounding = world
    gen = Scripted(retold, samples=2)
    gen.fit(catalog)
    drafts = [d[0] for d in gen.generate(packs, 1)]
    for draft, verdict in zip(drafts, grounding.check(drafts, packs), strict=True):
        assert verdict.action == "pass", (draft.text, verdict.reasons)
        assert [s.writer for s in draft.sentences] == ["model"] * 5
        intro, *told = draft.sentences
        assert intro.text == INTRO and intro.facts == []
        assert all(f"[{s.facts[0]}]." in s.text for s in told)
        assert draft.text == " ".join(s.text for s in draft.sentences)
    assert gen.rounds == 2  # the moment's intro pool, then one round for every fact


def test_prompts_without_examples_name_the_place_and_intros_keep_theirs(world):
    catalog, packs, _ = world
    prompts = []

    class Recording(Scripted):
        def _sample(self, batch, seeds, samples):
            prompts.extend(batch)
            return super()._sample(batch, seeds, samples)

    gen = Recording(retold, shots=0, intro_shots=2)
    gen.fit(catalog)
    gen.generate(packs[:1], 1)
    *intros, first = prompts[: INTRO_PROMPTS + 1]
    last = prompts[-1]
    for intro in intros:  # the moment's pool: 2 examples + its own moment
        assert intro.startswith(INTRO_HEAD) and intro.count("Moment:") == 3
    assert first == prompt(plan(packs[0])[1])
    assert first.startswith(HEAD) and first.count("Fact:") == 1
    assert first.endswith("\nPlace: first\nSentence:") and last.endswith("Place: last\nSentence:")
    shown = load_golden()[30:31]
    assert "Place:" not in prompt(plan(packs[0])[1], shown)  # the examples show the place


def test_a_prompts_seed_depends_on_its_request_and_sentence_not_on_its_batch(world):
    catalog, packs, _ = world
    seen = []

    class Seeds(Scripted):
        def _sample(self, prompts, seeds, samples):
            seen.append(dict(zip(prompts, seeds, strict=True)))
            return super()._sample(prompts, seeds, samples)

    def seeds_of(batch):
        seen.clear()
        gen = Seeds(retold)
        gen.fit(catalog)
        gen.generate(batch, 1)
        return {p: s for call in seen for p, s in call.items() if "Fact:" in p}

    together, alone = seeds_of(packs), seeds_of(packs[1:2])
    assert alone and all(together[p] == s for p, s in alone.items())
    assert len(set(together.values())) == len(together)  # every prompt its own stream


def test_without_examples_a_sentence_avoids_the_words_of_the_story_so_far(world):
    catalog, packs, grounding = world
    pack = FactPack(**{**packs[0].__dict__, "context": Context()})
    first, second = [s.fact.text for s in plan(pack)[:2]]

    def script(fact, rounds):
        if fact == second:  # the same opening as the first sentence, or fresh words
            return [f"Here is a pick for you, since {fact}", f"Then try this one, as {fact}"]
        return retold(fact, rounds)

    gen = Scripted(script, samples=2, shots=0)
    gen.fit(catalog)
    draft = gen.generate([pack], 1)[0][0]
    assert draft.sentences[0].text.startswith("Here is a pick for you, since")
    assert draft.sentences[1].text.startswith("Then try this one, as")
    assert grounding.check([draft], [pack])[0].action == "pass"


def test_a_failing_sentence_is_resampled_alone_then_stood_in_for(world):
    catalog, packs, grounding = world

    def invents(fact, rounds):
        if "Rock Artist B" in fact:  # the second pick: an invented number, every time
            return ["Here is a calm pick, Rock Artist B, and 99 of your friends love it."]
        return retold(fact, rounds)

    gen = Scripted(invents, retries=1)
    gen.fit(catalog)
    draft = gen.generate(packs[:1], 1)[0][0]
    intro, first, second, *rest = draft.sentences
    assert second.writer == "fallback" and second.tries == 2 and "Rock Artist B" in second.text
    assert all(s.writer == "model" and s.tries == 1 for s in [intro, first, *rest])
    assert gen.rounds == 3  # the intro pool, then two rounds
    assert grounding.check([draft], packs[:1])[0].action == "pass"


class Unsure(Scripted):
    """Intros (-1.5 nats a token) and the first round's fact sentences (-1.0) are
    unlikely; later rounds' are not."""

    fact_rounds = 0

    def _sample(self, prompts, seeds, samples):
        lines = super()._sample(prompts, seeds, samples)
        facts = [_FACT.search(prompts[k // samples]) for k in range(len(lines))]
        self.fact_rounds += any(facts)
        fact_fluency = -1.0 if self.fact_rounds == 1 else -0.1
        return [
            Line(text, fact_fluency if fact else -1.5)
            for (text, _), fact in zip(lines, facts, strict=True)
        ]


@pytest.mark.parametrize(
    "fact_floor, intro_floor, fact_tries, intro",
    [
        (-0.65, -inf, 2, ("model", 1)),
        (-inf, -inf, 1, ("model", 1)),
        (-inf, -1.1, 1, ("fallback", 5)),  # the pool drew 1 + 4 retries times, all unlikely
    ],
)
def test_a_sentence_the_model_finds_unlikely_is_resampled_or_stood_in_for(
    world, fact_floor, intro_floor, fact_tries, intro
):
    catalog, packs, _ = world
    gen = Unsure(retold, min_fluency=fact_floor, min_intro_fluency=intro_floor)
    gen.fit(catalog)
    first, *told = gen.generate(packs[:1], 1)[0][0].sentences
    assert (first.writer, first.tries) == intro
    assert [(s.writer, s.tries) for s in told] == [("model", fact_tries)] * len(told)


POOL = [
    "For a calm night in, here is gentle music.",
    "Stay calm and let this music take its time.",
    "Keep it calm with these picks.",
    "A calm evening calls for this soundtrack.",
    INTRO,
]


class Pooled(Scripted):
    """Each intro row gets a candidate of :data:`POOL` in turn, the later the likelier
    (-0.5 to -0.1 nats a token); it records the intro prompts sampled."""

    intro_rows: ClassVar[list[str]] = []

    def _sample(self, prompts, seeds, samples):
        lines = super()._sample(prompts, seeds, samples)
        rows = [k for k in range(len(lines)) if not _FACT.search(prompts[k // samples])]
        type(self).intro_rows += [prompts[k // samples] for k in rows]
        for n, k in enumerate(rows):
            lines[k] = Line(POOL[n % len(POOL)], -0.5 + (n % len(POOL)) / 10)
        return lines


def test_intros_come_from_one_pool_per_moment_taken_by_seed_among_the_most_fluent(world):
    catalog, packs, grounding = world
    Pooled.intro_rows = []
    gen = Pooled(retold, samples=1, intro_pool=10, intro_choices=2)
    gen.fit(catalog)
    drafts = [d for batch in (packs[:2], packs[2:], packs[:1]) for (d,) in gen.generate(batch, 1)]
    # one pool for the moment "calm": INTRO_PROMPTS prompts of 10 / INTRO_PROMPTS samples
    assert len(Pooled.intro_rows) == INTRO_PROMPTS * 3 and len(set(Pooled.intro_rows)) > 1
    intros = [d.sentences[0] for d in drafts]
    assert {s.text for s in intros} == set(POOL[-2:])  # the 2 most fluent, by request
    assert all(s.writer == "model" and s.tries == 1 for s in intros)
    assert intros[0].text == intros[-1].text  # the same request takes the same intro
    assert all(v.action == "pass" for v in grounding.check(drafts, [*packs, packs[0]]))
    calm = gen._pools["calm"]
    assert len(calm) == 12 and gen.generate(packs[:1], 1) == [drafts[:1]]  # pool unchanged


def test_a_pool_short_of_passing_intros_draws_again(world):
    catalog, packs, _ = world

    class Late(Scripted):
        """The first draw's intros use no word of the moment; the later ones pass."""

        draws = 0

        def _sample(self, prompts, seeds, samples):
            lines = super()._sample(prompts, seeds, samples)
            if not any(_FACT.search(p) for p in prompts):  # a pool's draw
                self.draws += 1
                if self.draws == 1:
                    return [Line("Here is music for the hours ahead.", 0.0)] * len(lines)
            return lines

    gen = Late(retold)
    gen.fit(catalog)
    intro = gen.generate(packs[:1], 1)[0][0].sentences[0]
    assert (intro.text, intro.writer, intro.tries) == (INTRO, "model", 1) and gen.draws == 2


def test_a_pool_is_cached_on_disk_per_moment_and_parameters(world, tmp_path, monkeypatch):
    from linernotes.catalog import Catalog

    catalog, packs, _ = world
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    versioned = Catalog.from_tables(catalog.tables, catalog.name, "pools")

    def written(**params):
        Pooled.intro_rows = []
        gen = Pooled(retold, samples=1, **params)
        gen.fit(catalog)
        gen._pool_catalog = versioned  # as PlannedGenerator.fit does (no model here)
        story = gen.generate(packs[:2], 1)
        return len(Pooled.intro_rows), story

    rows, first = written()
    assert rows == 48 and len(list(tmp_path.rglob("intro-pool-*.bin"))) == 1
    assert written() == (0, first)  # loaded, not sampled again: the same stories
    assert written(intro_shots=2)[0] == 48  # another prompt: sampled afresh
    assert written(min_intro_fluency=-0.2, intro_choices=1)[0] == 0  # chosen afresh, same pool


@pytest.mark.parametrize(
    "candidate",
    [
        "Here is a pick for you.",  # names no pick and tells nothing
        "here is a pick, since {fact}",  # no capital
        "Here is a pick. It is great, since {fact}",  # two sentences
        "I love it, since {fact}",  # the first person
        "Here is it it it it it it, since {fact} {fact}",  # repetition
        "Here is a pick that Hip Hop Artist B loves, since {fact}",  # a name no fact supports
        "Here is the only calm pick of all, since {fact}",  # a claim no fact states
        "Here is a lovely pick, lovely still, since {fact}",  # a long word twice
        "Here is a odd pick for you, since {fact}",  # "a" before a vowel
        "Here is a pick you should not miss, since {fact}",  # a negation
    ],
)
def test_candidates_that_break_a_rule_are_never_chosen(world, candidate):
    catalog, packs, _ = world

    def bad(fact, rounds):
        return [candidate.format(fact=fact[0].lower() + fact[1:] if fact else "")] * 4

    gen = Scripted(bad, retries=0)
    gen.fit(catalog)
    draft = gen.generate(packs[:1], 1)[0][0]
    assert {s.writer for s in draft.sentences} == {"fallback"}


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("Then try Panic! At the Disco, emo to 15 listeners.", True),
        ("Martin L. Gore comes next, for 34 listeners.", True),
        ("of Montreal comes next, for 34 listeners.", True),  # a name spelt in lower case
        ("Then try Panic! It is emo to 15 listeners.", False),  # "Panic!" is no name
        ("Martin L. Gore comes next. He is played by 34 listeners.", False),
        ("then Martin L. Gore comes next.", False),
        ("Martin L. Gore comes next, for 34 listeners", False),
    ],
)
def test_a_sentence_breaks_only_inside_a_name(text, whole):
    names = NameMatcher(["Panic! At the Disco", "Martin L. Gore", "of Montreal"])
    assert (_one_sentence(text, names) == text) is whole


@pytest.mark.parametrize(
    ("text", "first_person"),
    [
        ("Then comes My Chemical Romance, played by 77 listeners.", False),
        ("My pick is My Chemical Romance, played by 77 listeners.", True),
        ("We love My Bloody Valentine.", True),
    ],
)
def test_a_name_speaks_in_no_first_person(text, first_person):
    names = NameMatcher(["My Chemical Romance", "My Bloody Valentine"])
    assert _first_person(text, names.find(text)) is first_person


@pytest.mark.parametrize(
    ("text", "fan"),
    [
        ("Lady Gaga is a fan of Britney Spears, and 342 listeners agree.", True),
        ("The Beatles are fans of U2: 71 listeners.", True),
        ("My Chemical Romance is not a fan of 1 of your friends.", True),
        ("Sigur Rós is where many fans of Radiohead land next, 82 listeners.", False),
        ("Lady Gaga fans also play Britney Spears: 342 listeners.", False),
    ],
)
def test_no_artist_is_called_a_fan_of_another(text, fan):
    """Co-listening says that listeners play both, never that one artist is a fan."""
    names = NameMatcher(["Lady Gaga", "The Beatles", "My Chemical Romance", "Sigur Rós"])
    assert any(_IS_FAN.match(text, m.end) for m in names.find(text)) is fan


def test_a_fact_that_keeps_failing_gives_way_to_its_picks_next_fact(world):
    catalog, packs, grounding = world
    first = plan(packs[0])[2]  # the second pick's planned fact (after the intro), and its spare
    spare_number, spare = first.spares[0]

    def stuck(fact, rounds):
        if fact == first.fact.text:
            return ["Here is a calm pick, Rock Artist B, and 99 of your friends love it."]
        return retold(fact, rounds)

    gen = Scripted(stuck, retries=1)
    gen.fit(catalog)
    draft = gen.generate(packs[:1], 1)[0][0]
    second = draft.sentences[2]
    assert second.writer == "model" and second.tries == 2
    assert spare_number in second.facts and spare.text[:-1].lower() in second.text.lower()
    assert grounding.check([draft], packs[:1])[0].action == "pass"


def test_numbers_count_what_their_fact_counts_and_nothing_comes_twice():
    colisten = "301 listeners who play Britney Spears also play Katy Perry."
    assert not _stray_unit("Katy Perry, loved by 301 fans of Britney Spears.", [], colisten)
    assert _stray_unit("Katy Perry has 301 songs.", [], colisten)
    assert _stray_unit("Katy Perry is the next Britney Spears, 301.", [], colisten)
    assert not _stray_unit("Nas, hip hop since 2006.", [], "Nas was first tagged hip hop in 2006.")
    friends = "34 of your friends play Lady Gaga."
    assert not _stray_unit("Lady Gaga, played by 34 of your friends.", [], friends)
    assert _stray_unit("Lady Gaga, played 34 times by friends.", [], friends)
    assert _echoes("Study, studying Björk for the study.", [])
    assert not _echoes("Study with Björk, a favourite of friends.", [])


@pytest.mark.parametrize(
    "intro",
    [
        "Here is music for the hours ahead.",  # no word of the moment
        "A calm hour deserves Rock Artist B.",  # names an artist
        "A calm hour deserves these 3 picks.",  # a number
        "Keep things calm with a few picks that never raise their voice.",  # an example's copy
        "A calm hour is a time to be.",  # introduces nothing: no picks, no music
        "A calm hour deserves these pick.",  # "these pick"
        "For a calm hour, pick these picks.",  # picks picked again
        "A calm hour is a day, a day, a day for picks.",  # a phrase repeated
    ],
)
def test_the_intro_sets_the_moment_and_states_nothing(world, intro):
    catalog, packs, grounding = world
    pack = FactPack(**{**packs[0].__dict__, "context": Context(mood="calm")})

    def script(fact, rounds):
        return retold(fact, rounds) if fact else [intro] * 4

    gen = Scripted(script, retries=0, shots=30)  # shows every calm intro example
    gen.fit(catalog)
    first = gen.generate([pack], 1)[0][0].sentences[0]
    assert first.writer == "fallback" and first.facts == []
    assert first.text == "Here are picks for this calm moment."
    gen = Scripted(retold, retries=0)
    gen.fit(catalog)
    draft = gen.generate([pack], 1)[0][0]
    assert draft.sentences[0].text == INTRO and draft.sentences[0].writer == "model"
    assert grounding.check([draft], [pack])[0].action == "pass"


def test_shared_listeners_are_not_told_backwards(world):
    catalog, packs, _ = world
    step = next(
        s for s in plan(packs[0]) if s.fact is not None and s.fact.kind == "colisten_history"
    )
    pick, other = step.fact.values["name"], step.fact.values["artist"]
    n = step.fact.values["shared"]

    def backwards(fact, rounds):
        if fact == step.fact.text:
            return [f"Here is {other}, a pick of {n} listeners who play {pick}."]
        return retold(fact, rounds)

    gen = Scripted(backwards, retries=0)
    gen.fit(catalog)
    told = gen.generate(packs[:1], 1)[0][0].sentences
    assert next(s for s in told if pick in s.text).writer == "fallback"


def test_a_sentence_must_tell_every_detail_of_its_fact(tiny):
    _, packs = tiny
    stats = next(f for f in packs[0].facts if f.kind == "stats")
    listeners, plays = stats.values["listeners"], stats.values["plays"]
    name = stats.values["name"]
    assert tells_all(stats, f"{name}: {plays:,} plays from {listeners} listeners.")
    assert not tells_all(stats, f"{name} has {listeners} listeners.")
    tag = next(f for f in packs[0].facts if f.kind == "tag")
    told = f"{tag.values['name']} is {tag.values['tag']} to {tag.values['listeners']} listeners."
    assert tells_all(tag, told)
    assert not tells_all(tag, f"{tag.values['name']} has {tag.values['listeners']} fans.")


# the names in each kind of fact, for matching the golden sentences' names
_FACT_NAMES = [
    re.compile(r"^[\d,]+ listeners who play (?P<artist>.+) also play (?P<name>.+)\.$"),
    re.compile(r"^[\d,]+ listeners of (?P<name>.+) also play (?P<other>.+)\.$"),
    re.compile(r"^[\d,]+ of your friends plays? (?P<name>.+)\.$"),
    re.compile(r"^[\d,]+ listeners tagged (?P<name>.+) as .+\.$"),
    re.compile(r"^(?P<name>.+) was first tagged .+ in \d+\.$"),
    re.compile(r"^(?P<name>.+) has [\d,]+ listeners in this catalog, .+\.$"),
]


def test_golden_sentences_obey_the_rules_their_candidates_must():
    """An example that claims what no fact states ("whose songs", "a hit", "keep him
    close"), miscasts an artist or is no whole sentence teaches the model candidates that
    the checks then reject."""
    from linernotes import Fact
    from linernotes.text import tokens

    golden = [g for g in load_golden() if g.place != "intro"]
    values = []
    for g in golden:
        match = next(m for p in _FACT_NAMES if (m := p.match(g.fact)))
        values.append(match.groupdict())
    names = NameMatcher(sorted({v for found in values for v in found.values()}))
    broken = []
    for g, found in zip(golden, values, strict=True):
        fact = Fact("golden", "golden", g.kind, g.fact, found)
        named = names.find(g.text)
        words = _outside_names(g.text, named)
        said = _outside_names(g.fact, names.find(g.fact))
        if (
            _claims(words, said)
            or not _FIRST_PERSON.isdisjoint(words)
            or _miscast(g.text, named, fact)
            or _called(g.text, named)
            or _fragment(g.text, named)
            or _unfinished(g.text, named)
            or _misplaced(g.text, g.place)
            or not _NEGATIONS.isdisjoint(words)
            or _a_before_vowel(g.text, named)
        ):
            broken.append(g.text)
    assert broken == []
    intros = [g.text for g in load_golden() if g.place == "intro"]
    assert [t for t in intros if _claims([w for w, _, _ in tokens(t)], ())] == []
    assert [t for t in intros if _INTRODUCES.isdisjoint(w for w, _, _ in tokens(t))] == []
    assert [t for t in intros if _MISCOUNTED.search(t) or _a_before_vowel(t, [])] == []
    assert [t for t in intros if _PICKS_PICKED.search(t)] == []


@pytest.mark.parametrize(
    ("text", "miscast"),
    [
        ("The Beatles are The Killers, and 104 listeners agree.", True),
        ("Rihanna is 274 listeners who keep Beyoncé close.", True),
        ("Lady Gaga is where many Britney Spears fans land next, 342 listeners.", True),
        ("Lady Gaga has fans who play Britney Spears, 342 listeners.", True),
        (
            "If Lady Gaga is on your playlist, Britney Spears is next, and 342 listeners agree.",
            False,
        ),
        ("Britney Spears is a natural match for Lady Gaga, and 342 listeners play both.", False),
        ("Britney Spears comes next, a pick 342 listeners who play Lady Gaga made.", False),
        ("Britney Spears is next; 342 listeners who play Lady Gaga have made room.", False),
        ("From Britney Spears, it is a short trip to Lady Gaga: 342 listeners.", True),
        ("From Lady Gaga, it is a short trip to Britney Spears: 342 listeners.", False),
        ("You play Britney Spears, and so do 342 listeners who play Lady Gaga.", True),
        ("If you play Lady Gaga, try Britney Spears, as 342 listeners do.", False),
        ("If Lady Gaga is on your playlist, you are a fan of Britney Spears: 342.", True),
        ("The Beatles are a fan favorite of The Killers, and 104 listeners agree.", True),
        ("Britney Spears is a fan favorite of 342 listeners who play Lady Gaga.", False),
        ("Then turn to Lady Gaga, a favourite of 342 listeners who love Britney Spears.", True),
        ("Then let Lady Gaga take over, since 342 Britney Spears listeners made the move.", True),
        ("Then turn to Britney Spears, a favourite of 342 listeners who play Lady Gaga.", False),
    ],
)
def test_no_artist_is_cast_as_another_or_as_a_number(text, miscast):
    """Of the fact "342 listeners who play Lady Gaga also play Britney Spears": the pick is
    Britney Spears, new to the listener, and the listener's own Lady Gaga is neither the
    sentence's subject nor where it comes from."""
    from linernotes import Fact

    fact = Fact(
        "f",
        "britney",
        "colisten_history",
        "342 listeners who play Lady Gaga also play Britney Spears.",
        {"name": "Britney Spears", "artist": "Lady Gaga", "shared": 342},
    )
    names = NameMatcher(
        ["Lady Gaga", "Britney Spears", "The Beatles", "The Killers", "Rihanna", "Beyoncé"]
    )
    assert _miscast(text, names.find(text), fact) is miscast


@pytest.mark.parametrize(
    ("text", "called"),
    [
        ("Muse is a powerful instrument, with 141 listeners who play Radiohead.", True),
        ("Maria Rita is a drink that 6 listeners who play Los Hermanos make.", True),
        ("Suede is the latest in the britpop family, and 8 listeners agree.", True),
        ("Muse is a natural match for Radiohead, and 141 listeners play both.", False),
        ("Muse is already a fan favorite, with 141 listeners who play Radiohead.", False),
        ("Muse is the next stop on the line, picked up by 141 listeners.", False),
        ("Muse are another pick 3 of your friends already love.", False),
        ("Muse is where 141 listeners who play Radiohead land next.", False),
    ],
)
def test_an_artist_is_called_nothing_but_a_pick(text, called):
    """No fact says what an artist is, so "<artist> is a ..." may only name a role in the
    listener's playlist (a match, a pick, a favourite, the next stop)."""
    names = NameMatcher(["Muse", "Radiohead", "Maria Rita", "Los Hermanos", "Suede"])
    assert _called(text, names.find(text)) is called


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Lady Gaga, a favorite of 34 of your friends.", True),
        ("And Ultravox, a pick 1 of your friends already plays.", True),
        ("After that, The Yardbirds, which 14 listeners who play The Beatles have found.", True),
        ("Ultravox; 24 listeners who play The Beatles have them on.", True),
        ("Next, Ultravox, played by 77 fans of The Beatles, keeps the lights low.", False),
        ("Cool down with Ultravox, alternative rock to 15 listeners.", False),
        ("Lady Gaga is next, a favorite of 34 of your friends.", False),
        ("And let Lady Gaga, already loved by 11 of your friends.", True),
        ("And let Lady Gaga, already loved by 11 of your friends, finish the day.", False),
        ("Let Lady Gaga have the last word; 3 of your friends already do.", False),
    ],
)
def test_a_sentence_is_more_than_a_name_and_a_phrase(text, fragment):
    names = NameMatcher(["Lady Gaga", "Ultravox", "The Yardbirds", "The Beatles"])
    assert _fragment(text, names.find(text)) is fragment


@pytest.mark.parametrize(
    ("text", "unfinished"),
    [
        ("Then breathe along with Sia, as 20 listeners who play Coldplay.", True),
        ("Follow with Nickelback, a pick 24 listeners who play Three Days Grace.", True),
        ("Then hand the stage to Sia, a pick 41 listeners who play Coldplay have made.", False),
        ("Then breathe along with Sia, as 20 listeners who play Coldplay do.", False),
        ("Sia is a favorite of 20 listeners who play Coldplay.", False),
        ("Sia is a fine pick; 34 listeners who play Coldplay as well.", True),
        ("After that, try Nickelback: 17 listeners who play Three Days Grace.", True),
        ("Then reach for Sia, since 21 listeners who also play Coldplay.", True),
        ("Next, stir in Sia; 14 listeners who play Coldplay have them on as well.", False),
        ("Let Sia take the next course; 38 listeners who love Coldplay do the same.", False),
    ],
)
def test_a_sentence_does_not_stop_before_its_last_verb(text, unfinished):
    names = NameMatcher(["Sia", "Coldplay", "Nickelback", "Three Days Grace"])
    assert _unfinished(text, names.find(text)) is unfinished


@pytest.mark.parametrize(
    ("text", "place", "misplaced"),
    [
        ("And Gwen Stefani starts the set, already played by 1 of your friends.", "last", True),
        ("Judas Priest makes a good start, and 1 of your friends already plays it.", "last", True),
        ("Start with P!nk, who already has 28 of your friends listening.", "first", False),
        ("Start with P!nk, who already has 28 of your friends listening.", "middle", True),
        ("And to finish, Kruder & Dorfmeister, first called chillout in 2008.", "middle", True),
        ("And to finish, Kruder & Dorfmeister, first called chillout in 2008.", "last", False),
        ("Close with Empusae and the 348 plays from 1 listener here.", "first", True),
        ("Joy Division shares 53 listeners with The Cure, who keep both close.", "first", False),
        ("Let Bon Iver wrap you in the gentle folk 21 listeners cherish.", "first", False),
        ("Burial follows, first tagged dubstep by listeners back in 2006.", "middle", False),
    ],
)
def test_only_the_first_sentence_opens_and_only_the_last_closes(text, place, misplaced):
    assert _misplaced(text, place) is misplaced


def test_claims_are_read_outside_names():
    """A name's words claim nothing ("King" in B.B. King); "him" of an artist claims a
    gender no fact states, and "a band" what the artist is."""
    names = NameMatcher(["B.B. King", "Queen", "Miley Cyrus"])
    fact = "2 of your friends play Queen."
    said = _outside_names(fact, names.find(fact))
    for text, claims in [
        ("B.B. King is next, a pick 2 of your friends play.", False),
        ("Queen is the queen of rock for 2 of your friends.", True),
        ("Miley Cyrus is next: 203 listeners keep him close.", True),
        ("Miley Cyrus is next, a band 2 of your friends play.", True),
    ]:
        assert _claims(_outside_names(text, names.find(text)), said) is claims, text


def test_what_golden_sentences_add_to_their_facts_passes_the_toxicity_filter(tiny):
    """The model copies phrases from its examples, and one the filter blocks ("the pot
    simmers") costs the whole story. The words of each example's fact (names such as
    John Lee Hooker) are blanked: facts are screened on their own."""
    from linernotes.text import tokens
    from linernotes_safety import Toxicity

    def added(golden):
        said = {t for t, _, _ in tokens(golden.fact)}
        text = golden.text
        for token, start, end in reversed(tokens(text)):
            if token in said:
                text = text[:start] + " " * (end - start) + text[end:]
        return text

    catalog, packs = tiny
    toxicity = Toxicity()
    toxicity.fit(catalog)
    golden = load_golden()
    drafts = [Draft(added(g), "golden") for g in golden]
    verdicts = toxicity.check(drafts, [packs[0]] * len(golden))
    blocked = [(d.text, v.reasons) for d, v in zip(drafts, verdicts, strict=True) if v.reasons]
    assert blocked == []


def test_golden_sentences_ship_and_bad_files_fail_clearly(tmp_path):
    golden = load_golden()
    assert len({g.fact for g in golden}) >= 150
    assert {g.place for g in golden} == {"intro", "first", "middle", "last"}
    intros = [g for g in golden if g.place == "intro"]
    assert len(intros) >= 20 and all(g.moment and not g.fact for g in intros)
    bad = tmp_path / "golden.toml"
    bad.write_text("[[story]]\nmoment = 'x'\n")
    with pytest.raises(Exception, match="bad golden sentences file"):
        PlannedGenerator(golden=str(bad))


@pytest.mark.parametrize(
    "param", ["samples", "sentences", "batch_size", "intro_pool", "intro_choices"]
)
def test_bad_parameters_fail_with_the_rule(param):
    with pytest.raises(ValueError, match=f"{param} must be at least 1"):
        PlannedGenerator(**{param: 0})


@pytest.mark.parametrize("floor", ["min_fluency", "min_intro_fluency"])
def test_a_fluency_floor_is_a_number_or_fails_clearly(floor):
    assert getattr(PlannedGenerator(**{floor: "-inf"}), floor) == -inf
    with pytest.raises(ValueError, match=f"^{floor} must be a mean log-probability"):
        PlannedGenerator(**{floor: "low"})


@pytest.mark.slow
@pytest.mark.parametrize("option", ["planned", "planned_story"])
def test_the_shipped_models_write_grounded_stories_for_real_listeners(model_dir, option):
    import linernotes

    pipe = linernotes.build_pipeline([f"generator={option}"], progress=False)
    assert pipe.generator.name == "planned"
    ids = ["2", "3", "4", "6"]
    results = pipe.run(
        [linernotes.Request(linernotes.Listener(i), Context(mood="rainy")) for i in ids]
    )
    auditor = Grounding()
    auditor.fit(pipe.catalog)
    written = 0
    for r in results:
        assert auditor.check([Draft(r.story.text, "")], [r.facts])[0].action == "pass"
        written += not r.story.fallback and all(s.writer == "model" for s in r.story.sentences)
        assert "rainy" in r.story.text.lower() or r.story.sentences[0].writer != "model"
    assert written >= 3, [r.story.text for r in results]
