"""Prompts: Jinja2 templates that number a pack's facts, and few-shot golden examples.

The system prompt (``prompts/system.j2``) and the user prompt (``prompts/user.j2``)
ship in the package. The few-shot block comes from an editable TOML file of
golden examples (``prompts/golden_examples.toml`` unless a path is given): each
is a fact pack in and the ideal story out, shown to the model as an earlier turn
of the chat. The prompt stays compact on purpose: it shows ``facts_per_pick``
facts per story pick (with their pack numbers, so citations resolve) and
``shots`` examples, because small models lose the thread in long prompts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from linernotes import FactPack
from linernotes.errors import ConfigError

_PLAIN = re.compile(r"^[a-z][a-z \-']{0,40}$")
EXAMPLES = "golden_examples.toml"


@dataclass(frozen=True)
class Example:
    """A golden example: the picks, the numbered facts shown, the ideal story."""

    picks: list[str]
    facts: list[tuple[int, str]]
    story: str
    moment: str = ""


def load_examples(path: str | Path = "") -> list[Example]:
    """Read golden examples from a TOML file (the package's own when ``path`` is empty)."""
    source = Path(path) if path else files("linernotes_generators") / "prompts" / EXAMPLES
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return [
            Example(
                picks=list(e["picks"]),
                facts=[(int(n), str(t)) for n, t in e["facts"].items()],
                story=" ".join(str(e["story"]).split()),
                moment=str(e.get("moment", "")),
            )
            for e in data.get("example", [])
        ]
    except FileNotFoundError:
        raise ConfigError(f"golden examples file not found: {source}") from None
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"bad golden examples file {source}: {type(e).__name__}: {e}") from None


def moment_words(pack: FactPack) -> list[str]:
    """The listener's mood, activity and time, lower case; context words are listener
    input, so only plain words pass."""
    ctx = pack.context
    words = [w.strip().lower() for w in (ctx.mood, ctx.activity, ctx.time) if w]
    return [w for w in words if _PLAIN.match(w)]


def moment_phrase(pack: FactPack) -> str:
    """The listener's context as "a rainy late night moment" ("an energetic moment"), or ""."""
    words = moment_words(pack)
    if not words:
        return ""
    article = "an" if words[0][0] in "aeiou" else "a"
    return f"{article} {' '.join(words)} moment"


class Prompter:
    """Turns a fact pack into chat messages: system prompt, ``shots`` examples, the request."""

    def __init__(self, shots: int = 2, facts_per_pick: int = 2, examples: str = ""):
        if shots < 0:
            raise ValueError(f"shots must be at least 0, got {shots}")
        if facts_per_pick < 1:
            raise ValueError(f"facts_per_pick must be at least 1, got {facts_per_pick}")
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader("linernotes_generators", "prompts"),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        self.system = env.get_template("system.j2").render().strip()
        self.user = env.get_template("user.j2")
        self.facts_per_pick = facts_per_pick
        self.source = examples
        self.examples = load_examples(examples)
        if shots > len(self.examples):
            raise ValueError(
                f"shots={shots} but the golden examples file holds {len(self.examples)} examples"
            )
        self.examples = self.examples[:shots]

    def messages(self, pack: FactPack) -> list[dict[str, str]]:
        """The chat for one pack: ``[{"role": ..., "content": ...}, ...]``."""
        return self._chat(*self.shown(pack))

    def example_messages(self, example: Example) -> list[dict[str, str]]:
        """The chat that asks for a golden example's story (for tuning and perplexity)."""
        return self._chat(example.facts, example.picks, example.moment)

    def _chat(self, facts: list[tuple[int, str]], picks: list[str], moment: str):
        chat = [{"role": "system", "content": self.system}]
        for e in self.examples:
            chat.append({"role": "user", "content": self._render(e.facts, e.picks, e.moment)})
            chat.append({"role": "assistant", "content": e.story})
        chat.append({"role": "user", "content": self._render(facts, picks, moment)})
        return chat

    def shown(self, pack: FactPack) -> tuple[list[tuple[int, str]], list[str], str]:
        """What the prompt shows of a pack: numbered facts, pick names and the moment."""
        per_item: dict[str, int] = {}
        facts = []
        for number, fact in enumerate(pack.facts, start=1):
            per_item[fact.item_id] = per_item.get(fact.item_id, 0) + 1
            if per_item[fact.item_id] <= self.facts_per_pick:
                facts.append((number, fact.text))
        picks = [p.name for p in pack.picks if p.id in per_item]
        moment = moment_phrase(pack)
        return facts, picks, moment

    def _render(self, facts: list[tuple[int, str]], picks: list[str], moment: str) -> str:
        return self.user.render(facts=facts, picks=picks, moment=moment).strip()
