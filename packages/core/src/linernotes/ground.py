"""The ground stage: collect the facts a story may state for each request's top picks."""

from __future__ import annotations

from collections.abc import Sequence

from .catalog import Catalog
from .types import Candidate, Fact, FactPack, Request

STATIC_ORDER = ("tag", "stats", "tag_year", "colisten")


class Grounder:
    """Builds one :class:`FactPack` per request from catalog facts and the listener's data.

    Per story pick, facts come in this order, up to ``facts_per_pick``: shared
    listeners (at least ``min_shared``) with one of the listener's ``anchors``
    most played artists, friends who play it, then the
    catalog's tag, play-statistics, tag-year and co-listening facts (the last only
    when the other artist is a pick or in the listener's history).
    """

    def __init__(
        self,
        catalog: Catalog,
        story_picks: int = 5,
        facts_per_pick: int = 4,
        min_shared: int = 2,
        anchors: int = 50,
    ):
        self.catalog = catalog
        self.story_picks = story_picks
        self.facts_per_pick = facts_per_pick
        self.min_shared = min_shared
        self.anchors = anchors

    def ground(
        self, requests: Sequence[Request], ranked: Sequence[list[Candidate]]
    ) -> list[FactPack]:
        return [self._pack(r, c) for r, c in zip(requests, ranked, strict=True)]

    def _pack(self, request: Request, ranked: list[Candidate]) -> FactPack:
        cat = self.catalog
        picks = [cat.item(c.item_id) for c in ranked]
        history = sorted(request.listener.history.items(), key=lambda kv: (-kv[1], kv[0]))
        known = [i for i, _ in history]
        if request.context.seed and request.context.seed not in request.listener.history:
            known.append(request.context.seed)
        mentionable = set(known) | {p.id for p in picks}
        anchors = known[: self.anchors]
        friends = [
            set(cat.history(f))
            for f in cat.friends(request.listener.id or "")
            if cat.has_listener(f)
        ]
        facts: list[Fact] = []
        for pick in picks[: self.story_picks]:
            own: list[Fact] = []
            shared = cat.shared_listeners(pick.id, anchors)
            if len(shared) and shared.max() >= self.min_shared:
                best = int(shared.argmax())
                other = cat.item(anchors[best])
                n = int(shared[best])
                own.append(
                    Fact(
                        f"{pick.id}:with:{other.id}",
                        pick.id,
                        "colisten_history",
                        f"{n:,} listeners who play {other.name} also play {pick.name}.",
                        {"name": pick.name, "artist": other.name, "shared": n},
                    )
                )
            n_friends = sum(pick.id in f for f in friends)
            if n_friends:
                verb = "plays" if n_friends == 1 else "play"
                own.append(
                    Fact(
                        f"{pick.id}:friends",
                        pick.id,
                        "friends",
                        f"{n_friends} of your friends {verb} {pick.name}.",
                        {"name": pick.name, "friends": n_friends},
                    )
                )
            static = [
                f
                for f in cat.facts_for(pick.id)
                if f.kind != "colisten" or f.values.get("other_item") in mentionable
            ]
            static.sort(
                key=lambda f: (
                    STATIC_ORDER.index(f.kind) if f.kind in STATIC_ORDER else len(STATIC_ORDER)
                )
            )
            facts.extend((own + static)[: self.facts_per_pick])
        return FactPack(
            request_id=request.id,
            listener_id=request.listener.id,
            picks=picks,
            history=[cat.item(i) for i in known],
            facts=facts,
            context=request.context,
        )
