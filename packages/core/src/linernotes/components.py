"""Component contracts: what a retriever, ranker, generator, safety filter or dataset is.

Components are classes. Their constructor takes plain, serialisable keyword
parameters (they come from config); heavy work happens once in ``fit``.
Every batch method takes a list (one entry per request) and returns a list
of the same length; retrievers and rankers may return a
:class:`~linernotes.candidates.CandidateBatch`, a sequence of such lists held as
columns. :mod:`linernotes.testing` has contract tests for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from .types import Candidate, Draft, FactPack, Request, Verdict

if TYPE_CHECKING:
    from .candidates import CandidateBatch  # noqa: F401  (named in docstrings)
    from .catalog import Catalog


@runtime_checkable
class Retriever(Protocol):
    """Proposes candidates for each request, each tagged with the retriever's name."""

    name: ClassVar[str]

    def fit(self, catalog: Catalog) -> None: ...

    def retrieve(self, requests: Sequence[Request], n: int) -> Sequence[list[Candidate]]:
        """One candidate list per request: a list, or a :class:`CandidateBatch`."""
        ...


@runtime_checkable
class Ranker(Protocol):
    """Scores and orders each request's candidates, best first."""

    name: ClassVar[str]

    def fit(self, catalog: Catalog) -> None: ...

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> Sequence[list[Candidate]]:
        """Every request's candidates, best first: a list, or a :class:`CandidateBatch`."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Writes ``n`` drafts per fact pack, citing facts as ``[n]``.

    ``fit`` runs in a background thread, beside the other components' fits.
    """

    name: ClassVar[str]

    def fit(self, catalog: Catalog) -> None: ...

    def generate(self, packs: Sequence[FactPack], n: int) -> list[list[Draft]]: ...


@runtime_checkable
class SafetyFilter(Protocol):
    """Judges each draft against its fact pack: pass, redact or block."""

    name: ClassVar[str]

    def fit(self, catalog: Catalog) -> None: ...

    def check(self, drafts: Sequence[Draft], packs: Sequence[FactPack]) -> list[Verdict]: ...


@runtime_checkable
class Dataset(Protocol):
    """Raw sources and the adapter that turns them into a catalog bundle.

    ``version`` is the adapter's version: it is part of the bundle's cache key,
    with the contents of every source file.
    """

    name: ClassVar[str]
    version: ClassVar[str]

    def fetch(self, progress: bool = True) -> dict[str, Path]:
        """Locate (in the mirror) or download (once, cached) every raw source: name -> folder."""
        ...

    def build(self, sources: dict[str, Path], out_dir: Path) -> None:
        """Write the bundle's tables into ``out_dir`` (see :mod:`linernotes.catalog`)."""
        ...


KINDS: dict[str, type] = {
    "dataset": Dataset,
    "retriever": Retriever,
    "ranker": Ranker,
    "generator": Generator,
    "safety_filter": SafetyFilter,
}
"""Component kinds, keyed as the registry names them."""
