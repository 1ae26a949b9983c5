"""Benchmark of the default generator (SmolLM2-135M-Instruct) on this machine's CPU.

    uv run python benchmarks/generation.py                  # everything (see --help for knobs)
    uv run python benchmarks/generation.py --listeners 20 --batch-sizes 1,4 --no-variants

Reports, as Markdown tables:
- load time: cold (GGUF -> safetensors conversion into an empty cache) and warm,
  each in a fresh process, imports included;
- tokens/s and stories/s at several batch sizes, on real fact packs from the
  mirror and the generator's real prompts (fixed-length decoding of
  --new-tokens tokens, so every run does the same work), and peak resident memory;
- how far that is from the machine's limit: measured matmul FLOP/s (torch)
  against the model's estimated FLOPs per token (prompt and generated tokens);
- what the throughput levers do: bfloat16, dynamic int8 quantisation,
  torch.compile, thread count;
- the share of raw drafts (default settings) that pass the grounding check, on
  --listeners mirror listeners.

With --engines (e.g. ``transformers,ctranslate2:int8,ctranslate2:int8:1``, each
``engine[:dtype or compute_type[:threads]]``) it instead compares the planned
generator's engines on real fact packs: seconds per story at batch 1 (p50 over
--stories stories), stories/s at --engine-batch, the model's useful FLOP/s
(each prompt once, each sampled token) against the measured fp32 and bf16
(torch) and int8 (``torch._int_mm``) matmul peaks, and the share of sentences
the model wrote. The planned generator runs with its defaults (the base model, 3
examples per fact) unless --params gives others (the story model:
``--params '{"model": "linernotes/SmolLM2-135M-stories", "shots": 0}'``).

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset). Timings depend on load:
the script prints the load average next to its results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LOAD_SNIPPET = """
import json, os, time
t0 = time.perf_counter()
import torch, transformers
t1 = time.perf_counter()
from linernotes_generators.models import load
model, tokenizer = load("HuggingFaceTB/SmolLM2-135M-Instruct")
t2 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1}))
"""


def load_times(cache: str | None) -> dict[str, float]:
    """Import and load time in a fresh process, with LINERNOTES_CACHE_DIR=cache."""
    env = dict(os.environ)
    if cache is not None:
        env["LINERNOTES_CACHE_DIR"] = cache
    out = subprocess.run(
        [sys.executable, "-c", LOAD_SNIPPET], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_flops(dtype, size: int = 1024, seconds: float = 2.0) -> float:
    """Sustained FLOP/s of a square matmul in ``dtype``."""
    import torch

    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - start)


def int8_matmul_ops(size: int = 1024, seconds: float = 2.0) -> float:
    """Sustained int8 OP/s of a square ``torch._int_mm`` (int8 x int8 -> int32)."""
    import torch

    a = torch.randint(-128, 127, (size, size), dtype=torch.int8)
    b = torch.randint(-128, 127, (size, size), dtype=torch.int8)
    torch._int_mm(a, b)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch._int_mm(a, b)
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - start)


def flops_per_token(config, context: int) -> float:
    """Forward FLOPs per token: 2 x matmul weights (embedding lookup excluded, tied LM head
    included) plus attention scores and mixing over ``context`` positions."""
    d, layers = config.hidden_size, config.num_hidden_layers
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    head = d // heads
    per_layer = d * d * 2 + 2 * d * kv * head + 3 * d * config.intermediate_size
    weights = layers * per_layer + d * config.vocab_size
    return 2 * weights + 4 * layers * context * d


def packs_from_mirror(n: int):
    import linernotes

    pipe = linernotes.build_pipeline(["generator=template"], progress=False)
    ids = pipe.catalog.listener_ids[:n]
    results = []
    for start in range(0, len(ids), 50):
        results += pipe.run([pipe.request(listener=i) for i in ids[start : start + 50]])
    return pipe, [r.facts for r in results]


def timed(model, tokenizer, chats, new_tokens: int) -> tuple[float, int]:
    """Seconds for one fixed-length batched generate call, and the prompt tokens it read."""
    import torch

    enc = tokenizer.apply_chat_template(
        chats, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
    )
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            **enc,
            do_sample=True,
            temperature=0.7,
            top_p=0.9,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
    return time.perf_counter() - start, int(enc["attention_mask"].sum())


def throughput(model, tokenizer, chats, sizes, new_tokens, per_token, peak_flops, label=""):
    rows = []
    for b in sizes:
        seconds, prompt = timed(model, tokenizer, chats[:b], new_tokens)
        generated = b * new_tokens
        achieved = (prompt + generated) * per_token / seconds
        rows.append(
            f"| {label}{b} | {generated / seconds:.1f} | {b / seconds:.3f} | {seconds:.1f} | "
            f"{prompt / b:.0f} | {achieved / 1e9:.1f} | {100 * achieved / peak_flops:.0f}% |"
        )
        print(rows[-1], flush=True)
    return rows


def planned(spec: str, extra: dict):
    """A planned generator for ``engine[:dtype or compute_type[:threads]]``, with the
    ``extra`` parameters."""
    from linernotes_generators import PlannedGenerator

    engine, kind, threads = (spec.split(":") + ["", ""])[:3]
    params = {**extra, "engine": engine, "threads": int(threads or 0)}
    if kind:
        params["dtype" if engine == "transformers" else "compute_type"] = kind
    return PlannedGenerator(**params)


def compare_engines(specs: list[str], stories: int, batch: int, extra: dict) -> None:
    """Per-story p50 at batch 1, stories/s at ``batch``, and the share of the matmul peaks."""
    import statistics

    import torch
    from linernotes_generators.ctranslate2_engine import _tokenizer
    from linernotes_generators.models import DEFAULT_MODEL, resolve
    from transformers import AutoConfig

    pipe, packs = packs_from_mirror(max(stories, batch) + 1)
    peak32, peak16 = matmul_flops(torch.float32), matmul_flops(torch.bfloat16)
    peak8 = int8_matmul_ops()
    print(
        f"matmul peak: {peak32 / 1e9:.0f} GFLOP/s fp32, {peak16 / 1e9:.0f} GFLOP/s bf16 "
        f"(torch, 1024²), {peak8 / 1e9:.0f} GOP/s int8 (torch._int_mm, 1024²); load average "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| engine | load (s) | s/story at batch 1, p50 (min-max) | stories/s at batch "
        f"{batch} | model GFLOP/s | of fp32 peak | of bf16 peak | of int8 peak | model "
        "sentences | load average |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        flush=True,
    )
    config = AutoConfig.from_pretrained(resolve(DEFAULT_MODEL)[0])
    tokenizer = _tokenizer(DEFAULT_MODEL)
    for spec in specs:
        gen = planned(spec, extra)
        start = time.perf_counter()
        gen.fit(pipe.catalog)
        loaded = time.perf_counter() - start
        if gen.engine == "transformers" and gen.threads:
            torch.set_num_threads(gen.threads)
        work = {"prompts": 0, "prompt": 0, "generated": 0, "seconds": 0.0}
        sample = gen._sample

        def counted(prompts, key, samples, sample=sample, work=work):
            start = time.perf_counter()
            lines = sample(prompts, key, samples)
            work["seconds"] += time.perf_counter() - start
            work["prompts"] += len(prompts)
            work["prompt"] += sum(len(tokenizer(p).input_ids) for p in prompts)
            work["generated"] += sum(len(tokenizer(t).input_ids) + 1 for t, _ in lines)
            return lines

        gen._sample = counted
        gen.generate(packs[-1:], 1)  # warm-up
        work.update(prompts=0, prompt=0, generated=0, seconds=0.0)
        one = []
        for pack in packs[:stories]:
            start = time.perf_counter()
            one.append(gen.generate([pack], 1)[0][0])
            one[-1] = (time.perf_counter() - start, one[-1])
        start = time.perf_counter()
        many = [d[0] for d in gen.generate(packs[:batch], 1)]
        seconds = time.perf_counter() - start
        context = work["prompt"] / work["prompts"] + 10  # the prompt and half a sentence
        flops = (work["prompt"] + work["generated"]) * flops_per_token(config, context)
        rate = flops / work["seconds"]
        told = [s for d in [d for _, d in one] + many for s in d.sentences]
        written = sum(s.writer == "model" for s in told) / len(told)
        times = [t for t, _ in one]
        torch.set_num_threads(os.cpu_count() or 1)
        print(
            f"| {spec} | {loaded:.1f} | {statistics.median(times):.2f} "
            f"({min(times):.2f}-{max(times):.2f}) | {batch / seconds:.2f} | {rate / 1e9:.0f} | "
            f"{100 * rate / peak32:.0f}% | {100 * rate / peak16:.0f}% | "
            f"{100 * rate / peak8:.0f}% | {written:.2f} | "
            f"{os.getloadavg()[0]:.1f} |",
            flush=True,
        )
        del gen


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="1,4,16,32", help="comma-separated batch sizes")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens decoded per story")
    parser.add_argument("--listeners", type=int, default=100, help="listeners for the pass rate")
    parser.add_argument("--variant-batch", type=int, default=4, help="batch size for variants")
    parser.add_argument("--no-variants", action="store_true", help="skip bf16/int8/compile")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold (conversion) load")
    parser.add_argument("--engines", default="", help="compare planned generator engines instead")
    parser.add_argument("--stories", type=int, default=5, help="stories timed one at a time")
    parser.add_argument("--engine-batch", type=int, default=32, help="batch size for stories/s")
    parser.add_argument(
        "--params",
        default="{}",
        help="planned generator parameters for --engines, as JSON, e.g. "
        '\'{"model": "linernotes/SmolLM2-135M-stories", "shots": 0}\' (the story model)',
    )
    args = parser.parse_args()
    if args.engines:
        print(f"# planned generator engines, {time.strftime('%Y-%m-%d %H:%M')}\n")
        compare_engines(
            args.engines.split(","), args.stories, args.engine_batch, json.loads(args.params)
        )
        return
    sizes = [int(s) for s in args.batch_sizes.split(",")]

    import torch
    from linernotes_generators import TransformersGenerator

    print(f"# generation benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average at start {os.getloadavg()[0]:.1f}\n"
    )
    # -- load --------------------------------------------------------------------------------
    gen = TransformersGenerator()
    gen.loaded()  # make sure the cache holds the converted model before timing warm loads
    print("| load | imports (s) | load (s) |\n| --- | --- | --- |")
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as empty:
            cold = load_times(empty)
        print(f"| cold (GGUF conversion) | {cold['imports']:.1f} | {cold['load']:.1f} |")
    warm = load_times(None)
    print(f"| warm (safetensors) | {warm['imports']:.1f} | {warm['load']:.1f} |\n", flush=True)

    # -- throughput ----------------------------------------------------------------------------
    model, tokenizer = gen.loaded()
    pipe, packs = packs_from_mirror(max(args.listeners, max(sizes)))
    chats = [gen.prompter.messages(p) for p in packs]
    prompt_len = int(
        tokenizer.apply_chat_template(
            chats[:8],
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        )["attention_mask"].sum()
        / 8
    )
    per_token = flops_per_token(model.config, prompt_len + args.new_tokens // 2)
    peak32, peak16 = matmul_flops(torch.float32), matmul_flops(torch.bfloat16)
    print(
        f"matmul peak: {peak32 / 1e9:.1f} GFLOP/s fp32, {peak16 / 1e9:.1f} GFLOP/s bf16; "
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
        f"~{per_token / 1e9:.2f} GFLOP per token at a {prompt_len}-token prompt; "
        f"compute-bound limit ~{peak32 / per_token:.0f} tokens/s (prompt and generated)\n"
    )
    header = (
        "| batch | generated tokens/s | stories/s | seconds | prompt tokens/story "
        "| model GFLOP/s | of fp32 peak |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    print(f"fp32, {args.new_tokens} new tokens per story:\n\n{header}", flush=True)
    timed(model, tokenizer, chats[:1], 4)  # warm-up
    throughput(model, tokenizer, chats, sizes, args.new_tokens, per_token, peak32)
    print(f"\npeak resident memory so far: {peak_rss_mib():.0f} MiB\n", flush=True)

    # -- variants ------------------------------------------------------------------------------
    if not args.no_variants:
        from transformers import AutoModelForCausalLM

        b, folder = [args.variant_batch], model.name_or_path
        print(f"variants at batch {b[0]}:\n\n{header.replace('batch', 'variant, batch')}")
        threads = torch.get_num_threads()
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            throughput(
                model, tokenizer, chats, b, args.new_tokens, per_token, peak32, f"fp32 {n}t, "
            )
        torch.set_num_threads(threads)
        bf16 = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
        throughput(bf16, tokenizer, chats, b, args.new_tokens, per_token, peak16, "bf16, ")
        del bf16
        int8 = torch.ao.quantization.quantize_dynamic(
            AutoModelForCausalLM.from_pretrained(folder).eval(), {torch.nn.Linear}, torch.qint8
        )
        throughput(int8, tokenizer, chats, b, args.new_tokens, per_token, peak32, "int8 dyn, ")
        del int8
        compiled = AutoModelForCausalLM.from_pretrained(folder).eval()
        compiled.forward = torch.compile(compiled.forward, dynamic=True)
        start = time.perf_counter()
        timed(compiled, tokenizer, chats[: b[0]], 4)
        print(f"(torch.compile warm-up: {time.perf_counter() - start:.0f} s)")
        throughput(compiled, tokenizer, chats, b, args.new_tokens, per_token, peak32, "compile, ")
        del compiled
        print(f"\npeak resident memory: {peak_rss_mib():.0f} MiB\n", flush=True)

    # -- grounded share of raw drafts ---------------------------------------------------------
    if args.listeners:
        from rich.progress import track

        grounding = pipe.filters["grounding"]
        packs = packs[: args.listeners]
        drafts = []
        start = time.perf_counter()
        for i in track(range(0, len(packs), gen.batch_size), description="drafts", transient=True):
            drafts += [d[0] for d in gen.generate(packs[i : i + gen.batch_size], 1)]
        seconds = time.perf_counter() - start
        verdicts = grounding.check(drafts, packs)
        passed = sum(v.action == "pass" for v in verdicts)
        reasons: dict[str, int] = {}
        for v in verdicts:
            for kind in {r.split(":")[0] for r in v.reasons}:
                reasons[kind] = reasons.get(kind, 0) + 1
        print(
            f"raw drafts passing grounding: {passed}/{len(drafts)} = "
            f"{100 * passed / len(drafts):.0f}% (default generator settings, first "
            f"{len(drafts)} mirror listeners, {seconds:.0f} s); drafts blocked for: "
            + ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        )
        print(f"example draft: {drafts[0].text!r}")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}; peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
