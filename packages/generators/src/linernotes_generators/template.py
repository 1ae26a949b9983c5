"""The deterministic template generator: a varied paragraph that states only facts, cited.

It cannot invent anything: every name and number it writes comes from a
fact's ``values``, and the sentence cites that fact. Phrasing is drawn with a
random generator seeded by the request, so a request always gets the same
story while two listeners rarely get the same sentences.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, Fact, FactPack, Sentence
from linernotes.catalog import Catalog
from linernotes.text import sentences

from .prompts import moment_phrase

# One phrase list per fact kind; {n} is the citation. Placeholders name fact values.
LEAD = {
    "colisten_history": [
        "{shared} listeners who play {artist} also play {name} {n}",
        "{name} shares {shared} listeners with {artist}, which you already play {n}",
        "if {artist} is in your rotation, {name} is a natural next step: "
        "{shared} listeners play both {n}",
        "{name} comes recommended by the {shared} listeners it shares with {artist} {n}",
        "fans of {artist} know {name}: {shared} of them play both {n}",
    ],
    "friends": [
        "{friends} of your friends already play {name} {n}",
        "{name} is already on the playlists of {friends} of your friends {n}",
        "your friends vouch for {name}: {friends} of them play it {n}",
    ],
    "friends_one": [
        "one of your friends already plays {name} {n}",
        "{name} is already on a friend's playlist {n}",
        "a friend of yours got to {name} first {n}",
    ],
    "tag": [
        "{listeners} listeners tag {name} as {tag} {n}",
        "{name} is filed under {tag} by {listeners} listeners {n}",
        "for {listeners} listeners, {name} means {tag} {n}",
        "{name} carries the {tag} tag from {listeners} listeners {n}",
        "ask {listeners} listeners and they will call {name} {tag} {n}",
    ],
    "stats": [
        "{name} has {listeners} listeners here, with {plays} plays in all {n}",
        "{listeners} listeners have played {name} {plays} times in all {n}",
        "{name} has drawn {plays} plays from {listeners} listeners {n}",
    ],
    "tag_year": [
        "listeners first tagged {name} as {tag} back in {year} {n}",
        "{name} has carried the {tag} tag since {year} {n}",
    ],
    "colisten": [
        "{shared} listeners of {name} also play {artist} {n}",
    ],
}
FOLLOW = {
    "colisten_history": [
        "{shared} of its listeners also play {artist} {n}",
        "it shares {shared} listeners with {artist} {n}",
    ],
    "friends": [
        "{friends} of your friends play it too {n}",
        "it is a favourite of {friends} of your friends {n}",
        "{friends} of your friends are already listening {n}",
    ],
    "friends_one": [
        "one of your friends plays it too {n}",
        "a friend of yours plays it too {n}",
        "a friend already has it on repeat {n}",
    ],
    "tag": [
        "{listeners} listeners call it {tag} {n}",
        "it is tagged {tag} by {listeners} listeners {n}",
        "{listeners} listeners file it under {tag} {n}",
        "it is known as {tag} to {listeners} listeners {n}",
    ],
    "stats": [
        "it has {listeners} listeners and {plays} plays here {n}",
        "{listeners} listeners have played it {plays} times {n}",
    ],
    "tag_year": [
        "it was first tagged {tag} in {year} {n}",
        "the {tag} tag goes back to {year} {n}",
    ],
    "colisten": ["{shared} of its listeners also play {artist} {n}"],
}
OPENERS = [
    "",
    "Next, ",
    "Then ",
    "After that, ",
    "Also worth a spin: ",
    "Beyond that, ",
    "From there, ",
    "Another pick: ",
]
INTROS = [
    "Here is what to play next.",
    "A few picks for you, each with a reason.",
    "Your next listens, and why they fit.",
    "Some music to try next.",
    "Fresh picks, with the reasons behind them.",
    "Where to go from here.",
]
CONTEXT_INTROS = ["Picks for {ctx}.", "Something for {ctx}.", "For {ctx}, try these."]
OUTROS = [
    "Enjoy.",
    "Happy listening.",
    "Press play and see where it takes you.",
    "That is your next hour sorted.",
    "",
]
# The story style's frames, one per pick: one that names the pick ("{name}: ")
# takes a FOLLOW phrase ("it ..."), a bare connector takes a LEAD phrase.
STORY_OPENINGS = ["Start with {name}: ", "First up, {name}: ", "Begin with {name}: "]
CONTEXT_OPENINGS = [
    "For {ctx}, start with {name}: ",
    "Open {ctx} with {name}: ",
    "{ctx} calls for {name}: ",
]
STORY_CLOSINGS = ["Finally, ", "To finish, ", "Close with {name}: ", "End on {name}: "]


STYLES = ("varied", "plain", "story")


class TemplateGenerator:
    """Writes a paragraph about the fact pack's story picks, ``facts_per_pick`` facts each.

    ``style="varied"`` rephrases facts with connectors and pronouns;
    ``style="plain"`` states the facts' own sentences; ``style="story"`` tells
    one fact about each of the first four picks (``facts_per_pick`` unused) as a
    short story that opens with the listener's context and ends with a closing
    connector: the pipeline's fallback.
    """

    name: ClassVar[str] = "template"

    def __init__(self, seed: int = 0, facts_per_pick: int = 2, style: str = "varied"):
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        if facts_per_pick < 1:
            raise ValueError(f"facts_per_pick must be at least 1, got {facts_per_pick}")
        self.seed = seed
        self.facts_per_pick = facts_per_pick
        self.style = style

    def fit(self, catalog: Catalog) -> None:
        """Nothing to fit: templates need no model."""

    def generate(self, packs: Sequence[FactPack], n: int) -> list[list[Draft]]:
        return [[_recorded(self._write(p, i)) for i in range(n)] for p in packs]

    def _write(self, pack: FactPack, draft: int) -> Draft:
        rng = random.Random(f"{self.seed}:{pack.listener_id}:{pack.request_id}:{draft}")
        by_item: dict[str, list[tuple[int, Fact]]] = {}
        for number, fact in enumerate(pack.facts, start=1):
            by_item.setdefault(fact.item_id, []).append((number, fact))
        if self.style == "story":
            return Draft(" ".join(_story(pack, by_item, rng)), self.name)
        parts = [_intro(pack, rng)]
        openers = OPENERS[1:]
        rng.shuffle(openers)
        for position, pick in enumerate(p for p in pack.picks if p.id in by_item):
            facts = by_item[pick.id]
            chosen = [facts[0]] + rng.sample(
                facts[1:], min(self.facts_per_pick - 1, len(facts) - 1)
            )
            if self.style == "plain":
                parts += [f"{f.text.rstrip('.')} [{number}]." for number, f in chosen]
                continue
            phrases = [_phrase(LEAD, chosen[0], rng)]
            phrases += [_phrase(FOLLOW, f, rng) for f in chosen[1:]]
            opener = "" if position == 0 else openers[(position - 1) % len(openers)]
            parts.append(_capital(opener + ", and ".join(phrases), (pick.name,)) + ".")
        parts.append(rng.choice(OUTROS))
        return Draft(" ".join(p for p in parts if p), self.name)


def _story(
    pack: FactPack, by_item: dict[str, list[tuple[int, Fact]]], rng: random.Random
) -> list[str]:
    """One sentence per pick for the first four picks with facts: opening, connectors, closing.

    The first pick tells its first (most personal) fact; each later pick a fact
    of a kind not told yet where it has one, so the story does not repeat itself.
    """
    picks = [p for p in pack.picks if p.id in by_item][:4]
    ctx = _context(pack)
    middles = OPENERS[1:]
    rng.shuffle(middles)
    told: set[str] = set()
    sentences = []
    for position, pick in enumerate(picks):
        facts = by_item[pick.id]
        fresh = [f for f in facts if f[1].kind not in told] or facts
        numbered = rng.choice(fresh) if told else facts[0]
        told.add(numbered[1].kind)
        if position == 0:
            frame = rng.choice(CONTEXT_OPENINGS if ctx else STORY_OPENINGS)
        elif position == len(picks) - 1:
            frame = rng.choice(STORY_CLOSINGS)
        else:
            frame = middles[position - 1]
        name = numbered[1].values.get("name", pick.name)
        phrase = _phrase(FOLLOW if "{name}" in frame else LEAD, numbered, rng)
        sentences.append(_capital(frame.format(ctx=ctx, name=name) + phrase, ()) + ".")
    return sentences


def _context(pack: FactPack) -> str | None:
    """The listener's context as "a rainy late night moment", plain words only; else None."""
    return moment_phrase(pack) or None


def _recorded(draft: Draft) -> Draft:
    """The draft with its sentences recorded as the template's (for story evaluation)."""
    told = [
        Sentence(text, Draft(text, draft.generator).citations, "template")
        for text, _ in sentences(draft.text)
    ]
    return Draft(draft.text, draft.generator, told)


def _intro(pack: FactPack, rng: random.Random) -> str:
    ctx = _context(pack)
    return rng.choice(CONTEXT_INTROS).format(ctx=ctx) if ctx else rng.choice(INTROS)


def _phrase(table: dict[str, list[str]], numbered: tuple[int, Fact], rng: random.Random) -> str:
    number, fact = numbered
    # The phrase tables are written for plural counts; a count of one has its own
    # phrases ("friends_one") or uses the fact's own sentence.
    ones = [k for k, v in fact.values.items() if v == 1 and k != "year" and isinstance(v, int)]
    kind = f"{fact.kind}_one" if ones else fact.kind
    options = table.get(kind)
    values = {
        k: f"{v:,}" if isinstance(v, int) and k != "year" else v for k, v in fact.values.items()
    }
    if options:
        try:
            return rng.choice(options).format(n=f"[{number}]", **values)
        except (KeyError, IndexError):
            pass
    return f"{fact.text.rstrip('.')} [{number}]"


def _capital(text: str, names: tuple[str, ...]) -> str:
    """Upper-case the first letter, unless the text starts with a name (which keeps its case)."""
    if any(text.startswith(name) for name in names):
        return text
    return text[:1].upper() + text[1:]
