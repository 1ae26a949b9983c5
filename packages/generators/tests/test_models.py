"""The bundled model's conversion from GGUF."""

import pytest
from linernotes_generators.models import ModelError, bundled_gguf, convert_gguf, gguf_state_dict


@pytest.mark.slow
def test_the_conversion_matches_transformers_own_gguf_loading(tmp_path):
    """Every weight of a converted folder equals what transformers de-quantizes itself
    (its legacy GGUF loader, which parses the file three times: the reference)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, GgufConfig

    gguf = bundled_gguf()
    reference = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        local_files_only=True,
        quantization_config=GgufConfig(dequantize=True),
    ).state_dict()
    convert_gguf(gguf, tmp_path / "model")
    assert not (tmp_path / "model.partial").exists()
    converted = load_file(tmp_path / "model" / "model.safetensors")
    assert converted.keys() == reference.keys()
    for name, weights in converted.items():
        assert weights.dtype == torch.float32
        assert torch.equal(weights, reference[name]), name


def test_a_gguf_of_another_architecture_is_refused(tmp_path, model_dir):
    import gguf
    import numpy as np
    from transformers import AutoModelForCausalLM

    path = tmp_path / "gpt2.gguf"
    writer = gguf.GGUFWriter(path, "gpt2")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with pytest.raises(ModelError, match="gpt2 model; only llama"):
        gguf_state_dict(path, model)


def test_a_lora_adapter_merges_into_its_base_once(tmp_path, model_dir):
    """W + (alpha / r) B A for every adapted weight; the merged folder loads with the
    base's tokenizer and writes no partial folder."""
    import torch
    from linernotes_generators.models import merge_adapter
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from .conftest import tiny_llama

    base, tokenizer = tiny_llama(model_dir)
    base.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    lora = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"]))
    with torch.no_grad():  # B starts at zero: give it weights, or the merge changes nothing
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p))
    lora.save_pretrained(tmp_path / "adapter")
    layer = lora.base_model.model.model.layers[0].self_attn.q_proj
    delta = layer.lora_B.default.weight @ layer.lora_A.default.weight
    expected = layer.base_layer.weight + 2.0 * delta  # alpha / r = 4 / 2
    merge_adapter(tmp_path / "base", tmp_path / "adapter", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert torch.allclose(merged.model.layers[0].self_attn.q_proj.weight, expected, atol=1e-6)
    assert torch.equal(merged.model.layers[0].self_attn.k_proj.weight,
                       base.model.layers[0].self_attn.k_proj.weight)  # fmt: skip
    assert (tmp_path / "merged" / "tokenizer.json").is_file()
    assert not (tmp_path / "merged.partial").exists()


def test_the_story_adapter_ships_for_the_bundled_base():
    import json

    from linernotes_generators.models import ADAPTER_FILES, DEFAULT_MODEL, story_adapter_dir

    folder = story_adapter_dir()
    assert all((folder / name).is_file() for name in ADAPTER_FILES)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == DEFAULT_MODEL and config["peft_type"] == "LORA"
