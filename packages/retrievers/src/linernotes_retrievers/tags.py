"""Tag / lexical retrieval: BM25 over each artist's screened tag document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Request
from linernotes.cache import cached
from linernotes.candidates import CandidateBatch
from linernotes.catalog import Catalog

from ._batch import candidate_batch, heard_cells, in_blocks, top_dense
from .lexicon import ItemTags, Lexicon


class TagRetriever:
    """BM25 (``bm25s``) over tag documents: each artist's screened tags, each tag
    repeated once per listener who applied it (BM25 saturates the counts).

    The query is the listener's ``profile_tags`` top tags (weights sum to 1)
    plus the context's words mapped to tags through the lexicon (weights sum
    to ``context_weight``), and a seed artist's own tags (weights sum to 1).
    """

    name: ClassVar[str] = "tags"

    def __init__(
        self,
        profile_tags: int = 20,
        context_weight: float = 1.0,
        k1: float = 1.2,
        b: float = 0.3,
        lexicon: str | None = None,
    ):
        if profile_tags < 1:
            raise ValueError(f"profile_tags must be at least 1, got {profile_tags}")
        if context_weight < 0:
            raise ValueError(f"context_weight must not be negative, got {context_weight}")
        self.profile_tags = profile_tags
        self.context_weight = context_weight
        self.k1 = k1
        self.b = b
        self.lexicon = lexicon
        self.scores: sp.csr_matrix | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.words = Lexicon.load(catalog, self.lexicon)
        self.item_tags = ItemTags(catalog)
        params = {"k1": self.k1, "b": self.b}
        self.scores = cached("tags", catalog, params, self._scores, version=2)

    def _scores(self) -> sp.csr_matrix:
        """One row of BM25 scores per tag, so a weighted query is one sparse product."""
        import bm25s

        counts = self.item_tags.counts.tocsr()
        tokens = [t.replace(" ", "_") for t in self.item_tags.tags]
        docs = []
        for r in range(counts.shape[0]):
            lo, hi = counts.indptr[r], counts.indptr[r + 1]
            docs.append(
                [
                    tokens[t]
                    for t, c in zip(counts.indices[lo:hi], counts.data[lo:hi], strict=True)
                    for _ in range(int(c))
                ]
            )
        bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        bm25.index(docs, show_progress=False)
        # bm25s keeps each token's score per artist; a one-token query's scores are its row
        index = bm25.scores
        by_token = sp.csr_matrix(
            (index["data"], index["indices"], index["indptr"]),
            shape=(len(index["indptr"]) - 1, index["num_docs"]),
        )
        scores = by_token[[bm25.vocab_dict[t] for t in tokens]]
        scores.eliminate_zeros()
        scores.sort_indices()
        return scores

    def queries(self, requests: Sequence[Request]) -> np.ndarray:
        """The requests' tag weights, a row per request, aligned with the catalog's tag list."""
        index = self.catalog.item_index
        tags = self.item_tags
        q = tags.profiles(requests, index, self.profile_tags)
        for r, request in enumerate(requests):
            context = tags.of_context(self.words, request.context)
            if context is not None:
                q[r] += self.context_weight * context / context.sum()
            seed = request.context.seed
            if seed in index:
                own = tags.shares[index[seed]].toarray().ravel()
                q[r] += own / own.sum() if own.sum() > 0 else 0
        return q

    def retrieve(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        if self.scores is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        return in_blocks(self._retrieve_block, requests, n, self.catalog.item_ids)

    def _retrieve_block(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        index = self.catalog.item_index
        queries = sp.csr_matrix(self.queries(requests))
        scores = (queries @ self.scores).toarray()
        picks = top_dense(scores, n, heard_cells(requests, index))
        return candidate_batch(len(requests), picks, self.catalog.item_ids, self.name)
