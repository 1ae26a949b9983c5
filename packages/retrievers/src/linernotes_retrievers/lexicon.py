"""Tags from words: the mood/activity/time lexicon, the MusicBrainz genre vocabulary,
and the item x tag matrix that the tag, context and embedding retrievers share.

Tags are MusicBrainz genre names: the catalog's screened tags already are, and
every tag the lexicon names is normalised against the vocabulary (``trip-hop``
reads as ``trip hop``), so a typo in the lexicon is an error, not a silent miss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from linernotes import Context, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.errors import DataError
from linernotes.text import normalize

from ._batch import best_per_row, histories

LEXICON = "lexicon.yaml"


def tag_key(text: str) -> str:
    """A tag or phrase folded for comparison: case, accents, hyphens and spacing ignored."""
    return " ".join(normalize(text).replace("-", " ").replace("_", " ").split())


def genre_file() -> Path:
    """The MusicBrainz genre list (from the data mirror, else downloaded once)."""
    from linernotes.datasets import locate
    from linernotes.datasets.hetrec import GENRES_URL

    return locate("musicbrainz-genres", GENRES_URL, ("genre.csv",), progress=False) / "genre.csv"


@cache
def genre_vocabulary() -> dict[str, str]:
    """MusicBrainz genre names by :func:`tag_key`."""
    names = pl.read_csv(genre_file(), columns=["name"])["name"].drop_nulls().to_list()
    return {tag_key(n): n for n in names}


class Lexicon:
    """Maps context text ("rainy late night") to weighted genre tags.

    Phrases come from a YAML file (``phrase: [tag, ...]``; the packaged
    ``lexicon.yaml`` when ``path`` is None). Genre names written in the text
    ("jazz for dinner") count too. The longest phrase wins at each position.
    """

    def __init__(self, path: str | None = None):
        from omegaconf import OmegaConf

        file = lexicon_file(path)
        if not file.is_file():
            raise DataError(f"lexicon file {file} does not exist")
        raw = OmegaConf.to_container(OmegaConf.load(file))
        if not isinstance(raw, dict):
            raise DataError(f"{file}: a lexicon maps phrases to lists of tags")
        genres = genre_vocabulary()
        self.genres = genres
        self.phrases: dict[str, list[str]] = {}
        for phrase, tags in raw.items():
            if not isinstance(tags, list) or not tags:
                raise DataError(f"{file}: '{phrase}' needs a non-empty list of tags")
            unknown = [t for t in tags if tag_key(str(t)) not in genres]
            if unknown:
                raise DataError(
                    f"{file}: '{phrase}' names {', '.join(map(repr, unknown))}, "
                    "which is not a MusicBrainz genre"
                )
            self.phrases[tag_key(str(phrase))] = [genres[tag_key(str(t))] for t in tags]
        self._longest = max(len(k.split()) for k in [*self.phrases, *genres])

    @classmethod
    def load(cls, catalog: Catalog, path: str | None = None) -> Lexicon:
        """The lexicon at ``path``, cached by its file's and the genre list's contents."""
        file = lexicon_file(path)
        if not file.is_file():
            return cls(path)  # the error
        digests = {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in (file, genre_file())}
        return cached("lexicon", catalog, digests, lambda: cls(path))

    def tags(self, text: str) -> dict[str, float]:
        """Tags suggested by ``text``, weighted by how many phrases suggest them."""
        words = tag_key(text).split()
        out: dict[str, float] = {}
        i = 0
        while i < len(words):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                phrase = " ".join(words[i : i + n])
                found = self.phrases.get(phrase) or (
                    [self.genres[phrase]] if phrase in self.genres else None
                )
                if found:
                    for tag in found:
                        out[tag] = out.get(tag, 0.0) + 1.0
                    i += n
                    break
            else:
                i += 1
        return out


def lexicon_file(path: str | None) -> Path:
    """The lexicon file at ``path``, or the packaged one."""
    return Path(path) if path else Path(str(files(__package__) / LEXICON))


class ItemTags:
    """The catalog's screened tags as a sparse item x tag matrix of tagging listeners."""

    def __init__(self, catalog: Catalog):
        df = catalog.item_tags
        self.tags: list[str] = sorted(df["tag"].unique().to_list())
        self.index = {t: n for n, t in enumerate(self.tags)}
        rows = df["item_id"].replace_strict(catalog.item_index, return_dtype=pl.Int64).to_numpy()
        cols = df["tag"].replace_strict(self.index, return_dtype=pl.Int64).to_numpy()
        self.counts = sp.csr_matrix(
            (df["listeners"].cast(pl.Float64).to_numpy(), (rows, cols)),
            shape=(len(catalog.item_ids), len(self.tags)),
        )
        totals = np.asarray(self.counts.sum(axis=1)).ravel()
        self.shares = sp.csr_matrix(sp.diags(1 / np.maximum(totals, 1)) @ self.counts)

    def vector(self, weights: dict[str, float]) -> np.ndarray:
        """A tag-weight vector over :attr:`tags` (tags the catalog lacks are dropped)."""
        v = np.zeros(len(self.tags))
        for tag, w in weights.items():
            if tag in self.index:
                v[self.index[tag]] += w
        return v

    def of_context(self, lexicon: Lexicon, context: Context) -> np.ndarray | None:
        """The tag-weight vector of the tags ``lexicon`` reads in the context's words, or
        None where it reads none the catalog has."""
        words = context.words()
        v = self.vector(lexicon.tags(words)) if words else None
        return v if v is not None and v.sum() > 0 else None

    def profiles(self, requests: Sequence[Request], item_index: dict[str, int], top: int):
        """Each request's ``top`` tags, a row per request over :attr:`tags`: its history's
        item tag shares summed with log-play weights, the kept ones scaled to sum 1."""
        rows, cols, plays = histories(requests, item_index)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(requests)))])
        # rows in history order, so that every tag's total adds up in that order
        history = sp.csr_matrix(
            (np.log1p(plays), cols, indptr), shape=(len(requests), self.shares.shape[0])
        )
        totals = (history @ self.shares).toarray()
        r, c = np.nonzero(totals > 0)
        best = best_per_row(r, c, totals[r, c], top)
        r, c = r[best], c[best]
        kept = totals[r, c]
        out = np.zeros_like(totals)
        out[r, c] = kept / np.bincount(r, weights=kept, minlength=len(requests))[r]
        return out


def heard(request: Request, item_index: dict[str, int]) -> set[int]:
    """Indices of the items a request already has: its history and its seed."""
    items = [*request.listener.history, request.context.seed]
    return {item_index[i] for i in items if i in item_index}
