"""Contract tests for plugin authors, and a tiny synthetic catalog to run them on.

Subclass the contract for your component kind in your package's tests and
provide a ``component`` fixture (an unfitted instance)::

    from linernotes.testing import RetrieverContract

    class TestMyRetriever(RetrieverContract):
        @pytest.fixture
        def component(self):
            return MyRetriever(depth=3)

Each contract fits the component on :func:`tiny_catalog` and checks what every
pipeline relies on: batch shapes, types, names, determinism, and (retrievers,
rankers, safety filters) that a fit loaded from :mod:`linernotes.cache` behaves
like a fresh one. Requires pytest (``pip install linernotes[testing]``).
"""

from __future__ import annotations

import copy
import inspect
import random
from pathlib import Path
from typing import ClassVar

import pytest

from . import components
from .candidates import CandidateBatch
from .catalog import Catalog
from .ground import Grounder
from .types import Candidate, Context, Draft, FactPack, Listener, Request, Verdict

GENRES = ("rock", "jazz", "ambient", "hip hop")
TINY_GENRES_CSV = "genre_id,name,disambiguation,relations_wiki\n" + "".join(
    f"https://musicbrainz.org/genre/{n},{g},,\n" for n, g in enumerate(GENRES)
)


def write_tiny_dataset(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Write a small HetRec-format world into ``folder``: 4 genres x 8 artists, 40 listeners.

    Listeners mostly play one genre, so co-listening has structure to find. One
    tag is profane, to show that screening keeps it out of facts. Returns the
    ``sources`` mapping that :meth:`HetRec2011.build` takes.
    """
    rng = random.Random(seed)
    lastfm, genres = folder / "hetrec2011-lastfm-2k", folder / "musicbrainz-genres"
    lastfm.mkdir(parents=True, exist_ok=True)
    genres.mkdir(parents=True, exist_ok=True)
    artists = [
        (g * 8 + a + 1, f"{genre.title()} Artist {chr(65 + a)}", g)
        for g, genre in enumerate(GENRES)
        for a in range(8)
    ]
    rows = ["id\tname\turl\tpictureURL"]
    rows += [f"{i}\t{name}\thttp://www.last.fm/music/{i}\t" for i, name, _ in artists]
    (lastfm / "artists.dat").write_text("\n".join(rows) + "\n", encoding="utf-8")
    tags = [*GENRES, "fucking awesome"]
    (lastfm / "tags.dat").write_bytes(
        ("tagID\ttagValue\n" + "".join(f"{n + 1}\t{t}\n" for n, t in enumerate(tags))).encode(
            "latin-1"
        )
    )
    plays, tagged, friends = (
        ["userID\tartistID\tweight"],
        ["userID\tartistID\ttagID\tday\tmonth\tyear"],
        ["userID\tfriendID"],
    )
    for user in range(1, 41):
        genre = user % len(GENRES)
        own = [a for a in artists if a[2] == genre]
        other = [a for a in artists if a[2] != genre]
        for artist in rng.sample(own, 5) + rng.sample(other, 1):
            plays.append(f"{user}\t{artist[0]}\t{rng.randint(10, 5000)}")
            tag = GENRES.index(GENRES[artist[2]]) + 1 if rng.random() < 0.8 else len(tags)
            tagged.append(
                f"{user}\t{artist[0]}\t{tag}\t1\t{rng.randint(1, 12)}\t{rng.randint(2005, 2010)}"
            )
        for friend in rng.sample(range(1, 41), 3):
            if friend != user:
                friends.append(f"{user}\t{friend}")
    for name, lines in (
        ("user_artists", plays),
        ("user_taggedartists", tagged),
        ("user_friends", friends),
    ):
        (lastfm / f"{name}.dat").write_text("\n".join(lines) + "\n")
    (genres / "genre.csv").write_text(TINY_GENRES_CSV)
    return {"lastfm": lastfm, "genres": genres}


def tiny_catalog(folder: Path) -> Catalog:
    """Build and load the tiny catalog in ``folder`` (raw files and bundle)."""
    from .datasets.hetrec import HetRec2011

    sources = write_tiny_dataset(folder / "raw")
    out = folder / "bundle"
    out.mkdir(parents=True, exist_ok=True)
    HetRec2011().build(sources, out)
    return Catalog(out)


def tiny_requests(catalog: Catalog, n: int = 4) -> list[Request]:
    """``n`` requests for the first listeners of ``catalog``, with their histories."""
    return [
        Request(Listener(lid, catalog.history(lid)), Context(mood="calm"), k=5, id=f"r{lid}")
        for lid in catalog.listener_ids[:n]
    ]


class ComponentContract:
    """What every component must do: a name, plain parameters, the kind's protocol, ``fit``."""

    kind: ClassVar[str] = ""

    @pytest.fixture
    def component(self):
        raise NotImplementedError("provide a `component` fixture returning an unfitted instance")

    @pytest.fixture(scope="class")
    @classmethod
    def catalog(cls, tmp_path_factory) -> Catalog:
        return tiny_catalog(tmp_path_factory.mktemp("tiny"))

    @pytest.fixture
    def fitted(self, component, catalog):
        component.fit(catalog)
        return component

    @pytest.fixture
    def requests(self, catalog) -> list[Request]:
        return tiny_requests(catalog)

    def test_has_a_name(self, component):
        assert isinstance(type(component).name, str) and type(component).name

    def test_satisfies_the_protocol(self, component):
        assert isinstance(component, components.KINDS[self.kind])

    def test_parameters_have_plain_defaults(self, component):
        for p in inspect.signature(type(component)).parameters.values():
            if p.default is not p.empty:
                assert p.default is None or isinstance(
                    p.default, str | int | float | bool | list | tuple | dict
                ), p.name


class _CachedFitContract(ComponentContract):
    """Fitted state that :func:`linernotes.cache.cached` stores behaves the same when loaded."""

    def outputs(self, fitted, catalog: Catalog, requests: list[Request]):
        """What a fitted component computes for the contract's requests."""
        raise NotImplementedError

    def test_a_fit_loaded_from_the_cache_behaves_the_same(
        self, component, catalog, requests, tmp_path, monkeypatch
    ):
        monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
        versioned = Catalog.from_tables(catalog.tables, catalog.name, "contract")
        fresh, loaded = copy.deepcopy(component), copy.deepcopy(component)
        fresh.fit(versioned)  # fits and stores
        loaded.fit(versioned)  # loads what it can
        assert self.outputs(loaded, versioned, requests) == self.outputs(fresh, versioned, requests)


class RetrieverContract(_CachedFitContract):
    """A retriever returns, per request, at most ``n`` new, known, scored candidates."""

    kind = "retriever"

    def outputs(self, fitted, catalog, requests):
        return fitted.retrieve(requests, 10)

    def test_one_list_per_request(self, fitted, requests):
        assert len(fitted.retrieve(requests, 10)) == len(requests)

    def test_empty_batch(self, fitted):
        assert fitted.retrieve([], 10) == []

    def test_candidates_are_known_new_and_tagged(self, fitted, requests, catalog):
        for req, cands in zip(requests, fitted.retrieve(requests, 10), strict=True):
            assert len(cands) <= 10
            ids = [c.item_id for c in cands]
            assert len(ids) == len(set(ids))
            for c in cands:
                assert isinstance(c, Candidate)
                assert c.item_id in catalog.item_index
                assert c.item_id not in req.listener.history
                assert fitted.name in c.sources

    def test_deterministic(self, fitted, requests):
        assert fitted.retrieve(requests, 10) == fitted.retrieve(requests, 10)

    def test_a_candidate_batch_is_over_the_catalogs_items(self, fitted, requests, catalog):
        """A :class:`CandidateBatch` over the catalog's own ``item_ids`` is merged on its
        columns; over another list, it is merged as lists."""
        out = fitted.retrieve(requests, 10)
        if isinstance(out, CandidateBatch):
            assert out.ids is catalog.item_ids


class RankerContract(_CachedFitContract):
    """A ranker returns each request's candidates, all of them, best first."""

    kind = "ranker"

    @pytest.fixture
    def candidates(self, catalog, requests) -> list[list[Candidate]]:
        return _candidates(catalog, requests)

    def outputs(self, fitted, catalog, requests):
        return fitted.rank(requests, _candidates(catalog, requests))

    def test_ranks_every_candidate_once(self, fitted, requests, candidates):
        ranked = fitted.rank(requests, candidates)
        assert len(ranked) == len(requests)
        for before, after in zip(candidates, ranked, strict=True):
            assert sorted(c.item_id for c in after) == sorted(c.item_id for c in before)

    def test_best_first(self, fitted, requests, candidates):
        for ranked in fitted.rank(requests, candidates):
            scores = [c.score for c in ranked]
            assert scores == sorted(scores, reverse=True)

    def test_empty_batch(self, fitted):
        assert fitted.rank([], []) == []

    def test_a_candidate_batch_ranks_as_its_lists(self, fitted, requests, candidates, catalog):
        """Given the same candidates as a :class:`CandidateBatch`, the same ranking."""
        rows = [r for r, cs in enumerate(candidates) for _ in cs]
        scores = [c.score for cs in candidates for c in cs]
        items = [catalog.item_index[c.item_id] for cs in candidates for c in cs]
        columns = CandidateBatch.from_rows(
            len(candidates), rows, items, scores, {"test": scores}, catalog.item_ids
        )
        assert list(fitted.rank(requests, columns)) == list(fitted.rank(requests, candidates))


def _candidates(catalog: Catalog, requests: list[Request]) -> list[list[Candidate]]:
    """Twelve unheard candidates per request, scored 1, 1/2, 1/3..."""
    out = []
    for req in requests:
        new = [i for i in catalog.item_ids if i not in req.listener.history][:12]
        out.append(
            [Candidate(i, 1.0 / (n + 1), {"test": 1.0 / (n + 1)}) for n, i in enumerate(new)]
        )
    return out


def _packs(catalog: Catalog, requests: list[Request]) -> list[FactPack]:
    """Fact packs for each request's first five unheard items."""
    ranked = [
        [Candidate(i, 1.0) for i in catalog.item_ids if i not in r.listener.history][:5]
        for r in requests
    ]
    return Grounder(catalog).ground(requests, ranked)


class _PackContract(ComponentContract):
    @pytest.fixture
    def packs(self, catalog, requests) -> list[FactPack]:
        return _packs(catalog, requests)


class GeneratorContract(_PackContract):
    """A generator writes ``n`` drafts per pack, names itself, and cites only existing facts."""

    kind = "generator"

    def test_n_drafts_per_pack(self, fitted, packs):
        drafts = fitted.generate(packs, 2)
        assert [len(d) for d in drafts] == [2] * len(packs)

    def test_drafts_are_named_text(self, fitted, packs):
        for drafts in fitted.generate(packs, 1):
            for d in drafts:
                assert isinstance(d, Draft) and isinstance(d.text, str)
                assert d.generator == fitted.name

    def test_citations_resolve(self, fitted, packs):
        for pack, drafts in zip(packs, fitted.generate(packs, 1), strict=True):
            for d in drafts:
                assert all(pack.fact(n) is not None for n in d.citations), d.text

    def test_empty_batch(self, fitted):
        assert fitted.generate([], 1) == []


class SafetyFilterContract(_PackContract, _CachedFitContract):
    """A filter returns one verdict per draft, named, with valid actions and spans."""

    kind = "safety_filter"

    @pytest.fixture
    def drafts(self, packs) -> list[Draft]:
        return _drafts(packs)

    def outputs(self, fitted, catalog, requests):
        packs = _packs(catalog, requests)
        screened = fitted.screen(packs) if hasattr(fitted, "screen") else None
        return fitted.check(_drafts(packs), packs), screened

    def test_one_verdict_per_draft(self, fitted, drafts, packs):
        verdicts = fitted.check(drafts, packs)
        assert len(verdicts) == len(drafts)
        for draft, v in zip(drafts, verdicts, strict=True):
            assert isinstance(v, Verdict)
            assert v.filter == fitted.name
            assert v.action in ("pass", "redact", "block")
            assert all(0 <= a <= b <= len(draft.text) for a, b in v.spans)
            if v.action == "redact":
                assert isinstance(v.text, str)

    def test_empty_batch(self, fitted):
        assert fitted.check([], []) == []


def _drafts(packs: list[FactPack]) -> list[Draft]:
    return [Draft(f"{p.picks[0].name} is a pick [1].", "test") for p in packs]
