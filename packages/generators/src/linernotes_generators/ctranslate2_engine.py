"""The CTranslate2 engine: the same model, converted once, int8 by default.

The planned generator's ``engine: ctranslate2`` samples its candidate lines
here instead of in PyTorch. The model's folder (the bundled SmolLM2's
safetensors folder from :mod:`.models`, a local folder or a Hugging Face id) is
converted once with ``ctranslate2.converters.TransformersConverter`` into
``<cache>/models/ctranslate2/<name>-<key>-<quantization>/``, where the key is a
hash of the folder's path and the modification time of its weights, so a
retrained folder is converted again.

CTranslate2 seeds one random stream per loaded engine (its worker thread draws
from it): :func:`load_engine` seeds it, so a process that makes the same calls
gets the same lines, but unlike the transformers engine a line depends on the
calls made before it, not on its batch alone.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from linernotes.datasets import cache_dir
from linernotes.errors import ConfigError

from .decoding import Line, line_ends
from .models import ModelError, resolve, written_atomically

COMPUTE_TYPES = ("auto", "int8", "int8_float32", "float32")


def converted(model: str, quantization: str) -> Path:
    """The CTranslate2 folder of ``model`` with weights in ``quantization`` (converted on
    first call, written atomically)."""
    source, local = resolve(model)
    if local:
        path = Path(source).resolve()
        weights = max((f.stat().st_mtime_ns for f in path.glob("*.safetensors")), default=0)
        key = hashlib.sha256(f"{path}:{weights}".encode()).hexdigest()[:10]
        name = f"{path.name}-{key}"
    else:
        name = source.replace("/", "--")
    folder = cache_dir() / "models" / "ctranslate2" / f"{name}-{quantization}"
    if (folder / "model.bin").is_file():
        return folder
    from ctranslate2.converters import TransformersConverter
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    status = console.status(f"converting {model} to CTranslate2 ({quantization}, once)...")
    with status, written_atomically(folder) as partial:
        try:
            TransformersConverter(source).convert(str(partial), quantization=quantization)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot convert {model!r} to CTranslate2: {e}") from None
    console.print(f"[green]converted:[/green] {folder}")
    return folder


def load_engine(
    model: str, device: str = "auto", compute_type: str = "int8", threads: int = 0, seed: int = 0
) -> tuple[Any, Any]:
    """A fresh (ctranslate2.Generator, tokenizer) for ``model``, its random stream seeded
    by ``seed``; ``threads`` is CTranslate2's ``intra_threads`` (0: its default)."""
    if compute_type not in COMPUTE_TYPES:
        raise ConfigError(
            f"compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {compute_type!r}"
        )
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
    folder = converted(model, "float32" if compute_type == "float32" else "int8")
    engine = ctranslate2.Generator(
        str(folder), device=device, compute_type=compute_type, intra_threads=threads
    )
    tokenizer = _tokenizer(model)
    # the worker thread seeds its stream at its first draw: draw once now, with our seed
    ctranslate2.set_random_seed(seed)
    engine.generate_batch([[tokenizer.eos_token]], max_length=1, sampling_topk=2)
    return engine, tokenizer


@functools.cache
def _tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    source, local = resolve(model)
    return AutoTokenizer.from_pretrained(source, local_files_only=local)


def sample_lines(
    engine: Any,
    tokenizer: Any,
    prompts: list[str],
    samples: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 50,
) -> list[Line]:
    """``samples`` continuations of each prompt up to its first line end (prompt-major order),
    drawn as :func:`linernotes_generators.decoding.sample_lines` draws them.

    Each line's fluency is its tokens' mean log-probability before temperature
    and truncation, line end included, as there.
    """
    starts = [tokenizer.convert_ids_to_tokens(tokenizer(p).input_ids) for p in prompts]
    results = engine.generate_batch(
        starts,
        num_hypotheses=samples,
        max_length=max_new_tokens,
        sampling_topk=top_k,
        sampling_topp=top_p,
        sampling_temperature=temperature,
        end_token=sorted(line_ends(tokenizer)),
        return_end_token=True,
        include_prompt_in_result=False,
        return_scores=True,
    )
    return [
        Line(tokenizer.decode(ids, skip_special_tokens=True).split("\n")[0].strip(), score)
        for result in results
        for ids, score in zip(result.sequences_ids, result.scores, strict=True)
    ]
