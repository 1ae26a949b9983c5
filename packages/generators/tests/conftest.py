import pytest
from linernotes import Candidate
from linernotes.ground import Grounder
from linernotes.testing import tiny_catalog, tiny_requests


@pytest.fixture(scope="session")
def model_dir():
    """The bundled base model's folder, converted from its GGUF once per test session, after
    the story model is merged from it (once)."""
    from linernotes_generators.models import default_model_dir, story_model_dir

    story_model_dir()
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


def tiny_llama(model_dir, **config):
    """A two-layer random Llama (seeded) on the default model's tokenizer: fast, and it has
    no favourites; ``config`` adds to its ``LlamaConfig``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    torch.manual_seed(0)
    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        **config,
    )
    return LlamaForCausalLM(llama).eval(), tokenizer
