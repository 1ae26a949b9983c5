import pytest
from linernotes import Candidate
from linernotes.ground import Grounder
from linernotes.testing import tiny_catalog, tiny_requests


@pytest.fixture(scope="session")
def model_dir():
    """The default model, converted from its bundled GGUF once per test session."""
    from linernotes_generators.models import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny catalog and four fact packs on it."""
    catalog = tiny_catalog(tmp_path_factory.mktemp("tiny"))
    requests = tiny_requests(catalog, 4)
    ranked = [
        [Candidate(i, 1.0) for i in catalog.item_ids if i not in r.listener.history][:5]
        for r in requests
    ]
    return catalog, Grounder(catalog).ground(requests, ranked)
