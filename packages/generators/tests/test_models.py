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
