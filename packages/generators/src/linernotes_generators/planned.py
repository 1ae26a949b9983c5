"""The planned generator: code plans the story, the model writes it sentence by sentence.

A 135M model cannot keep a dozen facts and their citation numbers straight,
so the work is split by what each side does well:

1. **Plan** (code): :func:`plan` picks one fact for each of the first
   ``sentences`` story picks, varying the kind of fact from one sentence to
   the next; when the listener gave a moment, an intro that sets it (and
   states no fact) comes first.
2. **Realise** (model): each planned fact gets a short few-shot prompt: ``shots``
   golden sentences written by editors for the same kind of fact and the same
   place in the story (``prompts/golden_sentences.toml``), then the fact itself.
   With no examples (the story model, which learned the task from the base
   model's best sentences) the prompt names the fact's place instead. The
   model writes ``samples`` candidate sentences for every fact of the batch in
   one ``generate`` call.
3. **Cite** (code): :class:`linernotes.cite.Citer` aligns each candidate to
   the pack's facts that support its names, numbers and tag words and attaches
   the ``[n]``. A candidate that states anything no fact supports, misses its
   pick or a detail of its fact, or drifts into the first person is dropped,
   and so is one the model itself finds unlikely (mean token log-probability
   below ``min_fluency``: most such sentences read clumsy); of the rest, the
   most fluent wins, with a bonus for words not copied from its fact and examples.
4. **Repair** (model again): a fact with no surviving candidate is re-sampled
   alone, up to ``retries`` more rounds with ``samples`` more candidates each;
   from the second half of the rounds on, the pick's next-best fact takes its
   place. Only then does the fact's own sentence stand in for it (recorded as
   a ``fallback`` sentence).

An intro depends on nothing but its moment, so it is not written per listener:
the model samples ``intro_pool`` candidate intros once per moment (kept in the
cache folder), and each request takes, by its seed, one of the
``intro_choices`` most fluent that pass the checks for its own pack.

Every sentence is recorded on the draft (:class:`linernotes.Sentence`), so
evaluation can tell model-written sentences from stand-ins.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import re
import tomllib
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from linernotes import Draft, Fact, FactPack, Sentence
from linernotes import cache as fitted
from linernotes.catalog import Catalog
from linernotes.cite import Citer, has_phrase
from linernotes.errors import ConfigError
from linernotes.text import (
    NameMatch,
    NameMatcher,
    name_key,
    normalize,
    number_words,
    numbers,
    sentences,
    tokens,
)

from . import ctranslate2_engine
from .decoding import Line, sample_lines
from .models import DEFAULT_MODEL, load
from .prompts import moment_words

GOLDEN = "golden_sentences.toml"
INTRO_PROMPTS = 4  # prompts per moment's intro pool, each showing its own golden intros
IntroCandidate = tuple[Line, tuple[str, ...]]  # a pool's intro and the golden intros shown
POOL_VERSION = 1  # bump when the code changes how a pool's prompts are made or sampled
ENGINES = ("transformers", "ctranslate2")
KIND_ORDER = ("colisten_history", "friends", "tag", "tag_year", "stats", "colisten")
HEAD = (
    "Liner notes for a music app. Each fact becomes one warm sentence that recommends "
    "the artist to the listener, in fresh words, keeping every name and number exact.\n\n"
)
INTRO_HEAD = (
    "Liner notes for a music app. Each moment becomes one short, warm opening sentence "
    "for the listener's picks, naming no artist and no number.\n\n"
)
_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we", "our"})
# words a sentence must use to tell a fact of each kind, so that it tells that fact
_KIND_WORDS = {"friends": {"friend"}}
_PLAYS = re.compile(
    r"\s+(?:play(?:s|ed)?|(?:also|already)\s+play(?:s|ed))\b", re.IGNORECASE
)  # "U2 plays Muse", "Rihanna also plays Beyoncé" (not "who play U2 also play")
FRESHNESS = 0.5  # nats per token a candidate may give up for each unit of fresh wording
_IS_FRIEND = re.compile(
    r"\s+(?:is|are)\s+(?:\S+\s+){0,2}of\s+your\s+friends", re.IGNORECASE
)  # "U2 is one of your friends" (friends play U2; U2 is no friend)
_IS_FAN = re.compile(
    r"\s+(?:is|are)\s+(?:not\s+)?(?:(?:a|an|the|also|already|big|huge|true|real)\s+)*fans?\s+of\b",
    re.IGNORECASE,
)  # "Lady Gaga is a fan of Britney Spears" (their listeners are; no fact says she is)
_IS_ANOTHER = re.compile(
    r"\s+(?:is|are|was|were)\s+(?:(?:a|an|the|just|also|like|fan)\s+)*(?:favou?rite\s+of\s+)?$",
    re.IGNORECASE,
)  # "The Beatles are <The Killers>", "U2 is a fan favorite of <The Beatles>", up to a name
_IS_A_NUMBER = re.compile(
    r"\s+(?:is|are|was|were)\s+(?:(?:a|an|the)\s+)?\d", re.IGNORECASE
)  # "Rihanna is 274 listeners": an artist is no count
_OWN_SUBJECT = re.compile(
    r"\s+(?:is|are|was|were|has|have)\b", re.IGNORECASE
)  # "Lady Gaga is where Britney Spears fans land" told of the listener's own artist
_NOT_SUBJECT = re.compile(
    r"\b(?:if|when|while|since|because|play|plays|played|of|by|with|for|to|from)\s+$",
    re.IGNORECASE,
)  # what may come before an artist that then is no subject ("If Lady Gaga is on...")
_YOU_PLAY = re.compile(
    r"\byou(?:\s+are|'re)?\s+(?:already\s+|also\s+)?"
    r"(?:play|played|love|loved|know|(?:a\s+)?fans?\s+of)\s+$",
    re.IGNORECASE,
)  # "You play Cream", "you are a fan of Erasure": the pick is new to the listener
_FROM = re.compile(r"\bfrom\s+$", re.IGNORECASE)  # "From <pick>, a short trip to <own>"
_RECOMMENDS = re.compile(
    r"\b(?:turn\s+to|try|bring\s+in|put\s+on|add|let|meet|reach\s+for|drift\s+into"
    r"|stir\s+in|(?:queue|cue)\s+up|move\s+on\s+to|hand\s+the\s+stage\s+to"
    r"|(?:start|finish|end|close|follow|keep\s+moving)\s+with)\s+$",
    re.IGNORECASE,
)  # "Then turn to <own>, ...": what comes next is the pick, not the listener's own artist
_A_VOWEL = re.compile(r"\ba\s+[aeio]", re.IGNORECASE)  # "a alternative rock band"
_IS_A = re.compile(
    r"\s+(?:is|are|was|were)\s+(?:(?:already|also|just|still|truly|really|simply)\s+)?"
    r"(?:a|an|the|another)\s+",
    re.IGNORECASE,
)  # "Muse is a powerful instrument": what follows names what the artist is
_ROLES = frozenset(
    {
        *("pick", "picks", "choice", "choices", "match", "fit", "favorite", "favourite"),
        *("favorites", "favourites", "companion", "step", "stop", "thing", "call", "bet"),
        *("finish", "start", "addition", "treat", "discovery", "option", "soundtrack"),
        *("pairing", "partner", "neighbour", "neighbor", "way", "listen", "find"),
    }
)  # what a sentence may call an artist: a pick for the listener, not a kind of thing
_ROLE_ENDS = frozenset(
    {
        *("for", "to", "of", "with", "on", "in", "among", "by", "from", "at", "as", "who"),
        *("that", "which", "where", "and", "but", "or", "here", "there", "now", "since"),
        *("because", "like", "than", "when", "while", "if", "so"),
    }
)  # words that end the noun phrase after "is a"
_UNFINISHED = re.compile(
    r"(?:\b(?:as|since|pick|choice)|[;:])\s+[\d,]+\s+(?:\S+\s+){0,3}?who\s+(?:also\s+)?"
    r"(?:play|plays|love|loves)\s+$",
    re.IGNORECASE,
)  # "..., as 124 listeners who play <Coldplay>." ends before the clause's own verb
_UNFINISHED_TAIL = re.compile(r"\s*(?:(?:as\s+well|too|also)\s*)?[.!]$", re.IGNORECASE)
_OPENS = re.compile(
    r"\b(?:(?:start|begin|kick\s+off)\s+(?:with|the|things)\b"
    r"|(?:starts|begins|opens|kicks\s+off)\s+(?:the|this|your|our)\s"
    r"|(?:a|good|great|perfect)\s+start\b|to\s+(?:start|begin)\b)",
    re.IGNORECASE,
)  # "Start with Muse", "Muse starts the set", "a good start"
_CLOSES = re.compile(
    r"\b(?:(?:finish|end|close|wrap(?:\s+it)?\s+up|round(?:\s+it)?\s+(?:off|out))"
    r"\s+(?:with|the|things)\b|(?:finishes|ends|closes|wraps\s+up|rounds\s+(?:off|out))"
    r"\s+(?:the|this|your|our)\s|to\s+(?:finish|end|close)\b|finally|lastly)",
    re.IGNORECASE,
)  # "Finish with Muse", "Muse closes the set", "and to finish" ("keep both close" passes)
_INTRODUCES = frozenset(
    {"pick", "picks", "music", "playlist", "soundtrack", "sound", "sounds", "tunes", "mix"}
)  # an intro introduces the picks, so it names them ("Choose a yoga class." does not)
_MISCOUNTED = re.compile(
    r"\b(?:these|those)\s+pick\b|\b(?:this|that)\s+picks\b", re.IGNORECASE
)  # "let these pick fill the car"
_PICKS_PICKED = re.compile(
    r"\bpick\s+(?:\S+\s+)?picks\b", re.IGNORECASE
)  # "pick these picks", "not too late to pick picks": the picks are already picked
_LEAD_INS = frozenset(
    {"and", "then", "next", "after", "that", "finally", "also", "so", "now", "last", "lastly"}
    | {"let"}  # "And let Lily Allen, already loved by 11 of your friends."
)  # words that may come before a sentence's subject without a verb
_WHO_PLAYS = re.compile(
    r"\bwho\s+(?:also\s+)?(?:play|plays|played|love|loves)\s+$", re.IGNORECASE
)  # "...listeners who play <the pick>": the shared listeners told backwards
# claims no fact here can support (the pick's songs, fame, history): a candidate may
# use one only when its fact does
_CLAIMS = frozenset(
    {
        *("only", "best", "most", "greatest", "biggest", "famous", "legendary", "ever"),
        *("album", "albums", "song", "songs", "single", "singles", "hit", "hits", "debut"),
        *("award", "awards", "grammy", "born", "founded", "formed", "released", "record"),
        *("records", "track", "tracks", "lyrics", "chart", "charts", "million", "billion"),
        *("name", "sentence"),
        # what the artist is: no fact says whether an artist is a band or a person, or
        # which gender ("keep him close" of Miley Cyrus, "a great band" of Martin L. Gore)
        *("band", "bands", "duo", "trio", "group", "groups", "singer", "singers", "rapper"),
        *("rappers", "legend", "legends", "queen", "king", "icon", "icons", "royalty"),
        *("he", "him", "his", "himself", "she", "her", "hers", "herself", "he's", "she's"),
        *("man", "woman", "guy", "girl", "boy", "men", "women", "guys", "girls", "boys"),
    }
)
# a fact sentence recommends, and no fact denies anything ("Taylor Swift doesn't have 143
# listeners who play Britney Spears", "you might want to try to avoid 98 listeners")
_NEGATIONS = frozenset(
    {
        *("not", "never", "avoid", "skip", "hate", "hates", "dislike", "ignore"),
        *("don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "won't", "can't"),
    }
)
# what may follow a number, by the word that follows it in the fact
_UNIT_WORDS = {
    "listeners": {"listeners", "fans", "people", "others", "other"},
    "listener": {"listener", "fan", "person", "other"},
    "of": {"of", "friends", "friend"},
    "plays": {"plays", "spins", "times"},
}
_AFTER_ANY_NUMBER = frozenset({"who", "in", "and", "more"})


@dataclass(frozen=True)
class Step:
    """One planned sentence: the fact it tells (1-based number), its place, and the moment.

    The intro (place ``intro``, number 0, no fact) sets the listener's moment.
    """

    number: int
    fact: Fact | None
    place: str  # intro | first | middle | last
    moment: str = ""
    spares: tuple[tuple[int, Fact], ...] = ()  # the pick's other facts, for a repair


@dataclass(frozen=True)
class Golden:
    """An editor's sentence for a fact: the example the model is shown."""

    kind: str
    fact: str
    text: str
    place: str
    moment: str = ""


def load_golden(path: str | Path = "") -> list[Golden]:
    """Golden sentences from a TOML file of stories and intros (the package's own when
    ``path`` is empty); an intro is a :class:`Golden` of kind and place ``intro``."""
    source = Path(path) if path else files("linernotes_generators") / "prompts" / GOLDEN
    try:
        golden = tomllib.loads(source.read_text(encoding="utf-8"))
        stories = golden["story"]
        out = [
            Golden("intro", "", str(i["text"]), "intro", str(i["moment"]))
            for i in golden.get("intro", [])
        ]
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
    """An intro that sets the listener's moment (when there is one), then one fact for
    each of the first ``sentences`` picks that have facts.

    Each pick tells its most personal kind of fact (shared listeners with the
    listener's own artists, then friends, tags...), but a kind or a history
    artist just used is passed over when the pick has another. Each step keeps
    its pick's other facts, best first, as ``spares`` for a repair.
    """
    by_item: dict[str, list[tuple[int, Fact]]] = {}
    for number, fact in enumerate(pack.facts, start=1):
        by_item.setdefault(fact.item_id, []).append((number, fact))
    told: list[list[tuple[int, Fact]]] = []
    for pick in [p.id for p in pack.picks if p.id in by_item][:sentences]:
        last = told[-1][0][1] if told else None

        def cost(numbered: tuple[int, Fact], last=last) -> tuple[int, int]:
            fact = numbered[1]
            rank = KIND_ORDER.index(fact.kind) if fact.kind in KIND_ORDER else len(KIND_ORDER)
            repeat = last is not None and (
                fact.kind == last.kind
                or fact.values.get("artist", 0) == last.values.get("artist", 1)
            )
            return repeat, rank

        told.append(sorted(by_item[pick], key=cost))
    end = len(told) - 1
    moment = moment_of(pack)
    intro = [Step(0, None, "intro", moment)] if moment and told else []
    return intro + [
        Step(n, f, "first" if i == 0 else "last" if i == end else "middle", "", tuple(spares))
        for i, ((n, f), *spares) in enumerate(told)
    ]


class PlannedGenerator:
    """Plans the story in code and has a causal language model write each sentence.

    ``sentences`` facts are told (one per top pick), each by the best of
    ``samples`` sampled candidates; a fact none of whose candidates survives
    the checks is re-sampled, up to ``retries`` more rounds, with ``samples``
    more candidates each round (the pick's next-best fact in the later half).
    A fact's candidate whose mean token log-probability under the model is below
    ``min_fluency`` does not survive, nor an intro below ``min_intro_fluency``
    (``-inf``: no floor).
    ``shots`` golden sentences precede each fact (0 for the story model, which
    learned the task: :data:`~.models.STORY_MODEL`). Intros are sampled once per
    moment, ``intro_pool`` of them from :data:`INTRO_PROMPTS` prompts of
    ``intro_shots`` golden intros each; a request takes one of the ``intro_choices``
    most fluent that pass. Tokens are drawn at ``temperature`` from the nucleus
    (``top_p``) of the ``top_k`` likeliest, each prompt from its own random stream
    (seeded by ``seed``, the request and the sentence), so that a story does not
    depend on the other stories of its batch (with ``engine: transformers``).
    ``model``, ``device`` and ``dtype`` are as for the transformers generator;
    ``golden`` is a TOML file of golden stories (empty: the package's own).
    ``engine`` runs the model: ``transformers`` (PyTorch, in ``dtype``) or
    ``ctranslate2`` (in ``compute_type``, on ``threads`` threads, 0: all cores;
    see :mod:`.ctranslate2_engine`).
    """

    name: ClassVar[str] = "planned"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        sentences: int = 4,
        samples: int = 4,
        min_fluency: float = -0.65,
        min_intro_fluency: float = -1.1,
        retries: int = 4,
        shots: int = 3,
        intro_shots: int = 3,
        intro_pool: int = 48,
        intro_choices: int = 4,
        max_new_tokens: int = 40,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 50,
        seed: int = 0,
        batch_size: int = 16,
        golden: str = "",
        engine: str = "transformers",
        compute_type: str = "int8",
        threads: int = 0,
    ):
        for key, value, low in (
            ("sentences", sentences, 1),
            ("samples", samples, 1),
            ("retries", retries, 0),
            ("shots", shots, 0),
            ("intro_shots", intro_shots, 0),
            ("intro_pool", intro_pool, 1),
            ("intro_choices", intro_choices, 1),
            ("max_new_tokens", max_new_tokens, 8),
            ("top_k", top_k, 1),
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
        if engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if compute_type not in ctranslate2_engine.COMPUTE_TYPES:
            choices = ", ".join(ctranslate2_engine.COMPUTE_TYPES)
            raise ConfigError(f"compute_type must be one of {choices}, got {compute_type!r}")
        if threads < 0:
            raise ValueError(f"threads must be at least 0, got {threads}")
        self.model = model
        self.device = device
        self.dtype = dtype
        self.sentences = sentences
        self.samples = samples
        self.min_fluency = _floor("min_fluency", min_fluency)
        self.min_intro_fluency = _floor("min_intro_fluency", min_intro_fluency)
        self.retries = retries
        self.shots = shots
        self.intro_shots = intro_shots
        self.intro_pool = intro_pool
        self.intro_choices = intro_choices
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.seed = seed
        self.batch_size = batch_size
        self.golden = load_golden(golden)
        self.engine = engine
        self.compute_type = compute_type
        self.threads = threads
        self.citer: Citer | None = None
        self._ctranslate2: tuple | None = None  # (engine, tokenizer): its own random stream
        self._pools: dict[str, list[IntroCandidate]] = {}  # moment -> its sampled intros
        self._pool_catalog: Catalog | None = None  # where pools are cached on disk

    def fit(self, catalog: Catalog) -> None:
        """Load the model and the catalog's name and tag matchers."""
        self.citer = Citer(catalog)
        self._pool_catalog = catalog
        if self.engine == "ctranslate2":
            self._ctranslate2 = ctranslate2_engine.load_engine(
                self.model, self.device, self.compute_type, self.threads, self.seed
            )
        else:
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
        """One draft per (pack, draft index); every fact sentence of the batch is sampled at
        once, and every intro comes from its moment's pool."""
        plans = [plan(p, self.sentences) for p, _ in jobs]
        pools = self._intro_pools(
            {
                s.moment: job[0]
                for job, steps in zip(jobs, plans, strict=True)
                for s in steps
                if not s.fact
            }
        )
        chosen: dict[tuple[int, int], Sentence] = {
            (j, i): self._intro(pools[s.moment], jobs[j], s)
            for j, steps in enumerate(plans)
            for i, s in enumerate(steps)
            if s.fact is None
        }
        slots = [(j, i) for j, steps in enumerate(plans) for i in range(len(steps))]
        swap = (self.retries + 2) // 2  # from this round on, a failing fact gives way to a spare
        for round_ in range(self.retries + 1):
            todo = [s for s in slots if s not in chosen]
            if not todo:
                break
            if round_ == swap:
                for j, i in todo:
                    plans[j][i] = _spare(plans[j][i])
            shown = [self._examples(jobs[j], plans[j][i], round_) for j, i in todo]
            prompts = [prompt(plans[j][i], e) for (j, i), e in zip(todo, shown, strict=True)]
            seeds = [
                _seed(self.seed, round_, jobs[j][0].request_id, jobs[j][1], i) for j, i in todo
            ]
            samples = self.samples * (round_ + 1)  # a fact that failed gets more tries
            texts = self._sample(prompts, seeds, samples)
            for k, (j, i) in enumerate(todo):
                candidates = texts[k * samples : (k + 1) * samples]
                told = [chosen[(j, m)].text for m in range(i) if (j, m) in chosen]
                examples = [g.text for g in shown[k]]
                best = self._choose(candidates, jobs[j][0], plans[j][i], told, examples)
                if best is not None:
                    chosen[(j, i)] = Sentence(best.text, best.facts, "model", round_ + 1)
        drafts = []
        for j, steps in enumerate(plans):
            tries = self.retries + 1
            told = [chosen.get((j, i)) or _stand_in(s, tries) for i, s in enumerate(steps)]
            drafts.append(Draft(" ".join(s.text for s in told), self.name, told))
        return drafts

    def _intro_pools(self, needed: dict[str, FactPack]) -> dict[str, list[IntroCandidate]]:
        """Each moment's sampled intros (with the golden intros their prompt showed): from
        memory, else from the cache folder, else sampled now. A moment whose pool has fewer
        than ``intro_choices`` intros that pass (for ``needed``'s pack of that moment) draws
        ``intro_pool`` more, up to ``retries`` more times; every short moment of the batch
        draws at once."""
        for m in needed.keys() - self._pools.keys():
            self._pools[m], path = [], self._pool_path(m)
            if path is not None and path.is_file():
                with contextlib.suppress(Exception):  # a damaged file is sampled afresh
                    self._pools[m] = fitted.load(path)
        samples = self._intro_samples
        full = (self.retries + 1) * self._draw_rows

        def is_short(step: Step) -> bool:  # a full pool is not checked again
            pool = self._pools[step.moment]
            return len(pool) < full and (
                len(self._passing(pool, needed[step.moment], step)) < self.intro_choices
            )

        drawn: set[str] = set()
        for _ in range(self.retries + 1):
            short = [s for s in (Step(0, None, "intro", m) for m in sorted(needed)) if is_short(s)]
            if not short:
                break
            steps = [
                (step, k)
                for step in short
                for first in [len(self._pools[step.moment]) // samples]
                for k in range(first, first + INTRO_PROMPTS)
            ]
            shown = [self._examples((None, 0), step, k) for step, k in steps]
            prompts = [prompt(step, e) for (step, _), e in zip(steps, shown, strict=True)]
            seeds = [_seed(self.seed, k, "intro", 0, step.moment) for step, k in steps]
            lines = self._sample(prompts, seeds, samples)
            for i, (step, _) in enumerate(steps):
                texts = tuple(g.text for g in shown[i])
                batch = lines[i * samples : (i + 1) * samples]
                self._pools[step.moment] += [(line, texts) for line in batch]
                drawn.add(step.moment)
        for m in drawn:
            if (path := self._pool_path(m)) is not None:
                fitted.save(self._pools[m], path)
        return {m: self._pools[m] for m in needed}

    @property
    def _intro_samples(self) -> int:
        """Samples per prompt of a pool's draw: ``intro_pool`` over the prompts, rounded up."""
        return -(-self.intro_pool // INTRO_PROMPTS)

    @property
    def _draw_rows(self) -> int:
        """Intros one draw adds to a pool: every prompt's samples."""
        return INTRO_PROMPTS * self._intro_samples

    def _pool_path(self, moment: str) -> Path | None:
        """Where a moment's intro pool is cached: keyed by the catalog (its names are
        checked) and everything that shapes the samples; None when not cached."""
        catalog = self._pool_catalog
        if catalog is None or not catalog.version:
            return None
        intros = "\n".join(f"{g.moment}|{g.text}" for g in self.golden if g.place == "intro")
        params = {
            "moment": moment, "model": self.model, "device": self.device, "dtype": self.dtype,
            "engine": self.engine, "compute_type": self.compute_type, "pool": self.intro_pool,
            "shots": self.intro_shots, "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
            "seed": self.seed, "golden": hashlib.sha256(intros.encode()).hexdigest(),
        }  # fmt: skip
        return fitted.entry_path("intro-pool", catalog, params, POOL_VERSION)

    def _passing(
        self, pool: list[IntroCandidate], pack: FactPack, step: Step
    ) -> list[tuple[float, str, object]]:
        """The pool's distinct intros that pass the checks for this pack, most fluent first:
        (fluency, text, cited sentence)."""
        passing: dict[str, tuple[float, str, object]] = {}
        for line, shown in pool:
            aligned = self._choose([line], pack, step, [], list(shown))
            if aligned is not None and line.logprob > passing.get(aligned.text, (-math.inf,))[0]:
                passing[aligned.text] = (line.logprob, aligned.text, aligned)
        return sorted(passing.values(), key=lambda p: (-p[0], p[1]))

    def _intro(self, pool: list[IntroCandidate], job: tuple[FactPack, int], step: Step) -> Sentence:
        """One of the pool's ``intro_choices`` most fluent intros that pass the checks for
        this pack, by the request's seed (one try: no request re-samples it); the stand-in
        when none does, whose ``tries`` are the draws its pool took."""
        pack, draft = job
        best = self._passing(pool, pack, step)[: self.intro_choices]
        if not best:
            return _stand_in(step, max(1, len(pool) // self._draw_rows))
        rng = random.Random(f"{self.seed}:{pack.request_id}:{draft}:intro")
        *_, aligned = rng.choice(best)
        return Sentence(aligned.text, aligned.facts, "model", 1)

    def _examples(self, job: tuple[FactPack | None, int], step: Step, round_: int) -> list[Golden]:
        """Golden sentences drawn by seed: ``intro_shots`` intros for the intro (one of the
        same moment first), else ``shots`` sentences for the same kind of fact, then the
        same place. A pool's intro prompts (no pack) are seeded by their moment."""
        pack, draft = job
        request = pack.request_id if pack is not None else step.moment
        rng = random.Random(f"{self.seed}:{request}:{draft}:{step.number}:{round_}")

        def fit(g: Golden) -> tuple[bool, bool, bool, float]:
            if step.fact is None:
                return g.place == "intro", _shares_word(g.moment, step.moment), True, rng.random()
            kind, place = g.kind == step.fact.kind, g.place == step.place
            return g.place != "intro" and not g.moment, kind, place, rng.random()

        count = self.shots if step.fact else self.intro_shots
        shown = sorted(self.golden, key=fit, reverse=True)[:count]
        rng.shuffle(shown)
        return shown

    def _sample(self, prompts: list[str], seeds: list[int], samples: int) -> list[Line]:
        """``samples`` first lines sampled per prompt (prompt-major order), each prompt's
        from its own stream seeded by its ``seeds`` entry (by the engine's own stream
        with ctranslate2)."""
        sampling = {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}
        if self._ctranslate2 is not None:
            return ctranslate2_engine.sample_lines(
                *self._ctranslate2, prompts, samples, self.max_new_tokens, **sampling
            )
        model, tokenizer = load(self.model, self.device, self.dtype)
        return sample_lines(
            model, tokenizer, prompts, samples, self.max_new_tokens,
            **sampling, seed=seeds,
        )  # fmt: skip

    def _choose(
        self, candidates: list[Line], pack: FactPack, step: Step, told: list[str], shown: list[str]
    ):
        """The best candidate that passes every check, cited; None when none does.

        A candidate must be one sentence of 6-32 words that names its pick, tells
        every detail of its fact (and the moment, if any), repeats no phrase or
        long word, never has an artist play another or be a friend, a fan, another
        artist or a number, tells its fact the right way round, has a verb of its
        own (and its last clause too), counts nothing its fact does not, claims
        nothing of a kind no fact states (songs, fame, "a band", "him"), denies
        nothing ("not", "avoid"), opens or closes the story only in its first or
        last place, states nothing that no fact supports, and has a mean token
        log-probability of at least ``min_fluency``. The winner is the
        most fluent (mean token log-probability), with a bonus for the share of
        word pairs it does not take from its fact and from its examples (with
        none shown, from the story's sentences so far, so that a story does not
        say the same twice).
        """
        if step.fact is None:
            return self._choose_intro(candidates, pack, step, shown)
        best, best_score = None, float("-inf")
        fact_words = _outside_names(step.fact.text, self.citer.names.find(step.fact.text))
        for text, fluency in candidates:
            if fluency < self.min_fluency:
                continue
            text = _one_sentence(text, self.citer.names)
            if text is None or text in told:
                continue
            words = [t for t, _, _ in tokens(text)]
            if not 6 <= len(words) <= 32:
                continue
            named = self.citer.names.find(text)
            if _first_person(text, named):
                continue
            pick = [
                m for m in named if name_key(m.name) == name_key(step.fact.values.get("name", ""))
            ]
            if not pick or (
                step.fact.kind == "colisten_history" and _WHO_PLAYS.search(text[: pick[0].start])
            ):
                continue
            if (
                _repeats(text, named)
                or _a_before_vowel(text, named)
                or any(
                    _PLAYS.match(text, m.end)
                    or _IS_FRIEND.match(text, m.end)
                    or _IS_FAN.match(text, m.end)
                    for m in named
                )
            ):
                continue
            if not _KIND_WORDS.get(step.fact.kind, set()) <= _stems(words):
                continue
            outside = _outside_names(text, named)
            if not tells_all(step.fact, text) or _claims(outside, fact_words):
                continue
            if not _NEGATIONS.isdisjoint(outside):
                continue
            if _stray_unit(text, named, step.fact.text) or _echoes(text, named):
                continue
            if _miscast(text, named, step.fact) or _called(text, named):
                continue
            if _fragment(text, named) or _unfinished(text, named):
                continue
            if _misplaced(text, step.place):
                continue
            aligned = self.citer.align(text, pack, prefer=[step.number])
            if aligned.problems or step.number not in aligned.facts:
                continue
            score = fact_score(text, fluency, step.fact.text, shown or told)
            if score > best_score:
                best, best_score = aligned, score
        return best

    def _choose_intro(self, candidates: list[Line], pack: FactPack, step: Step, shown: list[str]):
        """The most fluent intro: one sentence of 5-24 words that uses a word of the
        moment, names what it introduces (the picks, the music) without picking them
        again ("pick these picks"), repeats no phrase, states nothing (no artist,
        number, tag or claim), is uncited, takes at most half its word pairs from any
        one example and has a mean token log-probability of at least
        ``min_intro_fluency``."""
        best, best_score = None, float("-inf")
        for text, fluency in candidates:
            if fluency < self.min_intro_fluency:
                continue
            text = _one_sentence(text, self.citer.names)
            if text is None:
                continue
            words = [t for t, _, _ in tokens(text)]
            if not 5 <= len(words) <= 24 or _FIRST_PERSON.intersection(words):
                continue
            if _INTRODUCES.isdisjoint(words) or _MISCOUNTED.search(text) or _repeats(text, []):
                continue
            if _PICKS_PICKED.search(text):
                continue
            if not set(_content_words(step.moment)) & set(words) or _claims(words, ()):
                continue
            if any(_fresh(text, g) < 0.5 for g in shown):  # not an example's copy
                continue
            if (
                numbers(text)
                or number_words(text)
                or _echoes(text, [])
                or _a_before_vowel(text, [])
            ):
                continue
            aligned = self.citer.align(text, pack)
            if aligned.problems or aligned.facts or self.citer.names.find(text):
                continue
            if fluency > best_score:
                best, best_score = aligned, fluency
        return best


def _seed(seed: int, round_: int, request: object, draft: int, sentence: object) -> int:
    """The random seed of one prompt: the generator's seed, the round, the request, the
    draft and the sentence (its place in the plan, or an intro prompt's moment)."""
    return zlib.crc32(f"{seed}:{round_}:{request}/{draft}:{sentence}".encode())


def _floor(name: str, value: float | str) -> float:
    """A fluency floor from a config: a number, or "-inf" for none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a mean log-probability per token (-inf: no floor), got {value!r}"
        ) from None


def _stand_in(step: Step, tries: int) -> Sentence:
    """What stands in for a step no candidate passed: its fact's own sentence, cited, or
    for the intro a plain line with the moment ("Here are picks for this energetic
    moment.")."""
    if step.fact is None:
        return Sentence(f"Here are picks for this {step.moment} moment.", [], "fallback", tries)
    text = f"{step.fact.text.rstrip('.')} [{step.number}]."
    return Sentence(text, [step.number], "fallback", tries)


def _spare(step: Step) -> Step:
    """The step telling its pick's next-best fact instead (the same step when it has none)."""
    if not step.spares:
        return step
    (number, fact), *rest = step.spares
    return replace(step, number=number, fact=fact, spares=tuple(rest))


def _names_replaced(text: str, named: list[NameMatch], by: Callable[[NameMatch], str]) -> str:
    """``text`` with each name it gives (``named``, left to right) replaced by ``by(name)``."""
    for m in reversed(named):
        text = text[: m.start] + by(m) + text[m.end :]
    return text


def _repeats(text: str, named: list[NameMatch]) -> bool:
    """Whether a word trigram comes twice, or the same number does (a name is one word)."""
    text = _names_replaced(text, named, lambda m: "_".join(name_key(m.name)))
    words = [t for t, _, _ in tokens(text)]
    grams = list(zip(words, words[1:], words[2:], strict=False))
    digits = [w for w in words if w.isdigit()]
    return len(set(grams)) < len(grams) or len(set(digits)) < len(digits)


def _outside_names(text: str, named: list[NameMatch]) -> list[str]:
    """The word tokens of ``text`` that are not part of a name it gives."""
    return [t for t, _, _ in tokens(_names_replaced(text, named, lambda m: ""))]


def _first_person(text: str, named: list[NameMatch]) -> bool:
    """Whether the sentence speaks as "I" or "we" outside its names ("My Chemical Romance"
    is no first person)."""
    return not _FIRST_PERSON.isdisjoint(_outside_names(text, named))


def _claims(words: list[str], said: Iterable[str]) -> bool:
    """Whether the sentence's ``words`` (outside its names) claim something of a kind that
    the ``said`` words of its fact never state ("the only band", "keep him close")."""
    said = set(said)
    return any(w in _CLAIMS and w not in said for w in words)


def _miscast(text: str, named: list[NameMatch], fact: Fact) -> bool:
    """Whether an artist is said to be another artist or a number ("The Beatles are The
    Killers", "Rihanna is 274 listeners"), the listener is said to play the pick already
    ("You play Cream"), or a shared-listeners fact is told backwards: the listener's own
    artist as the subject ("Lady Gaga is where Britney Spears fans land next", of Britney
    Spears; "If Lady Gaga is on your playlist" and "listeners who play Lady Gaga are" pass),
    the listener's own artist as the one to play next ("Then turn to Lady Gaga, a favourite
    of 342 listeners who share your love of Britney Spears") or the pick as the way in
    ("From Britney Spears, it is a short trip to Lady Gaga")."""
    starts = [m.start for m in named]
    pick = name_key(str(fact.values.get("name", "")))
    own = name_key(str(fact.values.get("artist", ""))) if fact.kind == "colisten_history" else ()
    for m in named:
        key, before = name_key(m.name), text[: m.start]
        if _IS_A_NUMBER.match(text, m.end):
            return True
        if any(start > m.end and _IS_ANOTHER.fullmatch(text, m.end, start) for start in starts):
            return True
        if key == pick and (_YOU_PLAY.search(before) or (own and _FROM.search(before))):
            return True
        if key == own and _OWN_SUBJECT.match(text, m.end) and not _NOT_SUBJECT.search(before):
            return True
        if key == own and _RECOMMENDS.search(before):
            return True
    return False


def _a_before_vowel(text: str, named: list[NameMatch]) -> bool:
    """Whether "a" comes before a word starting with a vowel ("a alternative rock"),
    outside names ("Rock Artist A also")."""
    return _A_VOWEL.search(_names_replaced(text, named, lambda m: "X")) is not None


def _called(text: str, named: list[NameMatch]) -> bool:
    """Whether an artist is called something other than a pick for the listener ("Muse is
    a powerful instrument", "Maria Rita is a drink", "Кирпичи is a giant here"): after
    "<artist> is a", the noun that ends the phrase must be one of :data:`_ROLES` ("a
    natural match for", "a fan favorite, with", "the next stop on the line")."""
    starts = {m.start for m in named}
    for m in named:
        found = _IS_A.match(text, m.end)
        if found is None:
            continue
        head, offset = None, found.end()
        for word, start, end in tokens(text[offset:]):
            if word in _ROLE_ENDS or word.isdigit() or offset + start in starts:
                break
            head = word
            if text[offset + end : offset + end + 1] in (",", ";", ":", ".", "!", "?"):
                break
        if head is not None and head not in _ROLES:
            return True
    return False


def _unfinished(text: str, named: list[NameMatch]) -> bool:
    """Whether the sentence stops before its last clause's verb: "..., as 124 listeners who
    play Coldplay.", "..., a pick 24 listeners who play Three Days Grace." or "...; 34
    listeners who play The Beatles as well." (its name ends the sentence, but for "as
    well", "too" or "also"; "..., a pick 41 listeners who play Depeche Mode have made
    too." passes)."""
    if not named or not _UNFINISHED_TAIL.fullmatch(text, named[-1].end):
        return False
    return _UNFINISHED.search(text, 0, named[-1].start) is not None


def _misplaced(text: str, place: str) -> bool:
    """Whether the sentence says it opens the story anywhere but first ("And Gwen Stefani
    starts the set.", told last), or closes it anywhere but last ("And to finish, ...",
    told in the middle)."""
    return (place != "first" and _OPENS.search(text) is not None) or (
        place != "last" and _CLOSES.search(text) is not None
    )


def _fragment(text: str, named: list[NameMatch]) -> bool:
    """Whether the sentence is a name and a phrase about it, with no verb of its own
    ("Lady Gaga, a favorite of 34 of your friends.", "And let Lily Allen, already loved
    by 11 of your friends."): its first name comes after lead-in words alone and right
    before the sentence's end, or before a comma or semicolon that opens a phrase no
    comma closes ("Yellowcard, played by 21 listeners, keeps the lights low." passes)."""
    if not named:
        return False
    first = named[0]
    lead = [t for t, _, _ in tokens(text[: first.start])]
    rest = text[first.end :].lstrip()
    unclosed = rest[:1] in (",", ";") and "," not in rest[1:]
    return set(lead) <= _LEAD_INS and (unclosed or rest[:1] in (".", "!"))


def _stray_unit(text: str, named: list[NameMatch], fact: str) -> bool:
    """Whether a number counts something its fact does not ("301 songs" for 301 listeners).

    After a number may come a word that follows a number in the fact (or a
    kin of it: "fans" for "listeners"), an artist's name or a few joining
    words; a number ends a clause only where one does in the fact (a year).
    """
    allowed = set(_AFTER_ANY_NUMBER)
    for _, _, end in numbers(fact):
        follow = tokens(fact[end:])[:1]
        if follow and not _ends_clause(fact[end:]):
            allowed |= _UNIT_WORDS.get(follow[0][0], set()) | {follow[0][0]}
        else:
            allowed.add("")
    starts = {m.start for m in named}
    for _, _, end in numbers(text):
        follow = tokens(text[end:])[:1]
        word = "" if not follow or _ends_clause(text[end:]) else follow[0][0]
        if word not in allowed and not (follow and end + follow[0][1] in starts):
            return True
    return False


def _ends_clause(rest: str) -> bool:
    return rest.lstrip()[:1] in ("", ",", ".", ";", ":", "!", "?", ")")


def _echoes(text: str, named: list[NameMatch]) -> bool:
    """Whether a name, or a word of five letters or more, comes twice ("study, studying")."""
    keys = [name_key(m.name) for m in named]
    words = [t for t in _outside_names(text, named) if len(t) >= 5 and not t.isdigit()]
    stems = [w[:5] for w in words]
    return len(set(keys)) < len(keys) or len(set(stems)) < len(stems)


def _stems(words: list[str]) -> set[str]:
    return {w.rstrip("s") for w in words}


def _shares_word(a: str, b: str) -> bool:
    """Whether two moments share a word, by its first letters ("run", "running")."""
    return any(
        x[: min(len(x), len(y), 5)] == y[: min(len(x), len(y), 5)]
        for x in _content_words(a)
        for y in _content_words(b)
    )


def _content_words(text: str) -> list[str]:
    return [t for t, _, _ in tokens(text) if len(t) > 2]


def prompt(step: Step, shown: Sequence[Golden] = ()) -> str:
    """A step's prompt: the task, the golden sentences shown, then the fact (or the
    intro's moment) to tell.

    With no golden sentence shown, a fact's block also names its place in the story
    (``Place: last``), which the examples would otherwise show: the story model was
    tuned on these zero-shot prompts (``linernotes prefs sentences``).
    """
    if step.fact is None:
        return (
            INTRO_HEAD
            + "".join(_intro_block(g.moment, g.text) for g in shown)
            + _intro_block(step.moment)
        )
    blocks = [_block(g.fact, g.moment, g.text) for g in shown]
    place = "" if shown else step.place
    return HEAD + "".join(blocks) + _block(step.fact.text, step.moment, place=place)


def _block(fact: str, moment: str, sentence: str | None = None, place: str = "") -> str:
    text = f"Fact: {fact}\n" + (f"Moment: {moment}\n" if moment else "")
    text += (f"Place: {place}\n" if place else "") + "Sentence:"
    return text + (f" {sentence}\n\n" if sentence is not None else "")


def _intro_block(moment: str, sentence: str | None = None) -> str:
    text = f"Moment: {moment}\nSentence:"
    return text + (f" {sentence}\n\n" if sentence is not None else "")


def _one_sentence(text: str, names: NameMatcher) -> str | None:
    """The text when it is one whole sentence: a capital (or a name) first, ``.`` or ``!``
    last, and no sentence break but inside a name ("Panic! At the Disco", "Martin L. Gore":
    the grounding filter splits the same way)."""
    text = " ".join(text.split())
    if not text or text[-1] not in ".!":
        return None
    spans = [(m.start, m.end) for m in names.find(text)]
    if not (text[0].isupper() or any(start == 0 for start, _ in spans)):
        return None
    return text if len(sentences(text, keep=spans)) == 1 else None


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


def fact_score(text: str, fluency: float, fact_text: str, context: Sequence[str]) -> float:
    """How a fact sentence ranks among its candidates: its ``fluency`` plus
    :data:`FRESHNESS` times the share of its word pairs not taken from its fact, and
    the same share against ``context`` (its examples, or the story's sentences so far)."""
    fresh = _fresh(text, fact_text) + _fresh(text, " ".join(context))
    return fluency + FRESHNESS * fresh


def _fresh(text: str, fact_text: str) -> float:
    """The share of the sentence's word bigrams that its fact does not already use."""

    def bigrams(s: str) -> set[tuple[str, str]]:
        w = [t for t, _, _ in tokens(s)]
        return set(zip(w, w[1:], strict=False))

    mine = bigrams(text)
    return len(mine - bigrams(fact_text)) / len(mine) if mine else 0.0
