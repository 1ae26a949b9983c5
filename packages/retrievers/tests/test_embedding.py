import numpy as np
import pytest
from linernotes import Context, Listener, Request
from linernotes_retrievers import EmbeddingRetriever, ExactIndex, USearchIndex
from linernotes_retrievers import embedding as embedding_module


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from linernotes.testing import tiny_catalog

    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def retriever(catalog):
    r = EmbeddingRetriever()
    r.fit(catalog)
    return r


def genre_of(catalog, item_id):
    return catalog.item(item_id).name.split(" Artist")[0].lower()


def test_texts_are_names_and_screened_tags(retriever, catalog):
    texts = retriever.texts(catalog)
    assert len(texts) == len(catalog.item_ids)
    assert all(
        t.startswith(catalog.item(i).name) for i, t in zip(catalog.item_ids, texts, strict=True)
    )
    assert not any("fucking" in t for t in texts)  # only screened tags
    assert any(t.endswith(": jazz") for t in texts)


def test_vectors_are_unit_length_and_cached_by_model_and_texts(retriever, catalog, monkeypatch):
    assert retriever.vectors.shape == (len(catalog.item_ids), 384)
    assert np.allclose(np.linalg.norm(retriever.vectors, axis=1), 1, atol=1e-5)
    assert retriever.cache_file.is_file()
    assert retriever.cache_file.parent.name == "all-MiniLM-L6-v2"

    def no_encoding(*args):
        raise AssertionError("re-encoded although the embeddings are cached")

    monkeypatch.setattr(embedding_module, "load_model", no_encoding)
    again = EmbeddingRetriever()
    again.fit(catalog)
    assert np.array_equal(again.vectors, retriever.vectors)
    other = EmbeddingRetriever(tags_per_item=0)
    with pytest.raises(AssertionError, match="re-encoded"):
        other.fit(catalog)  # other texts, other cache entry


def test_the_listeners_genre_comes_first(retriever, catalog):
    hits = total = 0
    for lid in catalog.listener_ids:
        history = catalog.history(lid)
        genres = [genre_of(catalog, i) for i in history]
        [cands] = retriever.retrieve([Request(Listener(lid, history))], 3)
        hits += sum(genre_of(catalog, c.item_id) == max(genres, key=genres.count) for c in cands)
        total += len(cands)
    assert hits / total > 0.8


def test_a_context_alone_is_a_query(retriever, catalog):
    [cands] = retriever.retrieve([Request(Listener(), Context(mood="some jazz please"))], 4)
    assert len(cands) == 4 and {genre_of(catalog, c.item_id) for c in cands} == {"jazz"}
    assert retriever.retrieve([Request(Listener(), Context())], 4) == [[]]


def test_the_ann_index_agrees_with_exact_search(retriever):
    queries = retriever.vectors[:5]
    exact_rows, exact_sims = ExactIndex(retriever.vectors).search(queries, 4)
    ann_rows, ann_sims = USearchIndex(retriever.vectors).search(queries, 4)
    assert (exact_rows[:, 0] == np.arange(5)).all()
    assert np.allclose(exact_sims, ann_sims, atol=1e-4)
    assert (exact_rows == ann_rows).mean() > 0.9
