"""An example linernotes plugin: the ``max_words`` safety filter.

Use it by adding it to the ``safety`` group on the command line::

    linernotes recommend -l 2 '+safety.max_words={component: max_words, params: {limit: 60}}'
"""

from collections.abc import Sequence
from typing import ClassVar

from linernotes import Draft, FactPack, Verdict, hookimpl


class MaxWords:
    """Blocks a draft longer than ``limit`` words."""

    name: ClassVar[str] = "max_words"

    def __init__(self, limit: int = 120):
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit

    def fit(self, catalog) -> None:
        """Nothing to learn from the catalog."""

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]:
        verdicts = []
        for draft in drafts:
            words = len(draft.text.split())
            if words > self.limit:
                verdicts.append(
                    Verdict(self.name, "block", [f"{words} words, over the limit of {self.limit}"])
                )
            else:
                verdicts.append(Verdict(self.name, "pass"))
        return verdicts


@hookimpl
def register_safety_filters(register):
    register(MaxWords)
