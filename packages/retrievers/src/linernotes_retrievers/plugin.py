"""Entry point of linernotes-retrievers: registers its retrievers."""

from linernotes import hookimpl


@hookimpl
def register_retrievers(register):
    from .colisten import CoListening
    from .context import ContextRetriever
    from .embedding import EmbeddingRetriever
    from .popular import Popular
    from .social import Social
    from .tags import TagRetriever

    for cls in (CoListening, Popular, TagRetriever, EmbeddingRetriever, Social, ContextRetriever):
        register(cls)
