"""The planned generator: code plans the story, the model writes it sentence by sentence.

A 135M model cannot keep a dozen facts and their citation numbers straight,
so the work is split by what each side does well:

1. **Plan** (code): :func:`plan` picks one fact for each of the first
   ``sentences`` story picks, varying the kind of fact from one sentence to
   the next; the first sentence also carries the listener's moment.
2. **Realise** (model): each planned fact gets a short few-shot prompt: golden
   sentences written by editors for the same kind of fact and the same place
   in the story (``prompts/golden_sentences.toml``), then the fact itself. The
   model writes ``samples`` candidate sentences for every fact of the batch in
   one ``generate`` call.
3. **Cite** (code): :class:`linernotes.cite.Citer` aligns each candidate to
   the pack's facts that support its names, numbers and tag words and attaches
   the ``[n]``. A candidate that states anything no fact supports, misses its
   pick or a detail of its fact, or drifts into the first person is dropped; of
   the rest, the one that reuses the fewest word pairs of its fact and its
   examples wins.
4. **Repair** (model again): a fact with no surviving candidate is re-sampled
   alone, up to ``retries`` more rounds with ``samples`` more candidates each;
   only then does the fact's own sentence stand in for it (recorded as a
   ``fallback`` sentence).

Every sentence is recorded on the draft (:class:`linernotes.Sentence`), so
evaluation can tell model-written sentences from stand-ins.
"""

from __future__ import annotations

import random
import re
import tomllib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from linernotes import Draft, Fact, FactPack, Sentence
from linernotes.catalog import Catalog
from linernotes.cite import Citer, has_phrase
from linernotes.errors import ConfigError
from linernotes.text import NameMatch, name_key, normalize, number_words, numbers, tokens

from .models import DEFAULT_MODEL, load
from .prompts import moment_words

GOLDEN = "golden_sentences.toml"
KIND_ORDER = ("colisten_history", "friends", "tag", "tag_year", "stats", "colisten")
MOMENT_KIND_ORDER = ("friends", "tag", "colisten_history", "tag_year", "stats", "colisten")
HEAD = (
    "Liner notes for a music app. Each fact becomes one warm sentence that recommends "
    "the artist to the listener, in fresh words, keeping every name and number exact.\n\n"
)
_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we", "our"})
# words a sentence must use to tell a fact of each kind, so that it tells that fact
_KIND_WORDS = {"friends": {"friend"}}
_PLAYS = re.compile(
    r"\s+play(?:s|ed)?\b", re.IGNORECASE
)  # "U2 plays Muse" (not "who play U2 also play")
_BREAK = re.compile(r"[.!?]\s")


@dataclass(frozen=True)
class Step:
    """One planned sentence: the fact it tells (1-based number), its place, and the moment."""

    number: int
    fact: Fact
    place: str  # first | middle | last
    moment: str = ""


@dataclass(frozen=True)
class Golden:
    """An editor's sentence for a fact: the example the model is shown."""

    kind: str
    fact: str
    text: str
    place: str
    moment: str = ""


def load_golden(path: str | Path = "") -> list[Golden]:
    """Golden sentences from a TOML file of stories (the package's own when ``path`` is empty)."""
    source = Path(path) if path else files("linernotes_generators") / "prompts" / GOLDEN
    try:
        stories = tomllib.loads(source.read_text(encoding="utf-8"))["story"]
        out = []
        for story in stories:
            told = story["sentence"]
            for i, s in enumerate(told):
                place = "first" if i == 0 else "last" if i == len(told) - 1 else "middle"
                moment = str(story.get("moment", "")) if i == 0 else ""
                out.append(Golden(s["kind"], s["fact"], s["text"], place, moment))
        return out
    except FileNotFoundError:
        raise ConfigError(f"golden sentences file not found: {source}") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"bad golden sentences file {source}: {type(e).__name__}: {e}") from None


def moment_of(pack: FactPack) -> str:
    """The listener's context as a phrase ("rainy late night"); only plain words pass."""
    return " ".join(moment_words(pack))


def plan(pack: FactPack, sentences: int = 4) -> list[Step]:
    """One fact for each of the first ``sentences`` picks that have facts.

    Each pick tells its most personal kind of fact (shared listeners with the
    listener's own artists, then friends, tags...), but a kind or a history
    artist just used is passed over when the pick has another. The opening
    sentence, when it must also carry the listener's moment, prefers the
    lighter facts (friends, then tags) that read well beside it.
    """
    by_item: dict[str, list[tuple[int, Fact]]] = {}
    for number, fact in enumerate(pack.facts, start=1):
        by_item.setdefault(fact.item_id, []).append((number, fact))
    moment = moment_of(pack)
    chosen: list[tuple[int, Fact]] = []
    for pick in [p for p in pack.picks if p.id in by_item][:sentences]:
        last = chosen[-1][1] if chosen else None
        order = MOMENT_KIND_ORDER if moment and not chosen else KIND_ORDER

        def cost(numbered: tuple[int, Fact], last=last, order=order) -> tuple[int, int]:
            fact = numbered[1]
            rank = order.index(fact.kind) if fact.kind in order else len(order)
            repeat = last is not None and (
                fact.kind == last.kind
                or fact.values.get("artist", 0) == last.values.get("artist", 1)
            )
            return repeat, rank

        chosen.append(min(by_item[pick.id], key=cost))
    last = len(chosen) - 1
    return [
        Step(
            n, f, "first" if i == 0 else "last" if i == last else "middle", moment if i == 0 else ""
        )
        for i, (n, f) in enumerate(chosen)
    ]


class PlannedGenerator:
    """Plans the story in code and has a causal language model write each sentence.

    ``sentences`` facts are told (one per top pick), each by the best of
    ``samples`` sampled candidates; a fact none of whose candidates survives
    the checks is re-sampled, up to ``retries`` more rounds, with ``samples``
    more candidates each round. ``shots`` golden sentences precede each
    fact. ``model``, ``device`` and ``dtype`` are as for the transformers
    generator; ``golden`` is a TOML file of golden stories (empty: the
    package's own).
    """

    name: ClassVar[str] = "planned"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        sentences: int = 4,
        samples: int = 4,
        retries: int = 3,
        shots: int = 3,
        max_new_tokens: int = 40,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        batch_size: int = 16,
        golden: str = "",
    ):
        for key, value, low in (
            ("sentences", sentences, 1),
            ("samples", samples, 1),
            ("retries", retries, 0),
            ("shots", shots, 0),
            ("max_new_tokens", max_new_tokens, 8),
            ("batch_size", batch_size, 1),
        ):
            if value < low:
                raise ValueError(f"{key} must be at least {low}, got {value}")
        if temperature <= 0:
            raise ValueError(
                f"temperature must be above 0 (candidates are sampled), got {temperature}"
            )
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        self.model = model
        self.device = device
        self.dtype = dtype
        self.sentences = sentences
        self.samples = samples
        self.retries = retries
        self.shots = shots
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.batch_size = batch_size
        self.golden = load_golden(golden)
        self.citer: Citer | None = None

    def fit(self, catalog: Catalog) -> None:
        """Load the model and the catalog's name and tag matchers."""
        self.citer = Citer(catalog)
        load(self.model, self.device, self.dtype)

    def generate(self, packs: Sequence[FactPack], n: int) -> list[list[Draft]]:
        if self.citer is None:
            raise RuntimeError("call fit(catalog) before generate()")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        out: list[list[Draft]] = []
        for start in range(0, len(packs), self.batch_size):
            batch = packs[start : start + self.batch_size]
            drafts = self._write([(p, d) for p in batch for d in range(n)])
            out += [drafts[i * n : (i + 1) * n] for i in range(len(batch))]
        return out

    def _write(self, jobs: list[tuple[FactPack, int]]) -> list[Draft]:
        """One draft per (pack, draft index); every sentence of the batch is sampled at once."""
        plans = [plan(p, self.sentences) for p, _ in jobs]
        chosen: dict[tuple[int, int], Sentence] = {}
        slots = [(j, i) for j, steps in enumerate(plans) for i in range(len(steps))]
        for round_ in range(self.retries + 1):
            todo = [s for s in slots if s not in chosen]
            if not todo:
                break
            key = ":".join([str(self.seed), str(round_), *(f"{p.request_id}/{d}" for p, d in jobs)])
            shown = [self._examples(jobs[j], plans[j][i], round_) for j, i in todo]
            prompts = [_prompt(plans[j][i], e) for (j, i), e in zip(todo, shown, strict=True)]
            samples = self.samples * (round_ + 1)  # a fact that failed gets more tries
            texts = self._sample(prompts, key, samples)
            for k, (j, i) in enumerate(todo):
                candidates = texts[k * samples : (k + 1) * samples]
                told = [chosen[(j, m)].text for m in range(i) if (j, m) in chosen]
                examples = [g.text for g in shown[k]]
                best = self._choose(candidates, jobs[j][0], plans[j][i], told, examples)
                if best is not None:
                    chosen[(j, i)] = Sentence(best.text, best.facts, "model", round_ + 1)
        drafts = []
        for j, steps in enumerate(plans):
            told = [
                chosen.get((j, i))
                or Sentence(
                    f"{s.fact.text.rstrip('.')} [{s.number}].",
                    [s.number],
                    "fallback",
                    self.retries + 1,
                )
                for i, s in enumerate(steps)
            ]
            drafts.append(Draft(" ".join(s.text for s in told), self.name, told))
        return drafts

    def _examples(self, job: tuple[FactPack, int], step: Step, round_: int) -> list[Golden]:
        """``shots`` golden sentences for the same kind of fact, moment and place, drawn by seed."""
        pack, draft = job
        rng = random.Random(f"{self.seed}:{pack.request_id}:{draft}:{step.number}:{round_}")

        def fit(g: Golden) -> tuple[bool, bool, bool, float]:
            same_moment = bool(g.moment) == bool(step.moment)
            return g.kind == step.fact.kind, same_moment, g.place == step.place, rng.random()

        shown = sorted(self.golden, key=fit, reverse=True)[: self.shots]
        rng.shuffle(shown)
        return shown

    def _sample(self, prompts: list[str], key: str, samples: int) -> list[str]:
        """``samples`` first lines sampled per prompt (prompt-major order).

        Each prompt is encoded once and its key/value cache copied for every
        sample, so only the sampled tokens cost ``samples`` times.
        """
        import torch
        from transformers import DynamicCache

        model, tokenizer = load(self.model, self.device, self.dtype)
        enc = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        torch.manual_seed(zlib.crc32(key.encode()))
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            model(
                input_ids=ids[:, :-1],
                attention_mask=mask[:, :-1],
                position_ids=positions[:, :-1],
                cache=cache,
                use_cache=True,
            )
            cache.batch_repeat_interleave(samples)
            out = model.generate(
                input_ids=ids.repeat_interleave(samples, dim=0),
                attention_mask=mask.repeat_interleave(samples, dim=0),
                cache=cache,
                do_sample=True,
                temperature=self.temperature,
                top_p=self.top_p,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                stop_strings=["\n"],
                tokenizer=tokenizer,
            )
        texts = tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
        return [t.strip().split("\n")[0].strip() for t in texts]

    def _choose(
        self, candidates: list[str], pack: FactPack, step: Step, told: list[str], shown: list[str]
    ):
        """The best candidate that passes every check, cited; None when none does.

        A candidate must be one sentence of 6-32 words that names its pick, tells
        every detail of its fact (and the moment, if any), repeats no phrase,
        never has an artist play another, and states nothing that no fact
        supports. The winner reuses the fewest word pairs of its fact and examples.
        """
        best, best_score = None, -1.0
        for text in candidates:
            text = _one_sentence(text)
            if text is None or text in told:
                continue
            words = [t for t, _, _ in tokens(text)]
            if not 6 <= len(words) <= 32 or _FIRST_PERSON.intersection(words):
                continue
            named = self.citer.names.find(text)
            if name_key(step.fact.values.get("name", "")) not in {name_key(m.name) for m in named}:
                continue
            if _repeats(text, named) or any(_PLAYS.match(text, m.end) for m in named):
                continue
            if step.moment and not set(_content_words(step.moment)) & set(words):
                continue
            if not _KIND_WORDS.get(step.fact.kind, set()) <= _stems(words):
                continue
            if not tells_all(step.fact, text):
                continue
            aligned = self.citer.align(text, pack, prefer=[step.number])
            if aligned.problems or step.number not in aligned.facts:
                continue
            score = _fresh(text, step.fact.text) + _fresh(text, " ".join(shown))
            if score > best_score:
                best, best_score = aligned, score
        return best


def _repeats(text: str, named: list[NameMatch]) -> bool:
    """Whether a word trigram comes twice, or the same number does (a name is one word)."""
    for m in reversed(named):
        text = text[: m.start] + "_".join(name_key(m.name)) + text[m.end :]
    words = [t for t, _, _ in tokens(text)]
    grams = list(zip(words, words[1:], words[2:], strict=False))
    digits = [w for w in words if w.isdigit()]
    return len(set(grams)) < len(grams) or len(set(digits)) < len(digits)


def _stems(words: list[str]) -> set[str]:
    return {w.rstrip("s") for w in words}


def _content_words(text: str) -> list[str]:
    return [t for t, _, _ in tokens(text) if len(t) > 2]


def _prompt(step: Step, shown: list[Golden]) -> str:
    """The few-shot prompt: the task, the golden sentences, then the fact to tell."""
    blocks = [_block(g.fact, g.moment, g.text) for g in shown]
    return HEAD + "".join(blocks) + _block(step.fact.text, step.moment)


def _block(fact: str, moment: str, sentence: str | None = None) -> str:
    text = f"Fact: {fact}\n" + (f"Moment: {moment}\n" if moment else "") + "Sentence:"
    return text + (f" {sentence}\n\n" if sentence is not None else "")


def _one_sentence(text: str) -> str | None:
    """The text when it is one whole sentence: a capital first, ``.`` or ``!`` last, no break."""
    text = " ".join(text.split())
    if not text or not text[0].isupper() or text[-1] not in ".!" or _BREAK.search(text[:-1]):
        return None
    return text


def tells_all(fact: Fact, text: str) -> bool:
    """Whether the sentence states every detail of the fact besides the pick's name."""
    said = {v for v, _, _ in numbers(text) + number_words(text)}
    name = str(fact.values.get("name", ""))
    plain = normalize(re.sub(re.escape(name), " ", text, flags=re.IGNORECASE) if name else text)
    for key, value in fact.values.items():
        if key in ("name", "other_item") or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and float(value) not in said:
            return False
        if isinstance(value, str) and not has_phrase(plain, normalize(value)):
            return False
    return True


def _fresh(text: str, fact_text: str) -> float:
    """The share of the sentence's word bigrams that its fact does not already use."""

    def bigrams(s: str) -> set[tuple[str, str]]:
        w = [t for t, _, _ in tokens(s)]
        return set(zip(w, w[1:], strict=False))

    mine = bigrams(text)
    return len(mine - bigrams(fact_text)) / len(mine) if mine else 0.0
