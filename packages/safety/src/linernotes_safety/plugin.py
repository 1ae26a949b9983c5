"""Entry point of linernotes-safety: registers its safety filters."""

from linernotes import hookimpl


@hookimpl
def register_safety_filters(register):
    from .grounding import Grounding
    from .injection import Injection
    from .pii import PersonalData
    from .toxicity import Toxicity
    from .unicode import UnicodeTricks

    for cls in (Grounding, Toxicity, PersonalData, Injection, UnicodeTricks):
        register(cls)
