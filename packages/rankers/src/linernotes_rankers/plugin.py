"""Entry point of linernotes-rankers: registers its rankers and re-rankers."""

from linernotes import hookimpl


@hookimpl
def register_rankers(register):
    from .blend import LearnedBlend
    from .ease import EASE
    from .ials import IALS
    from .itemknn import ItemKNN
    from .popcolisten import PopularityCoListening
    from .popularity import Popularity
    from .rerank import MMR, Blocklist
    from .rp3beta import RP3beta

    rankers = (PopularityCoListening, Popularity, ItemKNN, EASE, RP3beta, IALS, LearnedBlend)
    for ranker in (*rankers, MMR, Blocklist):
        register(ranker)
